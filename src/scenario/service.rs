//! `[service]`, `[[real_server]]` and `[health]`: what is balanced, over which servers, and
//! how they are checked.

use super::serde_glue::duration_field;
use crate::config::Protocol;
use crate::sched::SchedulerKind;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::time::Duration;

/// The virtual service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default = "default_vip")]
    pub vip: Ipv4Addr,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    pub scheduler: SchedulerKind,
    /// Persistence timeout (`ipvsadm -p`); `0` = none.
    #[serde(default, with = "duration_field")]
    pub persistence: Duration,
    #[serde(default = "default_netmask")]
    pub persistence_netmask: Ipv4Addr,
    /// Accept mid-flow TCP without an entry (IPVS sloppy_tcp).
    #[serde(default)]
    pub sloppy: bool,
}

/// One real server; its address is 198.18.0.(10 + position).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServerSpec {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// The port it listens on; NAT may map the service port to another (VIP:80 → RIP:8080).
    /// Defaults to the service port.
    #[serde(default)]
    pub port: Option<u16>,
    /// A command to run instead of `tapvs server` (it must listen on the service port and
    /// should name itself in an `X-Server` header).
    #[serde(default)]
    pub command: Vec<String>,
    /// The sorry server: not in the service, it takes new connections while no real server
    /// passes its checks. Must be named `sorry`; needs `[health]`.
    #[serde(default)]
    pub sorry: bool,
    /// This server's own check timing and hysteresis (`interval_ms`, `timeout_ms`, `rise`,
    /// `fall`, `initial`), over `[health]`'s.
    #[serde(default)]
    pub health: Option<crate::health::config::HealthOverride>,
}

/// How the directors check the real servers (`[health]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// `tcp` (connect), `http` (GET, status range, body text) or `udp` (request/answer).
    pub check: crate::health::config::CheckKind,
    #[serde(default = "default_check_interval", with = "duration_field")]
    pub interval: Duration,
    #[serde(default = "default_check_timeout", with = "duration_field")]
    pub timeout: Duration,
    #[serde(default = "crate::health::config::default_rise")]
    pub rise: u32,
    #[serde(default = "crate::health::config::default_fall")]
    pub fall: u32,
    #[serde(default)]
    pub initial: crate::health::config::InitialState,
    /// `quiescent` (weight 0) or `remove` (weight 0 and its connections expired).
    #[serde(default)]
    pub on_failure: crate::health::config::OnFailure,
    #[serde(default = "crate::health::config::default_path")]
    pub path: String,
    #[serde(default = "crate::health::config::default_status")]
    pub status: [u16; 2],
    /// HTTP: text the body must contain; UDP: text the answer must contain.
    #[serde(default)]
    pub expect: Option<String>,
    /// Who checks: the directors themselves (`tapvs`), or the real ldirectord beside each
    /// director, changing its table through `tapvs ipvsadm` (`ldirectord`).
    #[serde(default)]
    pub checker: Checker,
    /// Runs the scenario once per checker (named `<name>-<checker>`), and charts them side by
    /// side.
    #[serde(default)]
    pub compare_checkers: Vec<Checker>,
}

/// Who runs a scenario's health checks (`[health] checker`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checker {
    /// The tapvs directors' own checks.
    #[default]
    Tapvs,
    /// The real ldirectord (Debian's 4.12), one beside each director.
    Ldirectord,
}

impl Checker {
    pub fn name(self) -> &'static str {
        match self {
            Checker::Tapvs => "tapvs",
            Checker::Ldirectord => "ldirectord",
        }
    }
}

/// The director's defaults, as durations.
fn default_check_interval() -> Duration {
    Duration::from_millis(crate::health::config::default_interval_ms())
}
fn default_check_timeout() -> Duration {
    Duration::from_millis(crate::health::config::default_timeout_ms())
}

impl HealthSpec {
    /// The directors' `[service.health]` section.
    pub fn to_config(&self) -> crate::health::config::HealthConfig {
        crate::health::config::HealthConfig {
            check: self.check,
            interval_ms: self.interval.as_millis() as u64,
            timeout_ms: self.timeout.as_millis() as u64,
            rise: self.rise,
            fall: self.fall,
            initial: self.initial,
            on_failure: self.on_failure,
            path: self.path.clone(),
            status: self.status,
            expect: self.expect.clone(),
            request: crate::health::config::default_request(),
        }
    }
}

fn default_vip() -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 100)
}
fn default_port() -> u16 {
    80
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
