//! How a [`super::SimClient`]'s load is set up: its addresses, its target and request, its
//! pacing, its bounds. Plain data, checked by the scenario layer that builds it.

use crate::client::Protocol;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// The source addresses of the connections, used round robin.
#[derive(Debug, Clone)]
pub enum Sources {
    /// `count` consecutive addresses from `first`.
    Range {
        first: Ipv4Address,
        count: u32,
    },
    List(Vec<Ipv4Address>),
}

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    /// A fixed arrival rate (requests per second), whatever the answers.
    Open { rate: f64 },
    /// Each worker: its next request after the previous one's end, plus `think` (success) or
    /// `backoff` (failure).
    Closed { think: Duration, backoff: Duration },
}

/// How a simulated client is set up.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The load's name in the report.
    pub load: String,
    pub mac: EthernetAddress,
    /// Its own address on its link (answers ARP for it), with the link's prefix.
    pub addr: Ipv4Cidr,
    pub gateway: Option<Ipv4Address>,
    pub sources: Sources,
    pub target: (Ipv4Address, u16),
    /// HTTP/1 over TCP, or `tapvs client --protocol udp`'s datagrams.
    pub protocol: Protocol,
    /// TCP: the path requested (e.g. `/bytes/100`).
    pub path: String,
    /// UDP: the size asked of each answer datagram (`--response-bytes`, 100 by default in
    /// `tapvs client`), at most `crate::server::datagram::MAX_DATAGRAM`.
    pub udp_response_bytes: u16,
    pub pacing: Pacing,
    /// Closed loop: workers. Open loop: most requests in flight.
    pub concurrency: usize,
    /// TCP: requests per connection before a new one (1: a new connection per request; 0:
    /// never). UDP ignores it, as `tapvs client` does.
    pub requests_per_conn: u64,
    /// Per request, from its intended start.
    pub timeout: Duration,
    pub max_requests: u64,
    pub start: Instant,
    pub duration: Duration,
    /// The report's interval.
    pub interval: Duration,
    pub seed: u64,
}
