//! The lab: network namespaces, the LAN bridge, veth pairs and the directors' TAP devices,
//! built by the readable shell in `netns/` and removed on every way out (drop, Ctrl-C, panic).
//!
//! Every object a lab creates lives inside a namespace named `<prefix>-<host>`, where the prefix
//! is `tv` + 4 hex digits unique to the run; deleting the namespaces removes everything.

use std::net::Ipv4Addr;

/// What to build. Addresses follow the plan in `netns/README.md` (all in 198.18.0.0/15).
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    /// Real servers: names (`rs1`...) and LAN addresses.
    pub real_servers: Vec<RealServerHost>,
    /// Directors (`d1`, `d2`): each gets a TAP device on the LAN bridge.
    pub directors: Vec<String>,
    /// Virtual IPs the real servers hold on `lo` (direct routing).
    pub vips: Vec<Ipv4Addr>,
    /// `arp_ignore=1`, `arp_announce=2` on the real servers (the normal DR set-up).
    pub arp_suppression: bool,
}

/// One real-server namespace.
#[derive(Debug, Clone, PartialEq)]
pub struct RealServerHost {
    pub name: String,
    pub address: Ipv4Addr,
}
