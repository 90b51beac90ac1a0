//! The data plane's own settings: its interfaces, its virtual services and their real servers,
//! its limits. Plain typed data (deserializable, so the director's file and the tests can give
//! it); `crate::config` reads and checks the file, the data plane only takes these.

use crate::sched::SchedulerKind;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The TAP device and the director's own address on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterfaceConfig {
    /// TAP device name (an existing persistent TAP, or one the director creates).
    pub name: String,
    /// The MAC address the director uses on the LAN, `02:..:..:..:..:..`.
    pub mac: String,
    /// The director's own address.
    pub address: Ipv4Addr,
    /// Prefix length of the network on this interface.
    pub prefix_len: u8,
    /// The router of the outside network (unused on the inside).
    #[serde(default)]
    pub gateway: Option<Ipv4Addr>,
    /// Addresses answered for on this interface only while active, like the VIPs: the
    /// floating gateway of NAT real servers.
    #[serde(default)]
    pub floating: Vec<Ipv4Addr>,
}

impl InterfaceConfig {
    /// Whether `addr` is on this interface's network.
    pub fn on_link(&self, addr: Ipv4Addr) -> bool {
        let mask = u32::MAX
            .checked_shl(32 - self.prefix_len as u32)
            .unwrap_or(0);
        u32::from(addr) & mask == u32::from(self.address) & mask
    }
}

/// IPVS forwarding methods (`ipvsadm -g` / `-m`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Forwarding {
    /// Direct routing: MAC rewrite only, replies bypass the director.
    #[default]
    Dr,
    /// Masquerading: destination address and port rewritten, replies rewritten back.
    Nat,
}

/// Transport protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The IP protocol number.
    pub fn number(self) -> u8 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
        }
    }
}

/// One virtual service (VIP:port) as `ipvsadm -A`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub vip: Ipv4Addr,
    pub port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    pub scheduler: SchedulerKind,
    /// How packets reach the real servers.
    #[serde(default)]
    pub forwarding: Forwarding,
    /// Persistence timeout in seconds (`ipvsadm -p`); 0 = no persistence.
    #[serde(default)]
    pub persistence_s: u32,
    /// Client netmask for persistence (`ipvsadm -M`).
    #[serde(default = "default_netmask")]
    pub persistence_netmask: Ipv4Addr,
    #[serde(rename = "real_server")]
    pub real_servers: Vec<RealServerConfig>,
    /// Health checks of the real servers; without them every server counts as up.
    #[serde(default)]
    pub health: Option<crate::health::config::HealthConfig>,
    /// Takes the new connections while no real server is up (needs `health`).
    #[serde(default)]
    pub sorry_server: Option<crate::health::config::SorryServer>,
}

/// One real server of a service, as `ipvsadm -a -g`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServerConfig {
    pub name: String,
    pub address: Ipv4Addr,
    pub port: u16,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// This server's own check timing and hysteresis, over the service's.
    #[serde(default)]
    pub health: Option<crate::health::config::HealthOverride>,
}

/// Sizes and switches of the data plane.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Connection-table capacity; memory is reserved up front so the packet path never grows it.
    pub max_connections: usize,
    /// Accept non-SYN TCP with no entry and schedule it (IPVS `sloppy_tcp`).
    pub sloppy: bool,
    /// Open the TAPs with virtio-net headers and offloads (large segments, checksums left to
    /// the kernel): several times the throughput of one MTU frame per syscall.
    pub offload: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1 << 20,
            sloppy: false,
            offload: false,
        }
    }
}

fn default_protocol() -> Protocol {
    Protocol::Tcp
}
fn default_netmask() -> Ipv4Addr {
    Ipv4Addr::BROADCAST
}
fn default_weight() -> u32 {
    1
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in mac.iter_mut() {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// What [`crate::dataplane::Dataplane::new`] is built from, borrowed from the node's settings.
#[derive(Debug, Clone, Copy)]
pub struct DataplaneSettings<'a> {
    pub interface: &'a InterfaceConfig,
    pub inside: Option<&'a InterfaceConfig>,
    pub services: &'a [ServiceConfig],
    pub limits: &'a Limits,
    pub defense: super::defense::DefenseConfig,
    pub garp: super::garp::GarpConfig,
    /// Peers that VRRP adverts go to by unicast: resolved like the real servers.
    pub unicast_peers: &'a [Ipv4Addr],
}
