//! `ldirectord_cf = "FILE"` in a scenario: the service, its checks and the real servers' weights
//! and forwarding come from an ldirectord.cf (the seed's own file) instead of `[service]` and
//! `[health]`. The file is read before the scenario is, and every key of it tapvs does not do
//! is refused with the file, the line and the key.

use super::Scenario;
use crate::file_error::FileError;
use crate::ldirectord::cf::{self, CheckType, LdirectordCf, Virtual};
use std::path::{Path, PathBuf};
use toml::{Table, Value};

/// ldirectord's check timeouts when none is given (its `DEFAULT_CHECKTIMEOUT`,
/// `DEFAULT_NEGOTIATETIMEOUT`), and its check interval.
const DEFAULT_CHECKTIMEOUT_S: u32 = 5;
const DEFAULT_NEGOTIATETIMEOUT_S: u32 = 30;
const DEFAULT_CHECKINTERVAL_S: u32 = 10;

/// The `[health]` keys a scenario with `ldirectord_cf` may still give.
const CHECKER_KEYS: [&str; 2] = ["checker", "compare_checkers"];

/// Where `ldirectord_cf` points, relative to the scenario file.
pub fn resolve(scenario_path: &Path, cf: &Path) -> PathBuf {
    scenario_path
        .parent()
        .map(|dir| dir.join(cf))
        .unwrap_or_else(|| cf.to_path_buf())
}

/// Reads the file the scenario's table names (if any) and puts its `[service]` and `[health]`
/// into the table, and the lab mode its forwarding method means. Returns the file (its path,
/// what it says, for [`apply_reals`], and its text, for the real ldirectord).
pub fn inject(
    scenario_path: &Path,
    table: &mut Table,
) -> Result<Option<(PathBuf, LdirectordCf, String)>, FileError> {
    let Some(name) = table.get("ldirectord_cf") else {
        return Ok(None);
    };
    let field = |reason: &str| FileError::Invalid {
        path: scenario_path.into(),
        field: "ldirectord_cf".into(),
        reason: reason.into(),
    };
    let Some(name) = name.as_str() else {
        return Err(field("must be a file name (a string)"));
    };
    let path = resolve(scenario_path, Path::new(name));
    // A file that cannot be read is the scenario's field's error (cut: the name may be huge).
    let text = crate::file_error::read_text(&path)
        .map_err(|e| field(&super::echo::shown_message(&e.to_string())))?;
    let cf = cf::parse(&text).map_err(|e| FileError::Line {
        path: path.clone(),
        line: e.line,
        key: e.key,
        reason: e.reason,
    })?;
    let line_error = |line: usize, key: &str, reason: String| FileError::Line {
        path: path.clone(),
        line,
        key: key.into(),
        reason,
    };
    let [v] = cf.virtuals.as_slice() else {
        let lines: Vec<String> = cf.virtuals.iter().map(|v| v.line.to_string()).collect();
        return Err(line_error(
            cf.virtuals[1].line,
            "virtual",
            format!(
                "a scenario has one service; this file has {} `virtual=` blocks (lines {})",
                lines.len(),
                lines.join(", ")
            ),
        ));
    };
    // `[health]` may still say who checks (`checker`, `compare_checkers`); the checks
    // themselves are the file's.
    let who_checks = table
        .remove("health")
        .map(|h| match h {
            Value::Table(t) if t.keys().all(|k| CHECKER_KEYS.contains(&k.as_str())) => Ok(t),
            _ => Err(field(&format!(
                "`[health]` is given both here and by {}; keep one (here, only `checker` and \
                 `compare_checkers`)",
                path.display()
            ))),
        })
        .transpose()?;
    if table.contains_key("service") {
        return Err(field(&format!(
            "`[service]` is given both here and by {}; keep one",
            path.display()
        )));
    }
    let masq = v.reals[0].masq;
    if let Some(r) = v.reals.iter().find(|r| r.masq != masq) {
        return Err(line_error(
            r.line,
            "real",
            "every real server of a service must use the same forwarding method in tapvs".into(),
        ));
    }
    let lab = table
        .entry("lab")
        .or_insert_with(|| Value::Table(Table::new()));
    let Some(lab) = lab.as_table_mut() else {
        return Err(field("`lab` must be a table"));
    };
    let mode = if masq { "nat" } else { "dr" };
    match lab.get("mode").and_then(Value::as_str) {
        None => {
            lab.insert("mode".into(), mode.into());
        }
        Some(m) if m == mode => {}
        Some(m) => {
            return Err(line_error(
                v.reals[0].line,
                "real",
                format!(
                    "`{}` forwarding means mode {mode}, but [lab] mode is {m}",
                    fwd(masq)
                ),
            ));
        }
    }
    table.insert("service".into(), Value::Table(service(v)));
    match (health(&cf, v), who_checks) {
        (Some(mut health), who) => {
            health.extend(who.unwrap_or_default());
            table.insert("health".into(), Value::Table(health));
        }
        (None, Some(_)) => {
            return Err(line_error(
                v.line,
                "checktype",
                "`checktype = on` checks nothing, so nobody can be the [health] checker".into(),
            ));
        }
        (None, None) => {}
    }
    for rs in table
        .get("real_server")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if rs.get("weight").is_some() {
            return Err(field(&format!(
                "a [[real_server]] gives a `weight`; with ldirectord_cf the weights come from \
                 the `real=` lines of {}",
                path.display()
            )));
        }
    }
    Ok(Some((path, cf, text)))
}

fn fwd(masq: bool) -> &'static str {
    if masq { "masq" } else { "gate" }
}

