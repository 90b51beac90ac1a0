//! The neighbour cache's plain types: its sysctls, its states, its inputs and outputs, and its
//! drop counters ([`super::neigh`] holds the rules).

use crate::wire::EthernetAddress;
use smoltcp::time::Duration;
use std::net::Ipv4Addr;

/// The per-interface neighbour sysctls (`net.ipv4.neigh.*`), Linux's defaults by `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeighParams {
    pub base_reachable_time: Duration,
    pub retrans_time: Duration,
    pub delay_first_probe_time: Duration,
    pub locktime: Duration,
    pub mcast_solicit: u32,
    pub ucast_solicit: u32,
    /// Bytes queued per unresolved neighbour (`unres_qlen_bytes`, each frame charged with the
    /// kernel's buffer overhead: about 101 full-size frames or 330 SYNs; the classic
    /// `unres_qlen` of 3 frames is long gone).
    pub unres_qlen_bytes: usize,
}

impl Default for NeighParams {
    fn default() -> Self {
        NeighParams {
            base_reachable_time: Duration::from_secs(30),
            retrans_time: Duration::from_secs(1),
            delay_first_probe_time: Duration::from_secs(5),
            locktime: Duration::from_secs(1),
            mcast_solicit: 3,
            ucast_solicit: 3,
            unres_qlen_bytes: 212_992,
        }
    }
}

/// Linux's NUD states (`NONE`: created, not yet used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    None,
    Incomplete,
    Reachable,
    Stale,
    Delay,
    Probe,
    Failed,
}

impl State {
    /// `NUD_VALID`: the MAC may be used.
    pub(super) fn valid(self) -> bool {
        matches!(
            self,
            State::Reachable | State::Stale | State::Delay | State::Probe
        )
    }
}

/// What to do with a frame for a next hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolve {
    /// Send it to this MAC now.
    Mac(EthernetAddress),
    /// Queue it on this entry ([`Neighbours::enqueue`]).
    Queue(usize),
    /// The table is full of unresolved entries: drop it (counted).
    Full,
}

/// An ARP request to send: out of `port`, for `ip`, to `to` (`None`: broadcast).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Solicit {
    pub port: usize,
    pub ip: Ipv4Addr,
    pub to: Option<EthernetAddress>,
}

/// An ARP message as the cache sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpIn {
    pub reply: bool,
    pub sha: EthernetAddress,
    pub sip: Ipv4Addr,
    pub tha: EthernetAddress,
    pub tip: Ipv4Addr,
    /// Sent to our MAC (Linux's `PACKET_HOST`), not broadcast.
    pub to_us: bool,
    /// `tip` is one of our addresses.
    pub for_us: bool,
}

/// Frames and entries the cache dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NeighStats {
    /// Queued frames pushed out by newer ones.
    pub unres_discards: u64,
    /// Queued frames dropped when resolution failed.
    pub failed_drops: u64,
    /// Frames dropped: no free entry.
    pub table_full: u64,
    /// Requests not sent: too many pending.
    pub solicit_drops: u64,
}
