//! `[failover]`: two directors sharing the VIP (VRRP or Heartbeat) and their sync.

use super::heartbeat;
use super::serde_glue::{duration_field, duration_list, duration_option};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Active/passive directors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// VRRP advertisement interval (a whole number of centiseconds).
    #[serde(default = "default_advert", with = "duration_field")]
    pub advert_interval: Duration,
    /// Priority of d1, d2 (d1 starts as master when it has the higher one).
    #[serde(default = "default_priorities")]
    pub priorities: [u8; 2],
    #[serde(default = "default_true")]
    pub preempt: bool,
    #[serde(default = "default_vrid")]
    pub vrid: u8,
    /// Run the scenario once per advertisement interval listed here (`advert_interval` is then
    /// ignored) and chart takeover and outage against Master_Down_Interval.
    #[serde(default, with = "duration_list")]
    pub sweep_advert_intervals: Vec<Duration>,
    /// What d2 is: another tapvs director, or the real keepalived (VRRP only) in its own
    /// namespace on the LAN, to show the two interoperate.
    #[serde(default)]
    pub peer: Peer,
    /// Connection-table sync from the master to the backup (IPVS sync v1 on 224.0.0.81:8848,
    /// plus sequence numbers, bulk transfer and refresh).
    #[serde(default)]
    pub sync: bool,
    /// With `sync`: every synced entry is sent again at least this often.
    #[serde(default = "default_sync_refresh", with = "duration_field")]
    pub sync_refresh: Duration,
    /// Each director accepts adverts only from the other one (keepalived's `unicast_peer`);
    /// `false`: from any host on the LAN (RFC 5798 alone).
    #[serde(default = "default_true")]
    pub peer_filter: bool,
    /// Adverts go by unicast to the other director instead of to 224.0.0.18.
    #[serde(default)]
    pub unicast: bool,
    /// Who moves the VIP: `vrrp` (tapvs's own), or `heartbeat` (the real Heartbeat beside each
    /// tapvs director, driving it through its control socket; see `heartbeat.rs`). The keys
    /// below are Heartbeat's and need it.
    #[serde(default)]
    pub manager: heartbeat::Manager,
    /// Heartbeat's keepalive interval (ha.cf's sample: 2s).
    #[serde(default, with = "duration_option")]
    pub keepalive: Option<Duration>,
    /// Silence after which Heartbeat declares the other node dead (ha.cf's sample: 30s).
    #[serde(default, with = "duration_option")]
    pub deadtime: Option<Duration>,
    /// A keepalive this late is warned of (default: halfway from keepalive to deadtime).
    #[serde(default, with = "duration_option")]
    pub warntime: Option<Duration>,
    /// The deadtime at start-up (default: twice the deadtime).
    #[serde(default, with = "duration_option")]
    pub initdead: Option<Duration>,
    /// The preferred node (d1) takes the VIP back when it returns (default: true).
    #[serde(default)]
    pub auto_failback: Option<bool>,
    /// `ucast` (to the other node, the default) or `bcast` on the LAN.
    #[serde(default)]
    pub media: Option<heartbeat::Media>,
    /// Heartbeat's own `ha.cf`, instead of the keys above (relative to this file).
    #[serde(default)]
    pub ha_cf: Option<std::path::PathBuf>,
    /// Heartbeat's own `haresources` (default: `d1 <VIP>`; relative to this file).
    #[serde(default)]
    pub haresources: Option<std::path::PathBuf>,
    /// Run the scenario once per deadtime listed here and chart the takeover against it.
    #[serde(default, with = "duration_list")]
    pub sweep_deadtimes: Vec<Duration>,
    /// Heartbeat's settings, read and checked from the keys or files above.
    #[serde(skip)]
    pub heartbeat: Option<heartbeat::Heartbeat>,
    /// What the two tapvs directors speak themselves: VRRPv3 (keepalived's, the default) or
    /// heartbeat 3's protocol (UDP 694, sha1), with the Heartbeat keys above.
    #[serde(default)]
    pub protocol: FailoverProtocol,
    /// `protocol = "heartbeat"`: the authkeys secret (`1 sha1 <auth_key>`; default `tapvs-lab`).
    #[serde(default)]
    pub auth_key: Option<String>,
}

/// The failover protocol of `[failover]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverProtocol {
    #[default]
    Vrrp,
    Heartbeat,
}

fn default_sync_refresh() -> Duration {
    Duration::from_secs(30)
}

/// Director d2's implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    #[default]
    Tapvs,
    Keepalived,
}

fn default_advert() -> Duration {
    Duration::from_secs(1)
}
fn default_priorities() -> [u8; 2] {
    [150, 100]
}
fn default_true() -> bool {
    true
}
fn default_vrid() -> u8 {
    51
}
