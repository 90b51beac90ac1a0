//! `[failover] manager = "heartbeat"`: the real Heartbeat (classic haresources mode) moves the
//! VIP between the two tapvs directors. Its settings come from the scenario's `[failover]` keys
//! (`keepalive`, `deadtime`, `warntime`, `initdead`, `auto_failback`, `media`) or from a
//! Heartbeat `ha.cf` and `haresources` the scenario names (`ha_cf`, `haresources`, relative to
//! the scenario file). Only what tapvs can honour is read from those files; any other key is
//! refused with the file, the line and the key, before any namespace exists.

use super::FailoverSpec;
use crate::file_error::FileError;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Who moves the VIP between the two directors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// tapvs's own VRRPv3 (or keepalived as `peer`).
    #[default]
    Vrrp,
    /// The real Heartbeat, one per director, driving it through its control socket.
    Heartbeat,
}

/// How the two Heartbeat nodes reach each other on the LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Media {
    /// `ucast eth0 <the other node>`.
    #[default]
    Ucast,
    /// `bcast eth0`.
    Bcast,
}

/// Heartbeat's settings for a run, from the scenario or its files, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub keepalive: Duration,
    pub deadtime: Duration,
    /// `None`: halfway from keepalive to deadtime.
    pub warntime: Option<Duration>,
    /// `None`: twice the deadtime.
    pub initdead: Option<Duration>,
    pub auto_failback: bool,
    pub media: Media,
    pub udpport: u16,
    /// The node names of d1 and d2 (`node` lines in order; `d1`, `d2` by default).
    pub nodes: [String; 2],
    /// The node that holds the VIP when both are up (haresources' first word): 0 = d1.
    pub preferred: usize,
    /// The haresources group's `ldirectord::FILE` resource (`FILE`; `ldirectord.cf` for a bare
    /// `ldirectord`), when it has one.
    pub ldirectord: Option<String>,
}

/// ha.cf's sample values (Heartbeat's documentation).
const KEEPALIVE: Duration = Duration::from_secs(2);
const DEADTIME: Duration = Duration::from_secs(30);
const UDPPORT: u16 = 694;
/// Longest deadtime or initdead tapvs accepts.
const LONGEST: Duration = Duration::from_secs(600);

impl Heartbeat {
    pub fn warntime(&self) -> Duration {
        self.warntime
            .unwrap_or((self.keepalive + self.deadtime) / 2)
    }

    pub fn initdead(&self) -> Duration {
        self.initdead.unwrap_or(self.deadtime * 2)
    }

    /// The rules Heartbeat's timing must keep: (key, reason) of the first broken one.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        let ms = |d: Duration| d.as_millis();
        if !(10..=60_000).contains(&ms(self.keepalive))
            || !self.keepalive.subsec_nanos().is_multiple_of(1_000_000)
        {
            return Err(("keepalive", "must be whole milliseconds, 10ms – 60s".into()));
        }
        if self.deadtime < self.keepalive * 2 || self.deadtime > LONGEST {
            let reason = format!(
                "must span at least two keepalives ({}ms) and at most 600s: Heartbeat declares \
                 a node dead after deadtime without one",
                ms(self.keepalive) * 2
            );
            return Err(("deadtime", reason));
        }
        let warn = self.warntime();
        if warn <= self.keepalive || warn >= self.deadtime {
            let reason = "must lie between keepalive and deadtime (a late keepalive is warned of before the node is declared dead)";
            return Err(("warntime", reason.into()));
        }
        if self.initdead() < self.deadtime || self.initdead() > LONGEST {
            let reason =
                "must be at least deadtime (it is the deadtime at start-up) and at most 600s";
            return Err(("initdead", reason.into()));
        }
        if self.nodes[0] == self.nodes[1] {
            return Err(("node", "the two nodes need different names".into()));
        }
        Ok(())
    }
}

/// The part of [`FailoverSpec`] that sets Heartbeat up.
impl FailoverSpec {
    /// Heartbeat's settings when the real Heartbeat moves the VIP (`manager = "heartbeat"`).
    pub fn heartbeat_manager(&self) -> Option<&Heartbeat> {
        self.heartbeat
            .as_ref()
            .filter(|_| self.manager == Manager::Heartbeat)
    }

    /// Heartbeat's settings when the directors speak its protocol (`protocol = "heartbeat"`).
    pub fn heartbeat_protocol(&self) -> Option<&Heartbeat> {
        self.heartbeat
            .as_ref()
            .filter(|_| self.protocol == super::FailoverProtocol::Heartbeat)
    }

