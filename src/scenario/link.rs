//! `[[link]]`: an impaired link of the lab (loss, delay, jitter, rate, duplication,
//! reordering), played by a `tapvs wire` the lab puts into that link, and the checks of its
//! entries and of the `degrade_link` / `repair_link` events, before any namespace exists.

use super::echo::shown;
use super::{Action, Peer, Scenario};
use crate::io::impair::{Filter, Settings};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The clients' uplink (router ⇄ clients).
pub const CLIENTS: &str = "clients";
/// VRRP between the directors, impaired in the backup director's LAN port.
pub const HEARTBEAT: &str = "heartbeat";
/// Connection sync between the directors, impaired in the backup director's LAN port.
pub const SYNC: &str = "sync";

/// What is done to a link's frames, each direction (a scenario's units).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkImpair {
    /// Frames lost, percent.
    pub loss: f64,
    /// Added one-way delay, ms.
    pub delay_ms: f64,
    /// The delay varies by ± this, ms (frames keep their order unless `reorder` is given).
    pub jitter_ms: f64,
    /// Rate limit, e.g. "10mbit", "500kbit", "1gbit"; empty: none.
    pub rate: String,
    /// Frames sent twice, percent.
    pub duplicate: f64,
    /// Frames sent ahead of those held back, percent.
    pub reorder: f64,
}

/// One `[[link]]` entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// `d1`, `d2` (a director's LAN port), a real server's name, `clients`, `heartbeat` or
    /// `sync`.
    pub name: String,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub delay_ms: f64,
    #[serde(default)]
    pub jitter_ms: f64,
    #[serde(default)]
    pub rate: String,
    #[serde(default)]
    pub duplicate: f64,
    #[serde(default)]
    pub reorder: f64,
    /// Seed of the wire's random draws (default 1).
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

impl LinkSpec {
    /// The impairments of the entry.
    pub fn impair(&self) -> LinkImpair {
        LinkImpair {
            loss: self.loss,
            delay_ms: self.delay_ms,
            jitter_ms: self.jitter_ms,
            rate: self.rate.clone(),
            duplicate: self.duplicate,
            reorder: self.reorder,
        }
    }

    /// Which frames the wire impairs: VRRP for `heartbeat`, sync for `sync`, else all.
    pub fn filter(&self) -> Filter {
        match self.name.as_str() {
            HEARTBEAT => Filter::Vrrp,
            SYNC => Filter::Sync,
            _ => Filter::All,
        }
    }
}

/// Bits per second of a rate such as "10mbit", "500kbit", "1gbit" or "64000bit".
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, scale) = [("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1.0)]
        .into_iter()
        .find_map(|(unit, scale)| t.strip_suffix(unit).map(|d| (d, scale)))
        .ok_or_else(|| format!("`{}`: give a rate like 10mbit, 500kbit or 1gbit", shown(t)))?;
    let n: f64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("`{}`: `{}` is not a number", shown(t), shown(digits)))?;
    let bits = n * scale;
    if !(8_000.0..=100e9).contains(&bits) {
        return Err(format!("`{}`: must be 8kbit – 100gbit", shown(t)));
    }
    Ok(bits as u64)
}

impl LinkImpair {
    /// The wire's settings for `filter`, or why the values are refused (naming the field).
    pub fn settings(&self, filter: Filter) -> Result<Settings, (String, String)> {
        for (field, v) in [
            ("loss", self.loss),
            ("duplicate", self.duplicate),
            ("reorder", self.reorder),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Err((field.into(), format!("{v}: a percentage is 0 – 100")));
            }
        }
        for (field, v) in [("delay_ms", self.delay_ms), ("jitter_ms", self.jitter_ms)] {
            if !(0.0..=10_000.0).contains(&v) {
                return Err((field.into(), format!("{v}: must be 0 – 10000 ms")));
            }
        }
        let rate_bytes_per_s = if self.rate.is_empty() {
            0
        } else {
            parse_rate(&self.rate).map_err(|why| ("rate".to_owned(), why))? / 8
        };
        Ok(Settings {
            loss_pct: self.loss,
            delay_us: (self.delay_ms * 1000.0).round() as u64,
            jitter_us: (self.jitter_ms * 1000.0).round() as u64,
            duplicate_pct: self.duplicate,
            reorder_pct: self.reorder,
            rate_bytes_per_s,
            queue_bytes: 0,
            filter,
        })
    }
}

