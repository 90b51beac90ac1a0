//! Scenario files: a lab (mode, service, real servers), loads, a timeline of events and the
//! expectations a run must meet. Parsed and checked completely before anything is built, with
//! errors that name the file, the field and the reason.

pub mod command;
pub use crate::duration;
pub mod bounds;
mod checker;
pub mod echo;
mod event;
mod expect;
mod failover;
mod fault;
pub mod heartbeat;
mod lab;
pub mod ldirectord_cf;
pub mod link;
mod load;
pub mod over;
pub mod seeds;
mod serde_glue;
mod service;
mod validate;
mod variants;

pub use bounds::client_base;
pub use event::{Action, EventSpec, SPOOFER};
pub use expect::Expectation;
pub use failover::{FailoverProtocol, FailoverSpec, Peer};
pub use lab::{LabSpec, Mode, PCAP_LIMIT_MB};
pub use link::{LinkImpair, LinkSpec};
pub use load::{ConnectionMode, LoadMode, LoadSpec};
pub use service::{Checker, HealthSpec, RealServerSpec, ServiceSpec};

use serde_glue::duration_field;

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// A whole scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name; results go to `results/<name>/`. Defaults to the file's stem.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Whether the lab tests run this scenario (in CI).
    #[serde(default)]
    pub ci: bool,
    /// Aggregation interval of the timeline.
    #[serde(default = "default_interval", with = "duration_field")]
    pub interval: Duration,
    #[serde(default)]
    pub lab: LabSpec,
    /// Two directors sharing the VIP with VRRP (keepalived's job); one director without it.
    #[serde(default)]
    pub failover: Option<FailoverSpec>,
    pub service: ServiceSpec,
    #[serde(rename = "real_server")]
    pub real_servers: Vec<RealServerSpec>,
    /// Health checks of the real servers by every director (ldirectord's job).
    #[serde(default)]
    pub health: Option<HealthSpec>,
    /// An ldirectord.cf (relative to the scenario) that gives `[service]`, `[health]` and the
    /// real servers' weights instead of this file.
    #[serde(default)]
    pub ldirectord_cf: Option<std::path::PathBuf>,
    /// That file's text, given as it is to the real ldirectord (`[health] checker =
    /// "ldirectord"`).
    #[serde(skip)]
    pub ldirectord_cf_text: Option<String>,
    /// The directors' SYN-flood defence (`[defense]` of their configuration; its defaults when
    /// absent).
    #[serde(default)]
    pub defense: Option<crate::dataplane::defense::DefenseConfig>,
    /// Impaired links (`[[link]]`): a `tapvs wire` each, in the named link.
    #[serde(rename = "link", default)]
    pub links: Vec<LinkSpec>,
    #[serde(rename = "load")]
    pub loads: Vec<LoadSpec>,
    #[serde(rename = "event", default)]
    pub events: Vec<EventSpec>,
    #[serde(rename = "expect", default)]
    pub expectations: Vec<Expectation>,
}

/// Why a scenario was refused.
pub type ScenarioError = crate::file_error::FileError;