    /// Builds and checks Heartbeat's settings (`manager` or `protocol = "heartbeat"`; otherwise
    /// `None`),
    /// reading `ha_cf` and `haresources` relative to `scenario` (the scenario file).
    pub fn resolve_heartbeat(
        &self,
        scenario: &Path,
        vip: Ipv4Addr,
    ) -> Result<Option<Heartbeat>, FileError> {
        let invalid = |field: &str, reason: String| FileError::Invalid {
            path: scenario.into(),
            field: format!("failover.{field}"),
            reason,
        };
        let keys = [
            ("keepalive", self.keepalive.is_some()),
            ("deadtime", self.deadtime.is_some()),
            ("warntime", self.warntime.is_some()),
            ("initdead", self.initdead.is_some()),
            ("auto_failback", self.auto_failback.is_some()),
            ("media", self.media.is_some()),
            ("ha_cf", self.ha_cf.is_some()),
            ("haresources", self.haresources.is_some()),
            ("sweep_deadtimes", !self.sweep_deadtimes.is_empty()),
        ];
        let protocol = self.protocol == super::FailoverProtocol::Heartbeat;
        if self.manager == Manager::Heartbeat && protocol {
            return Err(invalid(
                "protocol",
                "manager = \"heartbeat\" runs the real Heartbeat beside each director; \
                 protocol = \"heartbeat\" has the directors speak it themselves: one of them"
                    .into(),
            ));
        }
        if self.auth_key.is_some() && !protocol {
            return Err(invalid(
                "auth_key",
                "the secret of protocol = \"heartbeat\"".into(),
            ));
        }
        if self.manager != Manager::Heartbeat && !protocol {
            return match keys.iter().find(|(_, given)| *given) {
                Some((key, _)) => Err(invalid(
                    key,
                    "a Heartbeat setting: needs manager = \"heartbeat\" or protocol = \
                     \"heartbeat\""
                        .into(),
                )),
                None => Ok(None),
            };
        }
        let mut hb = Heartbeat {
            keepalive: self.keepalive.unwrap_or(KEEPALIVE),
            // A sweep's own deadtimes stand for the default.
            deadtime: (self.deadtime)
                .or(self.sweep_deadtimes.first().copied())
                .unwrap_or(DEADTIME),
            warntime: self.warntime,
            initdead: self.initdead,
            auto_failback: self.auto_failback.unwrap_or(true),
            media: self.media.unwrap_or_default(),
            udpport: UDPPORT,
            nodes: ["d1".into(), "d2".into()],
            preferred: 0,
            ldirectord: None,
        };
        if let Some(file) = &self.ha_cf {
            if let Some((key, _)) = keys[..6].iter().find(|(_, given)| *given) {
                let reason = "given by ha_cf: set it in that file, not in both".into();
                return Err(invalid(key, reason));
            }
            let path = beside(scenario, file);
            let text = read(&path).map_err(|e| invalid("ha_cf", e))?;
            hb = ha_cf(&path, &text)?;
        } else {
            hb.check().map_err(|(key, reason)| invalid(key, reason))?;
        }
        if let Some(file) = &self.haresources {
            let path = beside(scenario, file);
            let text = read(&path).map_err(|e| invalid("haresources", e))?;
            (hb.preferred, hb.ldirectord) = haresources(&path, &text, &hb.nodes, vip)?;
        }
        for (i, &d) in self.sweep_deadtimes.iter().enumerate() {
            let mut run = hb.clone();
            run.deadtime = d;
            if let Err((key, reason)) = run.check() {
                let field = format!("sweep_deadtimes[{i}]");
                return Err(invalid(&field, format!("with it, {key} {reason}")));
            }
        }
        if self.sweep_deadtimes.len() > 8 {
            return Err(invalid("sweep_deadtimes", "at most 8 deadtimes".into()));
        }
        Ok(Some(hb))
    }
}

/// The text of a file the scenario names; why not, as the scenario's field's reason.
fn read(path: &Path) -> Result<String, String> {
    // Cut: a scenario may name a file by a huge path.
    crate::file_error::read_text(path).map_err(|e| super::echo::shown_message(&e.to_string()))
}

/// `file` as named in the scenario at `scenario`: relative to the scenario's folder.
fn beside(scenario: &Path, file: &Path) -> PathBuf {
    match scenario.parent() {
        Some(dir) if file.is_relative() => dir.join(file),
        _ => file.to_path_buf(),
    }
}

