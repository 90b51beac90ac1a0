//! Simulated hosts of an emulated lab, each a [`crate::emu::Node`] with one port, on smoltcp's
//! TCP: [`SimServer`] (a real server speaking `tapvs server`'s HTTP/1) and [`SimClient`] (the
//! load generator, recording outcomes as `tapvs client` does). Sans-IO: no clock, no thread,
//! randomness only from the seed. Must not import the runner, the scenario or tokio.
//!
//! Layout: `stack` is the interface, device and address filter every host shares; `serve` is
//! one server connection; `server` and `client` are the nodes, `load` the client's setup; `exchange` is one client
//! connection's request, and `response` reading its answer; `request_memo` and `head_memo`
//! keep the last request a server's slot answered and the last response head a worker
//! parsed, so a keep-alive connection's repeated heads are not parsed again.

mod acks;
mod bare_frame;
mod buffers;
mod client;
mod conns;
mod cookie_frames;
mod cookies;
mod csum;
mod datagram;
mod deadlines;
mod device;
mod exchange;
mod filter;
mod head_memo;
mod idle;
mod load;
mod neigh;
mod parked;
mod probe;
mod request_memo;
mod response;
mod serve;
mod serve_udp;
mod server;
mod stack;
mod syncookie;

pub use buffers::TcpBuffers;
pub use client::SimClient;
pub use load::{ClientConfig, Pacing, Sources};
pub use probe::{ProbeConfig, SimProbe};
pub use serve::ServerStats;
pub use server::{ServerConfig, ServerState, SimServer};
pub use stack::{Counters, MAX_FRAME};

#[cfg(test)]
mod tests;
