//! Hosts as the fabric drives them: [`crate::node::Director`] behind the [`Node`] trait, and
//! a boxed node (labs of mixed hosts, `Sim<Box<dyn Node>>`). The director's port 0 is its
//! outside interface (the LAN), port 1 its inside one (a two-armed NAT director's real-server
//! network). Frames on the fabric are whole frames with finished checksums, so no virtio-net
//! offload header goes with them.

use super::Node;
use crate::dataplane::Iface;
use crate::io::vnet::VnetHeader;
use crate::node::Director;
use smoltcp::time::Instant;

/// The director's interface behind a fabric port: only 0 and 1 exist.
fn iface(port: usize) -> Option<Iface> {
    match port {
        0 => Some(Iface::OUTSIDE),
        1 => Some(Iface::INSIDE),
        _ => None,
    }
}

impl Node for Director {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        // A frame on a port the director has not got goes nowhere (the fabric only wires
        // ports 0 and 1 of a director that has them).
        let out = Director::handle_frame(self, now, iface(port)?, frame, &VnetHeader::NONE)?;
        Some(usize::from(out.0))
    }

    fn handle_timeout(&mut self, now: Instant) {
        Director::handle_timeout(self, now)
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (out, len) = Director::poll_transmit(self, now, buf)?;
        Some((usize::from(out.0), len))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        Director::poll_timeout(self)
    }
}

/// A boxed node is a node (labs of mixed hosts: `Sim<Box<dyn Node>>`).
impl<T: Node + ?Sized> Node for Box<T> {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        (**self).handle_frame(now, port, frame)
    }
    fn handle_timeout(&mut self, now: Instant) {
        (**self).handle_timeout(now)
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        (**self).poll_transmit(now, buf)
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        (**self).poll_timeout()
    }
}
