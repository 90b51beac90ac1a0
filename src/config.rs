//! The director's configuration file (`tapvs director --config FILE`): its interface, its
//! virtual services and their real servers. Parsed and checked here; pure data otherwise.

use crate::sched::SchedulerKind;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// A whole director configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorConfig {
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
    /// File the director appends its failover transitions to (JSON lines, wall-clock ms).
    #[serde(default)]
    pub state_log: Option<PathBuf>,
    /// Unix socket for `stats` and weight changes; none if absent.
    #[serde(default)]
    pub control_socket: Option<PathBuf>,
    /// The director's own host stack (its address, not the VIPs).
    #[serde(default)]
    pub host: HostSection,
    /// Connection sync with the other director (IPVS sync v1 + sequence numbers, bulk
    /// transfer, refresh); needs `vrrp` (the role follows it).
    #[serde(default)]
    pub sync: Option<SyncSection>,
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

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    /// A field has a value that parses but makes no sense.
    #[error("{path}: field `{field}`: {reason}")]
    Invalid {
        path: PathBuf,
        field: String,
        reason: String,
    },
}

impl DirectorConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses and checks configuration text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: DirectorConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        config
            .check()
            .map_err(|(field, reason)| ConfigError::Invalid {
                path: path.into(),
                field,
                reason,
            })?;
        Ok(config)
    }

    /// The interface MAC as bytes (checked by [`DirectorConfig::parse`]).
    pub fn mac(&self) -> [u8; 6] {
        parse_mac(&self.interface.mac).expect("checked at parse")
    }

    fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, reason: &str| Err((field.to_string(), reason.to_string()));
        check_interface("interface", &self.interface)?;
        if self.sync.is_some() && self.vrrp.is_none() {
            return bad("sync", "connection sync follows the VRRP role: add [vrrp]");
        }
        if let Some(vrrp) = &self.vrrp {
            self.check_peers(vrrp)?;
        }
        if self.interface.gateway.is_none() {
            return bad(
                "interface.gateway",
                "the outside interface needs the router's address",
            );
        }
        if let Some(inside) = &self.inside {
            check_interface("inside", inside)?;
            if inside.name == self.interface.name {
                return bad("inside.name", "must differ from interface.name");
            }
        }
        if self.services.is_empty() {
            return bad("service", "at least one virtual service is needed");
        }
        if self.limits.max_connections == 0 {
            return bad("limits.max_connections", "must be at least 1");
        }
        if let Err((field, reason)) = self.defense.check() {
            return bad(field, &reason);
        }
        for (i, s) in self.services.iter().enumerate() {
            let field = format!("service[{i}]");
            if s.real_servers.is_empty() || s.real_servers.len() > u16::MAX as usize {
                return bad(
                    &format!("{field}.real_server"),
                    "a service needs 1 to 65535 real servers",
                );
            }
            for (j, rs) in s.real_servers.iter().enumerate() {
                let field = format!("{field}.real_server[{j}].address");
                let outside = self.interface.on_link(rs.address);
                let inside = self.inside.as_ref().is_some_and(|i| i.on_link(rs.address));
                if !outside && !inside {
                    return bad(&field, "not on a network of the director's interfaces");
                }
                if s.forwarding == Forwarding::Dr && !outside {
                    return bad(
                        &field,
                        "direct routing needs the real server on the outside network",
                    );
                }
            }
            self.check_health(&field, s)?;
            for (j, o) in self.services.iter().enumerate().take(i) {
                if o.vip == s.vip && o.port == s.port && o.protocol == s.protocol {
                    return bad(&field, &format!("same VIP:port as service[{j}]"));
                }
            }
        }
        Ok(())
    }
}

impl DirectorConfig {
    /// VRRP peers: on the outside network, not ourselves, listed once; unicast needs them.
    fn check_peers(&self, vrrp: &VrrpSection) -> Result<(), (String, String)> {
        let bad = |i: usize, reason: &str| Err((format!("vrrp.peers[{i}]"), reason.into()));
        for (i, peer) in vrrp.peers.iter().enumerate() {
            if *peer == self.interface.address {
                return bad(i, "is the director's own address");
            }
            if !self.interface.on_link(*peer) || peer.is_multicast() || peer.is_broadcast() {
                return bad(
                    i,
                    "not a host on the outside network (VRRP peers share the link)",
                );
            }
            if vrrp.peers[..i].contains(peer) {
                return bad(i, "listed twice");
            }
        }
        if vrrp.unicast && vrrp.peers.is_empty() {
            let reason = "unicast adverts need peers to send to: add vrrp.peers";
            return Err(("vrrp.unicast".into(), reason.into()));
        }
        Ok(())
    }

    /// The health section, the per-server overrides and the sorry server of service `field`.
    fn check_health(&self, field: &str, s: &ServiceConfig) -> Result<(), (String, String)> {
        let Some(health) = &s.health else {
            if s.sorry_server.is_some() {
                let reason = "a sorry server needs health checks: add [service.health]";
                return Err((format!("{field}.sorry_server"), reason.into()));
            }
            return Ok(());
        };
        health
            .check()
            .map_err(|(f, r)| (format!("{field}.health.{f}"), r))?;
        for (j, rs) in s.real_servers.iter().enumerate() {
            crate::health::config::check_params(&health.params(rs.health.as_ref()))
                .map_err(|(f, r)| (format!("{field}.real_server[{j}].health.{f}"), r))?;
        }
        if let Some(sorry) = &s.sorry_server {
            let outside = self.interface.on_link(sorry.address);
            let inside = self
                .inside
                .as_ref()
                .is_some_and(|i| i.on_link(sorry.address));
            let reachable = if s.forwarding == Forwarding::Dr {
                outside
            } else {
                outside || inside
            };
            if !reachable {
                let reason = "not on a network the service's real servers can be on";
                return Err((format!("{field}.sorry_server.address"), reason.into()));
            }
        }
        Ok(())
    }
}

fn check_interface(field: &str, i: &InterfaceConfig) -> Result<(), (String, String)> {
    let bad = |name: &str, reason: &str| Err((format!("{field}.{name}"), reason.to_string()));
    match parse_mac(&i.mac) {
        Some(mac) if mac[0] & 1 == 0 => {}
        Some(_) => return bad("mac", "a multicast MAC cannot be a host's address"),
        None => return bad("mac", "expected six hex bytes like 02:00:00:00:00:01"),
    }
    if !(1..=30).contains(&i.prefix_len) {
        return bad("prefix_len", "must be between 1 and 30");
    }
    if i.name.is_empty() || i.name.len() > 15 {
        return bad("name", "a Linux interface name has 1 to 15 characters");
    }
    Ok(())
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