impl Scenario {
    /// Reads, parses and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = crate::file_error::read_text(path)?;
        Scenario::parse(path, &text)
    }

    /// Parses and checks scenario text; `path` names it in errors and gives the default name.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let parse_error = |e: toml::de::Error| ScenarioError::Parse {
            path: path.into(),
            message: echo::shown_message(&e.to_string()),
        };
        // With `ldirectord_cf`, the file's service and checks go into the table first (errors
        // then name fields, not lines: the table has no spans); without it, the text is read
        // as it is, so that errors show the line.
        let mut from_cf = None;
        let mut scenario: Scenario = match toml::from_str::<toml::Table>(text) {
            Ok(mut table) if table.contains_key("ldirectord_cf") => {
                from_cf = ldirectord_cf::inject(path, &mut table)?;
                toml::Value::Table(table).try_into().map_err(parse_error)?
            }
            _ => toml::from_str(text).map_err(parse_error)?,
        };
        if let Some((cf_path, cf, text)) = from_cf {
            ldirectord_cf::apply_reals(&mut scenario, &cf_path, &cf)?;
            scenario.ldirectord_cf_text = Some(text);
        }
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario")
                .to_string();
        }
        let invalid = crate::file_error::invalid(path);
        seeds::resolve(&mut scenario.events);
        seeds::check_ranges(&scenario).map_err(invalid)?;
        scenario.expand_repeats().map_err(invalid)?;
        let vip = scenario.service.vip;
        if let Some(f) = &mut scenario.failover {
            f.heartbeat = f.resolve_heartbeat(path, vip)?;
        }
        scenario.check().map_err(invalid)?;
        if scenario.has_ranges() {
            scenario.at_latest().check().map_err(|(field, reason)| {
                invalid((field, format!("{reason} (with each range at its end)")))
            })?;
        }
        for variant in scenario
            .variants()
            .iter()
            .filter(|v| v.name != scenario.name)
        {
            variant
                .check()
                .map_err(|(field, reason)| ScenarioError::Invalid {
                    path: path.into(),
                    field,
                    reason: format!("{reason} (in the {} run)", variant.name),
                })?;
        }
        Ok(scenario)
    }
    /// Who checks the real servers (tapvs without `[health]`: nobody then).
    pub fn checker(&self) -> Checker {
        self.health.as_ref().map_or(Checker::Tapvs, |h| h.checker)
    }

    /// The address of real server `i` (from 0): 198.18.0.(11 + i) on the LAN, or
    /// 198.18.1.(11 + i) behind a two-armed NAT director.
    pub fn server_address(&self, i: usize) -> Ipv4Addr {
        let net = if self.lab.mode.two_armed(self.lab.nat_arms) {
            1
        } else {
            0
        };
        Ipv4Addr::new(198, 18, net, 11 + i as u8)
    }

    /// The port real server `i` listens on.
    pub fn server_port(&self, i: usize) -> u16 {
        self.real_servers[i].port.unwrap_or(self.service.port)
    }

    /// The directors of the lab: `d1`, and `d2` with failover.
    pub fn directors(&self) -> Vec<String> {
        let n = if self.failover.is_some() { 2 } else { 1 };
        (1..=n).map(|i| format!("d{i}")).collect()
    }

    /// Whether director `name` is keepalived rather than tapvs (`peer = "keepalived"`: d2).
    pub fn is_keepalived(&self, name: &str) -> bool {
        name == "d2"
            && self
                .failover
                .as_ref()
                .is_some_and(|f| f.peer == Peer::Keepalived)
    }

    /// The directors that are tapvs processes on TAPs.
    pub fn tapvs_directors(&self) -> Vec<String> {
        let mut all = self.directors();
        all.retain(|d| !self.is_keepalived(d));
        all
    }

    /// The foreign host of `spoof_vrrp` events, if the timeline has any.
    pub fn spoofer(&self) -> Option<(&'static str, Ipv4Addr)> {
        self.events
            .iter()
            .any(|e| e.action == Action::SpoofVrrp)
            .then_some(SPOOFER)
    }

    /// When the last load ends, from the load start.
    pub fn load_end(&self) -> Duration {
        self.loads
            .iter()
            .map(|l| l.start + l.duration)
            .max()
            .unwrap_or_default()
    }

    /// Expected share of new connections per server, from the configured weights.
    pub fn weight_shares(&self) -> Vec<f64> {
        let weight = |r: &RealServerSpec| if r.sorry { 0 } else { r.weight };
        let total: u32 = self.real_servers.iter().map(weight).sum();
        self.real_servers
            .iter()
            .map(|r| weight(r) as f64 / total.max(1) as f64)
            .collect()
    }
}

fn default_interval() -> Duration {
    Duration::from_millis(250)
}

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod repeat_tests;
#[cfg(test)]
mod seeds_tests;
