//! The settings of a [`crate::node::Director`]: the data plane's, failover, sync and the host
//! stack's, and the seed of every random choice. Plain typed data; `crate::config` reads and
//! checks the director's file into it.

use crate::dataplane::settings::{DataplaneSettings, InterfaceConfig, Limits, ServiceConfig};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// Everything a director node is built from (the director's configuration file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSettings {
    /// The outside interface: the LAN with the router and the VIPs.
    pub interface: InterfaceConfig,
    /// The inside interface of a two-armed NAT director: the real servers' network.
    #[serde(default)]
    pub inside: Option<InterfaceConfig>,
    #[serde(rename = "service")]
    pub services: Vec<ServiceConfig>,
    #[serde(default)]
    pub limits: Limits,
    /// SYN-flood defence (IPVS's `drop_entry`, `drop_packet`, `secure_tcp`).
    #[serde(default)]
    pub defense: crate::dataplane::defense::DefenseConfig,
    /// Gratuitous ARP on becoming active.
    #[serde(default)]
    pub garp: crate::dataplane::garp::GarpConfig,
    /// Active/passive failover with VRRPv3; without it the director is always active.
    #[serde(default)]
    pub vrrp: Option<VrrpSection>,
    /// Active/passive failover driven from outside instead of VRRP (`mode = "external"`:
    /// Heartbeat's resource agent through the control socket); exclusive with `vrrp`.
    #[serde(default)]
    pub failover: Option<FailoverSection>,
    /// Active/passive failover with heartbeat 3's protocol instead of VRRP.
    #[serde(default)]
    pub heartbeat: Option<HeartbeatSection>,
    /// The director's own host stack (its address, not the VIPs).
    #[serde(default)]
    pub host: HostSection,
    /// Connection sync with the other director (IPVS sync v1 + sequence numbers, bulk
    /// transfer, refresh); needs `vrrp` or `failover` (the role follows it).
    #[serde(default)]
    pub sync: Option<SyncSection>,
    /// The seed of every random choice the node makes (flow hash, SYN-flood defence, host
    /// stack ports); none: the director draws one and prints it.
    #[serde(default)]
    pub seed: Option<u64>,
}

/// Connection-table sync.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSection {
    /// Clusters on one LAN with different ids ignore each other (IPVS `syncid`).
    #[serde(default = "default_syncid")]
    pub syncid: u8,
    /// Every synced entry is sent again at least this often (seconds; 0 = never, as IPVS).
    #[serde(default = "default_refresh_s")]
    pub refresh_s: u64,
}

fn default_syncid() -> u8 {
    1
}
fn default_refresh_s() -> u64 {
    30
}

/// Services of the director's own host stack on its own address(es).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HostSection {
    /// TCP and UDP port that answers with a one-line status (0 = no status service).
    pub status_port: u16,
}

/// The status port unless configured otherwise.
pub const DEFAULT_STATUS_PORT: u16 = 7070;

impl Default for HostSection {
    fn default() -> Self {
        HostSection {
            status_port: DEFAULT_STATUS_PORT,
        }
    }
}

/// Failover without VRRP: the role is set from outside ([`crate::node::Director::set_role`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSection {
    pub mode: FailoverMode,
    /// The other directors' addresses: sync datagrams are taken only from them (empty: from
    /// anyone).
    #[serde(default)]
    pub peers: Vec<Ipv4Addr>,
}

/// Who decides a director's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverMode {
    /// A program outside the node (Heartbeat's resource agent): `role master|backup` on the
    /// control socket. The director starts passive.
    External,
}

