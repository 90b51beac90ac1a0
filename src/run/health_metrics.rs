//! The cost of a dead or hung real server with health checks: how long until a director marked
//! it down (`detection_ms`), what failed meanwhile and after, how long a restored server took to
//! come back (`recovery_ms`) and whether it got traffic again; and, with a sorry server, its
//! share once every real server was down.

use super::execute::{Collected, HealthChange};
use super::timeline::window;
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Values;
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
fn counter_metrics(m: &mut Values, c: &Collected) {
    let servers = c.health_counters.iter().flat_map(|(_, servers)| servers);
    let (mut checks, mut timeouts, mut slowest) = (0.0, 0.0, 0.0f64);
    for s in servers.map(|s| &s.counters) {
        checks += s.checks as f64;
        timeouts += s.timeouts as f64;
        slowest = slowest.max(s.max_latency_ms as f64);
    }
    m.set(&cat::CHECKS_RUN, checks);
    m.set(&cat::CHECK_TIMEOUTS, timeouts);
    m.set(&cat::CHECK_LATENCY_MAX_MS, slowest);
}

pub(super) fn health_metrics(
    m: &mut Values,
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
    m.set(
        &cat::SERVERS_DOWN_AT_END,
        last.values().filter(|up| !**up).count() as f64,
    );
    // ldirectord's checks are its own: tapvs counts none of them.
    if scenario.checker() == crate::scenario::Checker::Tapvs {
        counter_metrics(m, c);
    }
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
        m.set_for(&cat::DETECTION_MS_OF, &e.server, (down.at - at) as f64);
        // From the interval of the fault up to the one of the detection.
        before += window(
            rows,
            at / interval * interval,
            down.at / interval * interval + interval,
        )
        .failed;
    }
    m.set(
        &cat::UNDETECTED_FAULTS,
        (faults.len() - detected.len()) as f64,
    );
    if detected.len() < faults.len() {
        return;
    }
    let fault_at = faults.iter().map(|(at, _)| *at).min().unwrap_or(0);
    let detection = detected.iter().copied().max().unwrap_or(0);
    m.set(&cat::DETECTION_MS, (detection - fault_at) as f64);
    m.set(&cat::FAILED_BEFORE_DETECTION, before as f64);
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
    m.set(&cat::FAILED_AFTER_DETECTION, after.failed as f64);
    if let Some(sorry) = scenario.real_servers.iter().find(|r| r.sorry) {
        let early = window(rows, 0, fault_at / interval * interval);
        let s = early.servers.get(&sorry.name).copied().unwrap_or_default();
        m.set(&cat::SORRY_REQUESTS_BEFORE_FAULT, s.requests as f64);
        let s = after.servers.get(&sorry.name).copied().unwrap_or_default();
        m.set(
            &cat::SORRY_SHARE_AFTER_DETECTION,
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
            m.set(&cat::RECOVERY_MS, r as f64);
        }
        m.set(&cat::REQUESTS_AFTER_RECOVERY, served_after as f64);
    }
}

#[cfg(test)]
mod tests;
