//! The cost of a dead or hung real server with health checks: how long until a director marked
//! it down (`detection_ms`), what failed meanwhile and after, how long a restored server took to
//! come back (`recovery_ms`) and whether it got traffic again; and, with a sorry server, its
//! share once every real server was down.

use super::derive::window;
use super::execute::{Collected, HealthChange};
use crate::results::TimelineRow;
use crate::scenario::{Action, Scenario};
use std::collections::BTreeMap;

/// The first change of `server` to `up` at or after `from` (any director).
fn first_change<'a>(
    c: &'a Collected,
    server: &str,
    up: bool,
    from: u64,
) -> Option<&'a HealthChange> {
    c.health
        .iter()
        .find(|h| h.server == server && h.up == up && h.at >= from)
}

/// The checks' own counters, over every director and server: how many ran, timed out, and
/// the slowest successful one.
fn counter_metrics(m: &mut BTreeMap<String, f64>, c: &Collected) {
    let servers = c.health_counters.iter().flat_map(|(_, servers)| servers);
    let (mut checks, mut timeouts, mut slowest) = (0.0, 0.0, 0.0f64);
    for s in servers.map(|s| &s.counters) {
        checks += s.checks as f64;
        timeouts += s.timeouts as f64;
        slowest = slowest.max(s.max_latency_ms as f64);
    }
    m.insert("checks_run".into(), checks);
    m.insert("check_timeouts".into(), timeouts);
    m.insert("check_latency_max_ms".into(), slowest);
}

pub(super) fn health_metrics(
    m: &mut BTreeMap<String, f64>,
    scenario: &Scenario,
    c: &Collected,
    rows: &[TimelineRow],
) {
    if scenario.health.is_none() {
        return;
    }
    let interval = scenario.interval.as_millis() as u64;
    let faults: Vec<_> = c
        .events
        .iter()
        .filter(|(_, e)| matches!(e.action, Action::KillServer | Action::HangServer))
        .collect();
    let repairs: Vec<_> = c
        .events
        .iter()
        .filter(|(_, e)| matches!(e.action, Action::RestoreServer | Action::UnhangServer))
        .collect();
    // Changes seen by the first director, at the end: servers still marked down.
    let first = scenario.directors().first().cloned().unwrap_or_default();
    let mut last: BTreeMap<&str, bool> = BTreeMap::new();
    for h in c.health.iter().filter(|h| h.director == first) {
        last.insert(&h.server, h.up);
    }
    m.insert(
        "servers_down_at_end".into(),
        last.values().filter(|up| !**up).count() as f64,
    );
    counter_metrics(m, c);
    if faults.is_empty() {
        return;
    }
    let mut detected = Vec::new();
    let mut before = 0;
    for (at, e) in &faults {
        let Some(down) = first_change(c, &e.server, false, *at) else {
            continue;
        };
        detected.push(down.at);
        m.insert(format!("detection_ms:{}", e.server), (down.at - at) as f64);
        // From the interval of the fault up to the one of the detection.
        before += window(
            rows,
            at / interval * interval,
            down.at / interval * interval + interval,
        )
        .failed;
    }
    m.insert(
        "undetected_faults".into(),
        (faults.len() - detected.len()) as f64,
    );
    if detected.len() < faults.len() {
        return;
    }
    let fault_at = faults.iter().map(|(at, _)| *at).min().unwrap_or(0);
    let detection = detected.iter().copied().max().unwrap_or(0);
    m.insert("detection_ms".into(), (detection - fault_at) as f64);
    m.insert("failed_before_detection".into(), before as f64);
    // Requests already sent to the dead server may fail until their timeout.
    let margin = scenario
        .loads
        .iter()
        .map(|l| l.timeout.as_millis() as u64)
        .max()
        .unwrap_or(0)
        + interval;
    let repaired = repairs
        .iter()
        .map(|(t, _)| *t)
        .filter(|&t| t >= detection)
        .min()
        .unwrap_or(u64::MAX);
    let after = window(rows, detection + margin, repaired);
    m.insert("failed_after_detection".into(), after.failed as f64);
    if let Some(sorry) = scenario.real_servers.iter().find(|r| r.sorry) {
        let early = window(rows, 0, fault_at / interval * interval);
        let s = early.servers.get(&sorry.name).copied().unwrap_or_default();
        m.insert("sorry_requests_before_fault".into(), s.requests as f64);
        let s = after.servers.get(&sorry.name).copied().unwrap_or_default();
        m.insert(
            "sorry_share_after_detection".into(),
            s.requests as f64 / (after.ok as f64).max(1.0),
        );
    }
    let mut recovery = None;
    let mut served_after = 0;
    for (at, e) in &repairs {
        let Some(up) = first_change(c, &e.server, true, *at) else {
            continue;
        };
        recovery = recovery.max(Some(up.at - at));
        let s = window(rows, up.at / interval * interval + interval, u64::MAX);
        served_after += s.servers.get(&e.server).map_or(0, |s| s.requests);
    }
    if !repairs.is_empty() {
        if let Some(r) = recovery {
            m.insert("recovery_ms".into(), r as f64);
        }
        m.insert("requests_after_recovery".into(), served_after as f64);
    }
}

#[cfg(test)]
mod tests;