fn service(v: &Virtual) -> Table {
    let mut t = Table::new();
    t.insert("vip".into(), v.addr.to_string().into());
    t.insert("port".into(), i64::from(v.port).into());
    t.insert("protocol".into(), if v.udp { "udp" } else { "tcp" }.into());
    t.insert("scheduler".into(), v.scheduler.clone().into());
    if let Some(p) = v.persistent_s {
        t.insert("persistence".into(), format!("{p}s").into());
    }
    if let Some(mask) = v.netmask {
        t.insert("persistence_netmask".into(), mask.to_string().into());
    }
    t
}

/// The `[health]` the block's checks mean; none for `checktype = on`.
fn health(cf: &LdirectordCf, v: &Virtual) -> Option<Table> {
    let checks = v.checks.or(cf.checks);
    let connect = v.checktype == CheckType::Connect;
    // ldirectord's fallbacks: a connect check's timeout is checktimeout, else
    // negotiatetimeout, else its default; a negotiate check's the other way round.
    let timeout = if connect {
        checks.timeout_s.or(checks.negotiate_timeout_s)
    } else {
        checks.negotiate_timeout_s.or(checks.timeout_s)
    };
    let default_timeout = if connect {
        DEFAULT_CHECKTIMEOUT_S
    } else {
        DEFAULT_NEGOTIATETIMEOUT_S
    };
    let mut t = Table::new();
    let check = match v.checktype {
        CheckType::On => return None,
        CheckType::Connect => "tcp",
        CheckType::Negotiate => "http",
    };
    t.insert("check".into(), check.into());
    let interval = checks.interval_s.unwrap_or(DEFAULT_CHECKINTERVAL_S);
    t.insert("interval".into(), format!("{interval}s").into());
    // ldirectord runs a virtual's checks one after the other, so a check that takes longer
    // than the interval delays the next; tapvs starts checks on the interval, so a check
    // gives up at the interval at the latest (ldirectord's defaults, 30 s negotiate timeout
    // and 10 s interval, become 10 s and 10 s).
    let timeout = timeout.unwrap_or(default_timeout).min(interval);
    t.insert("timeout".into(), format!("{timeout}s").into());
    t.insert(
        "fall".into(),
        i64::from(checks.failure_count.unwrap_or(1)).into(),
    );
    t.insert("rise".into(), 1.into());
    // ldirectord puts a real server in the table only once its check has passed.
    t.insert("initial".into(), "down".into());
    let quiescent = v.quiescent.unwrap_or(cf.quiescent);
    t.insert(
        "on_failure".into(),
        if quiescent { "quiescent" } else { "remove" }.into(),
    );
    if !connect {
        t.insert("path".into(), v.request.clone().into());
        // ldirectord's negotiate takes a success (2xx) answer that holds `receive`.
        t.insert("status".into(), Value::Array(vec![200.into(), 299.into()]));
        if let Some(receive) = &v.receive {
            t.insert("expect".into(), receive.clone().into());
        }
    }
    Some(t)
}

/// Gives each scenario real server its weight and port from the file's `real=` lines, matched
/// by the address the lab gives it; the fallback must be the scenario's sorry server.
pub fn apply_reals(
    scenario: &mut Scenario,
    path: &Path,
    cf: &LdirectordCf,
) -> Result<(), FileError> {
    let v = &cf.virtuals[0];
    let layout = scenario.lab.layout();
    let line_error = |line: usize, key: &str, reason: String| FileError::Line {
        path: path.into(),
        line,
        key: key.into(),
        reason,
    };
    let addresses: Vec<_> = (1..=scenario.real_servers.len())
        .map(|n| layout.real_server_address(n as u8))
        .collect();
    for real in &v.reals {
        let found = addresses.iter().position(|a| *a == real.addr);
        let Some(i) = found.filter(|&i| !scenario.real_servers[i].sorry) else {
            let known: Vec<String> = scenario
                .real_servers
                .iter()
                .zip(&addresses)
                .filter(|(rs, _)| !rs.sorry)
                .map(|(rs, a)| format!("{} {a}", rs.name))
                .collect();
            return Err(line_error(
                real.line,
                "real",
                format!(
                    "{} is not a real server of the scenario (the lab gives its [[real_server]]s \
                     {})",
                    real.addr,
                    known.join(", ")
                ),
            ));
        };
        let rs = &mut scenario.real_servers[i];
        rs.weight = real.weight;
        if real.port != 0 && real.port != v.port {
            rs.port = Some(real.port);
        }
    }
    for (rs, addr) in scenario.real_servers.iter().zip(&addresses) {
        if !rs.sorry && !v.reals.iter().any(|r| r.addr == *addr) {
            return Err(line_error(
                v.line,
                "virtual",
                format!(
                    "no `real={addr}` line for [[real_server]] {} of the scenario",
                    rs.name
                ),
            ));
        }
    }
    let fallback = v.fallback.as_ref().or(cf.fallback.as_ref());
    let sorry = scenario
        .real_servers
        .iter()
        .zip(&addresses)
        .find(|(rs, _)| rs.sorry);
    match (fallback, sorry) {
        (None, None) => {}
        (Some(f), Some((_, addr))) if f.addr == *addr => {}
        (Some(f), Some((_, addr))) => {
            return Err(line_error(
                f.line,
                "fallback",
                format!("the scenario's sorry server is at {addr}, not {}", f.addr),
            ));
        }
        (Some(f), None) => {
            return Err(line_error(
                f.line,
                "fallback",
                "the scenario has no sorry server ([[real_server]] name = \"sorry\", sorry = true)"
                    .into(),
            ));
        }
        (None, Some((rs, _))) => {
            return Err(FileError::Invalid {
                path: path.into(),
                field: "fallback".into(),
                reason: format!(
                    "the scenario has a sorry server ({}) but the file no `fallback=` line",
                    rs.name
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