/// The refusal of line `line` (1-based) of `path` for `key`.
fn at(path: &Path, line: usize, key: &str, reason: impl Into<String>) -> FileError {
    FileError::Line {
        path: path.into(),
        line,
        key: key.into(),
        reason: reason.into(),
    }
}

/// ha.cf keys tapvs accepts and leaves to the lab (which sets its own log files).
const LOGGING: [&str; 4] = ["logfile", "debugfile", "logfacility", "use_logd"];

/// Reads an `ha.cf`: timing, `auto_failback`, one `ucast` or `bcast` medium, `udpport`, two
/// `node`s and `crm off`; the logging keys are accepted and left to the lab. Anything else is
/// refused at its line.
pub fn ha_cf(path: &Path, text: &str) -> Result<Heartbeat, FileError> {
    let mut hb = Heartbeat {
        keepalive: KEEPALIVE,
        deadtime: DEADTIME,
        warntime: None,
        initdead: None,
        auto_failback: true,
        media: Media::Ucast,
        udpport: UDPPORT,
        nodes: Default::default(),
        preferred: 0,
        ldirectord: None,
    };
    let mut nodes: Vec<String> = Vec::new();
    // Each key's lines, for the errors of the checks made once the file is read.
    let mut lines: Vec<(String, usize)> = Vec::new();
    let mut media_line = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let words: Vec<&str> = raw
            .split('#')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let Some((&key, args)) = words.split_first() else {
            continue;
        };
        lines.push((key.to_string(), n));
        let one = || match args {
            [value] => Ok(*value),
            _ => Err(at(path, n, key, "expects one value")),
        };
        let time = || {
            let value = one()?;
            heartbeat_time(value).ok_or_else(|| {
                at(
                    path,
                    n,
                    key,
                    format!("`{value}` is not a time like 2, 1.5 or 200ms"),
                )
            })
        };
        match key {
            "keepalive" => hb.keepalive = time()?,
            "deadtime" => hb.deadtime = time()?,
            "warntime" => hb.warntime = Some(time()?),
            "initdead" => hb.initdead = Some(time()?),
            "auto_failback" => {
                hb.auto_failback = match one()? {
                    "on" | "yes" | "true" => true,
                    "off" | "no" | "false" => false,
                    other => {
                        return Err(at(
                            path,
                            n,
                            key,
                            format!("`{other}`: tapvs takes on or off"),
                        ));
                    }
                }
            }
            "ucast" | "bcast" => {
                if let Some(first) = media_line {
                    let reason =
                        format!("a second medium (the first is on line {first}): tapvs runs one");
                    return Err(at(path, n, key, reason));
                }
                media_line = Some(n);
                hb.media = if key == "ucast" {
                    Media::Ucast
                } else {
                    Media::Bcast
                };
            }
            "udpport" => {
                if media_line.is_some() {
                    return Err(at(
                        path,
                        n,
                        key,
                        "must come before the ucast or bcast line (Heartbeat's rule)",
                    ));
                }
                hb.udpport = one()?
                    .parse()
                    .ok()
                    .filter(|&p| p != 0)
                    .ok_or_else(|| at(path, n, key, "must be a port, 1 – 65535"))?;
            }
            "node" => {
                if args.is_empty() {
                    return Err(at(path, n, key, "names no node"));
                }
                nodes.extend(args.iter().map(|s| s.to_string()));
            }
            "crm" => match one()? {
                "off" | "no" | "false" => {}
                _ => {
                    return Err(at(
                        path,
                        n,
                        key,
                        "tapvs runs Heartbeat in its classic haresources mode: crm off",
                    ));
                }
            },
            k if LOGGING.contains(&k) => {}
            _ => {
                let reason = "not supported by tapvs (it reads keepalive, deadtime, warntime, \
                              initdead, auto_failback, ucast, bcast, udpport, node, crm off and \
                              the logging keys)";
                return Err(at(path, n, key, reason));
            }
        }
    }
    let node_line = lines
        .iter()
        .rev()
        .find(|(k, _)| *k == "node")
        .map_or(0, |l| l.1);
    hb.nodes = match <[String; 2]>::try_from(nodes) {
        Ok(two) => two,
        Err(got) => {
            let reason = format!("names {} node(s): the lab has two directors", got.len());
            return Err(at(path, node_line, "node", reason));
        }
    };
    hb.check().map_err(|(key, reason)| {
        let line = lines
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map_or(0, |l| l.1);
        at(path, line, key, reason)
    })?;
    Ok(hb)
}

