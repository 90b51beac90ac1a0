//! Numbers the CSVs, plots and table compute from a [`RunRecord`]: rates, server list, shares, totals.

use super::{MasterSpan, RunRecord};
use crate::metrics::catalogue as cat;
use std::collections::{BTreeMap, BTreeSet};

/// Interval length in seconds (a zero interval is taken as 1 ms so rates stay finite).
pub(super) fn interval_s(run: &RunRecord) -> f64 {
    run.interval_ms.max(1) as f64 / 1000.0
}

/// `count` events in one interval, per second.
pub(super) fn per_s(run: &RunRecord, count: u64) -> f64 {
    count as f64 / interval_s(run)
}

/// Server names: the configured ones in their order, then any others the clients saw, sorted.
pub(super) fn server_names(run: &RunRecord) -> Vec<String> {
    let mut names: Vec<String> = run.servers.iter().map(|s| s.name.clone()).collect();
    let seen: BTreeSet<&String> = run
        .timeline
        .iter()
        .flat_map(|row| row.client.servers.keys())
        .collect();
    for name in seen {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// Error kinds present anywhere in the timeline, sorted.
pub(super) fn error_kinds(run: &RunRecord) -> Vec<String> {
    let kinds: BTreeSet<&String> = run
        .timeline
        .iter()
        .flat_map(|row| row.client.errors.keys())
        .collect();
    kinds.into_iter().cloned().collect()
}

/// Requests one server answered in one interval.
pub(super) fn server_requests(row: &super::TimelineRow, name: &str) -> u64 {
    row.client.servers.get(name).map_or(0, |c| c.requests)
}

/// One server's part of all successful requests, and the part its weight asked for.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Share {
    pub name: String,
    pub requests: u64,
    /// Fraction of all successful requests (0 when there were none).
    pub measured: f64,
    /// weight / sum of weights; `None` when the weights sum to zero.
    pub expected: Option<f64>,
}

pub(super) fn shares(run: &RunRecord) -> Vec<Share> {
    let names = server_names(run);
    let weight_sum: u64 = run.servers.iter().map(|s| u64::from(s.weight)).sum();
    let counts: Vec<u64> = names
        .iter()
        .map(|n| run.timeline.iter().map(|r| server_requests(r, n)).sum())
        .collect();
    let total: u64 = counts.iter().sum();
    names
        .into_iter()
        .zip(counts)
        .map(|(name, requests)| {
            let weight = run
                .servers
                .iter()
                .find(|s| s.name == name)
                .map_or(0, |s| u64::from(s.weight));
            Share {
                measured: if total == 0 {
                    0.0
                } else {
                    requests as f64 / total as f64
                },
                expected: (weight_sum > 0).then(|| weight as f64 / weight_sum as f64),
                name,
                requests,
            }
        })
        .collect()
}

/// Whole-run totals for the terminal table.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Totals {
    pub ok: u64,
    pub failed: u64,
    pub errors: BTreeMap<String, u64>,
    pub duration_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// False when the percentiles were estimated from the per-interval ones.
    pub latency_exact: bool,
}

/// Metric names the runner may use for whole-run latency percentiles (preferred over estimates;
/// `p50_ms` and `p99_ms`: their names in older result folders).
const P50_KEYS: [&str; 2] = [cat::LATENCY_P50_MS.name, "p50_ms"];
const P99_KEYS: [&str; 2] = [cat::LATENCY_P99_MS.name, "p99_ms"];

pub(super) fn totals(run: &RunRecord) -> Totals {
    let mut errors = BTreeMap::new();
    for row in &run.timeline {
        for (kind, n) in &row.client.errors {
            *errors.entry(kind.clone()).or_insert(0) += n;
        }
    }
    let metric = |keys: &[&str]| keys.iter().find_map(|k| run.metrics.get(*k).copied());
    let (p50, p99) = (metric(&P50_KEYS), metric(&P99_KEYS));
    Totals {
        ok: run.timeline.iter().map(|r| r.client.ok).sum(),
        failed: run.timeline.iter().map(|r| r.client.failed).sum(),
        errors,
        duration_s: run.timeline.len() as f64 * interval_s(run),
        latency_exact: p50.is_some() && p99.is_some(),
        p50_ms: p50.unwrap_or_else(|| weighted_quantile(run, 0.50, |r| r.client.latency.p50_us)),
        p99_ms: p99.unwrap_or_else(|| weighted_quantile(run, 0.99, |r| r.client.latency.p99_us)),
    }
}

/// The `q` quantile of a per-interval latency, each interval weighted by its successful requests.
fn weighted_quantile(run: &RunRecord, q: f64, pick: impl Fn(&super::TimelineRow) -> u64) -> f64 {
    let mut pts: Vec<(u64, u64)> = run
        .timeline
        .iter()
        .filter(|r| r.client.ok > 0)
        .map(|r| (pick(r), r.client.ok))
        .collect();
    pts.sort_unstable();
    let total: u64 = pts.iter().map(|p| p.1).sum();
    let target = (total as f64 * q).ceil() as u64;
    let mut acc = 0;
    for (us, n) in pts {
        acc += n;
        if acc >= target {
            return us as f64 / 1000.0;
        }
    }
    0.0
}

/// Master spans: the recorded ones, or else runs of equal non-empty `master` in the timeline.
pub(super) fn master_spans(run: &RunRecord) -> Vec<MasterSpan> {
    if !run.masters.is_empty() {
        return run.masters.clone();
    }
    let mut spans: Vec<MasterSpan> = Vec::new();
    for row in &run.timeline {
        let end = row.t_ms + run.interval_ms;
        match spans.last_mut() {
            Some(last) if last.director == row.master && last.to_ms == row.t_ms => last.to_ms = end,
            _ if row.master.is_empty() => {}
            _ => spans.push(MasterSpan {
                from_ms: row.t_ms,
                to_ms: end,
                director: row.master.clone(),
            }),
        }
    }
    spans
}

/// End of the time axis in ms: the last interval's end, or a later event or master span.
pub(super) fn end_ms(run: &RunRecord) -> u64 {
    let rows = run.timeline.last().map_or(0, |r| r.t_ms + run.interval_ms);
    let events = run.events.iter().map(|e| e.at_ms).max().unwrap_or(0);
    let masters = run.masters.iter().map(|m| m.to_ms).max().unwrap_or(0);
    rows.max(events).max(masters).max(1)
}