type Check = Result<(), (String, String)>;

impl Scenario {
    /// The `[[link]]` entry named `name`.
    pub fn link(&self, name: &str) -> Option<&LinkSpec> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The director whose LAN port carries the `heartbeat` and `sync` wires: the one with the
    /// lower priority (the backup).
    pub fn backup_director(&self) -> &'static str {
        match &self.failover {
            Some(f) if f.priorities[0] < f.priorities[1] => "d1",
            _ => "d2",
        }
    }

    /// The lab port a link's wire sits in: the director (`d1`, `d2`), the real server, or
    /// `cl` for the clients' uplink.
    pub fn link_port(&self, link: &str) -> String {
        match link {
            HEARTBEAT | SYNC => self.backup_director().to_owned(),
            CLIENTS => "cl".to_owned(),
            other => other.to_owned(),
        }
    }

    pub(super) fn check_links(&self) -> Check {
        let mut ports = HashSet::new();
        for (i, l) in self.links.iter().enumerate() {
            let f = |name: &str| format!("link[{i}].{name}");
            let two_tapvs = self
                .failover
                .as_ref()
                .is_some_and(|f| f.peer == Peer::Tapvs)
                && self.lab.mode.has_director();
            let known = match l.name.as_str() {
                CLIENTS => Ok(()),
                HEARTBEAT if !two_tapvs => Err("needs [failover] with two tapvs directors"),
                SYNC if !self.failover.as_ref().is_some_and(|f| f.sync) || !two_tapvs => {
                    Err("needs [failover] with sync = true and two tapvs directors")
                }
                HEARTBEAT | SYNC => Ok(()),
                d if self.directors().iter().any(|x| x == d) => {
                    if !self.lab.mode.has_director() || self.is_keepalived(d) {
                        Err("is not a tapvs director in this lab")
                    } else {
                        Ok(())
                    }
                }
                s if self.real_servers.iter().any(|r| r.name == s) => Ok(()),
                _ => Err("unknown"),
            };
            if let Err(why) = known {
                return Err((
                    f("name"),
                    format!(
                        "`{}` {why}; a link is d1, d2, a real server's name, {CLIENTS}, \
                         {HEARTBEAT} or {SYNC}",
                        shown(&l.name)
                    ),
                ));
            }
            if !self.lab.compare_modes.is_empty() {
                return Err((
                    f("name"),
                    "links cannot be combined with lab.compare_modes".into(),
                ));
            }
            let port = self.link_port(&l.name);
            if !ports.insert(port.clone()) {
                return Err((
                    f("name"),
                    format!(
                        "`{}`: port `{port}` already has a wire (heartbeat and sync both sit in \
                         the backup director's port: list one of them, or that director)",
                        l.name
                    ),
                ));
            }
            l.impair()
                .settings(l.filter())
                .map_err(|(field, why)| (f(&field), why))?;
        }
        Ok(())
    }

    /// A `degrade_link` or `repair_link` event: a listed link, new settings to degrade.
    pub(super) fn check_link_event(&self, i: usize) -> Check {
        let e = &self.events[i];
        let f = |name: &str| format!("event[{i}].{name}");
        let Some(link) = self.link(&e.link) else {
            return Err((
                f("link"),
                format!(
                    "`{}` is not listed in [[link]] ({})",
                    shown(&e.link),
                    self.links
                        .iter()
                        .map(|l| l.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !e.director.is_empty() || !e.server.is_empty() || e.weight.is_some() {
            return Err((f("action"), "takes only `link` (and `impair`)".into()));
        }
        match (e.action, &e.impair) {
            (Action::DegradeLink, None) => Err((
                f("impair"),
                "degrade_link needs the new settings, e.g. impair = { loss = 60 }".into(),
            )),
            (Action::DegradeLink, Some(imp)) => imp
                .settings(link.filter())
                .map(drop)
                .map_err(|(field, why)| (f(&format!("impair.{field}")), why)),
            (_, Some(_)) => Err((f("impair"), "only degrade_link takes settings".into())),
            _ => Ok(()),
        }
    }
}