/// A time in ha.cf: seconds (`2`, `1.5`) or milliseconds (`200ms`).
fn heartbeat_time(text: &str) -> Option<Duration> {
    let (number, scale) = match text.strip_suffix("ms") {
        Some(ms) => (ms, 0.001),
        None => (text.strip_suffix('s').unwrap_or(text), 1.0),
    };
    let value: f64 = number.parse().ok()?;
    (value.is_finite() && (0.0..=86_400.0).contains(&(value * scale)))
        .then(|| Duration::from_secs_f64(value * scale))
}

/// Reads a `haresources`: one resource group, `NODE RESOURCE...`, whose node is one of
/// `nodes` and whose resources are the VIP (`IPaddr::VIP/…`, `IPaddr2::VIP/…` or `VIP`) and
/// optionally `LVSSyncDaemonSwap::master` (sync follows the VIP in tapvs anyway) and
/// `ldirectord[::FILE]`. Returns the index of the preferred node and ldirectord's file name.
pub fn haresources(
    path: &Path,
    text: &str,
    nodes: &[String; 2],
    vip: Ipv4Addr,
) -> Result<(usize, Option<String>), FileError> {
    let mut groups: Vec<(usize, Vec<String>)> = Vec::new();
    let mut pending: Option<(usize, Vec<String>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim_end();
        let (line, more) = match line.strip_suffix('\\') {
            Some(l) => (l, true),
            None => (line, false),
        };
        let words = line.split_whitespace().map(String::from);
        let entry = pending.get_or_insert_with(|| (i + 1, Vec::new()));
        entry.1.extend(words);
        if !more {
            let done = pending.take().expect("just set");
            if !done.1.is_empty() {
                groups.push(done);
            }
        }
    }
    groups.extend(pending.filter(|g| !g.1.is_empty()));
    let (line, group) = match groups.as_slice() {
        [one] => one,
        [] => {
            return Err(at(
                path,
                1,
                "resource group",
                "there is none: expected `NODE VIP`",
            ));
        }
        [_, (n, second), ..] => {
            let key = second.first().map_or("resource group", String::as_str);
            return Err(at(
                path,
                *n,
                key,
                "a second resource group: tapvs moves one VIP",
            ));
        }
    };
    let node = &group[0];
    let preferred = nodes.iter().position(|n| n == node).ok_or_else(|| {
        let reason = format!("not a node of ha.cf (`{}`, `{}`)", nodes[0], nodes[1]);
        at(path, *line, node, reason)
    })?;
    let mut has_vip = false;
    let mut ldirectord = None;
    for resource in &group[1..] {
        let (agent, args) = match resource.split_once("::") {
            Some(split) => split,
            None if resource == "ldirectord" => ("ldirectord", "ldirectord.cf"),
            None => ("", resource.as_str()),
        };
        match agent {
            "" | "IPaddr" | "IPaddr2" => {
                let address = args.split('/').next().unwrap_or("");
                match address.parse::<Ipv4Addr>() {
                    Ok(a) if a == vip => has_vip = true,
                    Ok(a) => {
                        let reason = format!("{a} is not the scenario's VIP ({vip})");
                        return Err(at(path, *line, resource, reason));
                    }
                    Err(_) => {
                        return Err(at(path, *line, resource, "not a resource tapvs knows"));
                    }
                }
            }
            "LVSSyncDaemonSwap" if args == "master" => {}
            "ldirectord" => {
                let plain = !args.is_empty()
                    && args.len() <= 64
                    && (args.bytes()).all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
                    && !args.starts_with('.');
                if !plain {
                    let reason = "ldirectord's file must be a plain name in /etc/ha.d";
                    return Err(at(path, *line, resource, reason));
                }
                ldirectord = Some(args.to_string());
            }
            _ => {
                let reason = "not supported by tapvs (it runs the VIP as its tapvs-vip \
                              resource, and LVSSyncDaemonSwap::master)";
                return Err(at(path, *line, resource, reason));
            }
        }
    }
    if !has_vip {
        let reason = format!("the group does not hold the VIP {vip}");
        return Err(at(path, *line, node, reason));
    }
    Ok((preferred, ldirectord))
}

#[cfg(test)]
mod tests;
