//! The run's merged per-interval timeline (client outcomes of all loads and the directors'
//! forwarding) and sums over windows of it: what every metrics module reads. Imports no
//! metrics module.

use super::execute::Collected;
use crate::metrics::Interval;
use crate::results::TimelineRow;
use crate::scenario::Scenario;

/// Adds `b`'s counts into `a`. Latency percentiles of merged loads take the worse of the two.
pub fn merge_into(a: &mut Interval, b: &Interval) {
    a.ok += b.ok;
    a.failed += b.failed;
    for (kind, n) in &b.errors {
        *a.errors.entry(kind.clone()).or_default() += n;
    }
    a.bytes += b.bytes;
    a.request_bytes += b.request_bytes;
    a.new_conns += b.new_conns;
    a.completed_ok += b.completed_ok;
    a.broken_conns += b.broken_conns;
    a.latency.p50_us = a.latency.p50_us.max(b.latency.p50_us);
    a.latency.p90_us = a.latency.p90_us.max(b.latency.p90_us);
    a.latency.p99_us = a.latency.p99_us.max(b.latency.p99_us);
    a.latency.p999_us = a.latency.p999_us.max(b.latency.p999_us);
    a.latency.max_us = a.latency.max_us.max(b.latency.max_us);
    for (name, c) in &b.servers {
        let s = a.servers.entry(name.clone()).or_default();
        s.requests += c.requests;
        s.new_conns += c.new_conns;
        s.broken_conns += c.broken_conns;
    }
}

/// One row per interval of the run's load window, each made by `row(t_ms)`, with every load's
/// client intervals folded in at their place in the run by `fold(row, load_index, interval,
/// index of the interval within its load)`.
pub fn per_interval<R>(
    scenario: &Scenario,
    c: &Collected,
    row: impl Fn(u64) -> R,
    mut fold: impl FnMut(&mut R, usize, &Interval, usize),
) -> Vec<R> {
    let interval = scenario.interval.as_millis() as u64;
    let n = scenario.load_end().as_millis().div_ceil(interval as u128) as usize;
    let mut rows: Vec<R> = (0..n).map(|k| row(k as u64 * interval)).collect();
    for (i, (load, report)) in scenario.loads.iter().zip(&c.clients).enumerate() {
        let offset = (load.start.as_millis() as u64 / interval) as usize;
        for (k, iv) in report.intervals.iter().enumerate() {
            if let Some(r) = rows.get_mut(offset + k) {
                fold(r, i, iv, k);
            }
        }
    }
    rows
}

/// The run's timeline: client outcomes of all loads and the director's forwarding, per interval.
pub fn timeline(scenario: &Scenario, c: &Collected) -> Vec<TimelineRow> {
    let interval = scenario.interval.as_millis() as u64;
    let mut rows = per_interval(
        scenario,
        c,
        |t_ms| TimelineRow {
            t_ms,
            ..TimelineRow::default()
        },
        |row, _, iv, _| merge_into(&mut row.client, iv),
    );
    for pair in c.director_samples.windows(2) {
        let (t0, a) = pair[0];
        let (_, b) = pair[1];
        if let Some(row) = rows.get_mut((t0 / interval) as usize) {
            // Saturating: counters only grow, but a sample must never panic the report.
            row.director_packets += b.all_packets().saturating_sub(a.all_packets());
            row.director_bytes += b.all_bytes().saturating_sub(a.all_bytes());
        }
    }
    for row in &mut rows {
        row.client.start_ms = row.t_ms;
        // The director(s) active at the last sample taken in the interval.
        row.master = c
            .masters
            .iter()
            .rev()
            .find(|(t, _)| *t < row.t_ms + interval)
            .map(|(_, m)| m.join("+"))
            .unwrap_or_default();
    }
    rows
}

/// Sums the rows whose interval starts in `[from_ms, to_ms)`.
pub fn window(rows: &[TimelineRow], from_ms: u64, to_ms: u64) -> Interval {
    let mut sum = Interval::default();
    for r in rows.iter().filter(|r| r.t_ms >= from_ms && r.t_ms < to_ms) {
        merge_into(&mut sum, &r.client);
    }
    sum
}
