//! The emulator (issue #13): the same scenario files on an in-memory layer-2 fabric in virtual
//! time. Every host of an emulated lab (the tapvs directors, the router, the simulated clients
//! and real servers) is a sans-IO [`Node`] that the fabric drives: frames in and out on
//! numbered ports, and a deadline; time only moves when the event loop says so.

pub mod host;

use smoltcp::time::Instant;

/// One host of an emulated lab, as the fabric drives it (the shape of `node::Director`).
pub trait Node {
    /// A frame arrived on `port`. The node may rewrite it in place and return the port to send
    /// it out of as it now is (a forwarding director); everything else it answers comes out of
    /// [`Node::poll_transmit`].
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize>;
    /// Time passed: `now` is at or after the last [`Node::poll_timeout`] (or any time).
    fn handle_timeout(&mut self, now: Instant);
    /// The next frame the node sends: written into `buf`, with its port and length.
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)>;
    /// When the node next needs [`Node::handle_timeout`]; `None`: only when a frame comes.
    fn poll_timeout(&mut self) -> Option<Instant>;
}

pub mod arp;
pub mod fabric;
pub mod flight;
pub mod flooder;
pub mod link;
pub mod neigh;
pub mod neighq;
pub mod neightypes;
pub mod nodes;
pub mod pool;
pub mod router;
pub mod sim;
pub mod spoofer;
pub mod switch;
#[cfg(test)]
mod tests;
pub mod timers;