/// One VRRP instance (keepalived's `vrrp_instance`) for all the director's VIPs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VrrpSection {
    /// Virtual router id, 1..=255 (the same on both directors).
    pub vrid: u8,
    /// 1..=254 (255 = address owner); the higher wins.
    pub priority: u8,
    /// Advertisement interval in milliseconds (a whole number of centiseconds).
    #[serde(default = "default_advert_ms")]
    pub advert_interval_ms: u64,
    /// A higher-priority backup takes over from a lower-priority master.
    #[serde(default = "default_true")]
    pub preempt: bool,
    /// Wait this long before preempting.
    #[serde(default)]
    pub preempt_delay_ms: u64,
    /// The other directors' addresses (keepalived's `unicast_peer` with `check_unicast_src`):
    /// adverts for the VRID from any other source are dropped and counted. Empty = any source.
    #[serde(default)]
    pub peers: Vec<Ipv4Addr>,
    /// Send adverts by unicast to each peer instead of to 224.0.0.18 (needs `peers`).
    #[serde(default)]
    pub unicast: bool,
    /// Least time between two gratuitous-ARP re-announcements asked by lower-priority adverts.
    #[serde(default = "default_lower_prio_announce_ms")]
    pub lower_prio_announce_ms: u64,
}

fn default_lower_prio_announce_ms() -> u64 {
    1000
}

fn default_advert_ms() -> u64 {
    1000
}
fn default_true() -> bool {
    true
}

impl NodeSettings {
    /// The other directors whose sync datagrams are taken (VRRP's, heartbeat's peer, or the
    /// external failover's).
    pub fn peers(&self) -> &[Ipv4Addr] {
        match (&self.vrrp, &self.heartbeat, &self.failover) {
            (Some(v), ..) => &v.peers,
            (None, Some(h), _) => std::slice::from_ref(&h.peer),
            (None, None, Some(f)) => &f.peers,
            (None, None, None) => &[],
        }
    }

    /// The data plane's part of the settings.
    pub fn dataplane(&self) -> DataplaneSettings<'_> {
        DataplaneSettings {
            interface: &self.interface,
            inside: self.inside.as_ref(),
            services: &self.services,
            limits: &self.limits,
            defense: self.defense,
            garp: self.garp,
            unicast_peers: match (&self.vrrp, &self.heartbeat) {
                (Some(v), _) if v.unicast => &v.peers,
                (_, Some(h)) => std::slice::from_ref(&h.peer),
                _ => &[],
            },
        }
    }
}

/// Heartbeat 3's protocol (ha.cf, authkeys and haresources of a two-node cluster whose one
/// resource group is the director's VIPs), spoken with one peer by unicast (`ucast`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatSection {
    /// Our node name (ha.cf `node`; lowercase, as heartbeat compares them).
    pub node: String,
    /// The peer's node name.
    pub peer_node: String,
    /// The peer's address (ha.cf `ucast`).
    pub peer: Ipv4Addr,
    /// The node haresources gives the VIPs to when both are up: `node` or `peer_node`.
    pub primary: String,
    /// UDP port (ha.cf `udpport`). The timers default to heartbeat's own.
    #[serde(default = "default_hb_port")]
    pub port: u16,
    #[serde(default = "default_keepalive_ms")]
    pub keepalive_ms: u64,
    #[serde(default = "default_deadtime_ms")]
    pub deadtime_ms: u64,
    /// A late-heartbeat warning after this long (below deadtime).
    #[serde(default = "default_warntime_ms")]
    pub warntime_ms: u64,
    /// Deadtime at start, before the peer was ever heard.
    #[serde(default = "default_initdead_ms")]
    pub initdead_ms: u64,
    /// The primary takes the VIPs back when it returns.
    #[serde(default = "default_true")]
    pub auto_failback: bool,
    /// authkeys: `auth <auth_index>` / `<auth_index> sha1 <auth_key>`.
    #[serde(default = "default_auth_index")]
    pub auth_index: u8,
    pub auth_key: String,
    /// Unix seconds at start: the heartbeat generation and the base of message times. None:
    /// the director process sets it from its clock (it must grow from one start to the next).
    #[serde(default)]
    pub clock_s: Option<u64>,
}

fn default_hb_port() -> u16 {
    crate::control::heartbeat::wire::PORT
}
fn default_keepalive_ms() -> u64 {
    2000
}
fn default_deadtime_ms() -> u64 {
    30_000
}
fn default_warntime_ms() -> u64 {
    10_000
}
fn default_initdead_ms() -> u64 {
    120_000
}
fn default_auth_index() -> u8 {
    1
}
