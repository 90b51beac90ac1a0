//! From what a run collected to what it reports: the merged per-interval timeline and the
//! run's metrics (see README.md, "Metrics"), each computed from measured counts.

use super::execute::Collected;
use crate::metrics::Interval;
use crate::results::TimelineRow;
use crate::scenario::{Action, Scenario};
use std::collections::BTreeMap;

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
    a.latency.max_us = a.latency.max_us.max(b.latency.max_us);
    for (name, c) in &b.servers {
        let s = a.servers.entry(name.clone()).or_default();
        s.requests += c.requests;
        s.new_conns += c.new_conns;
        s.broken_conns += c.broken_conns;
    }
}

/// The run's timeline: client outcomes of all loads and the director's forwarding, per interval.
pub fn timeline(scenario: &Scenario, c: &Collected) -> Vec<TimelineRow> {
    let interval = scenario.interval.as_millis() as u64;
    let n = scenario.load_end().as_millis().div_ceil(interval as u128) as usize;
    let mut rows: Vec<TimelineRow> = (0..n)
        .map(|k| TimelineRow {
            t_ms: k as u64 * interval,
            ..TimelineRow::default()
        })
        .collect();
    for (load, report) in scenario.loads.iter().zip(&c.clients) {
        let offset = (load.start.as_millis() as u64 / interval) as usize;
        for (k, iv) in report.intervals.iter().enumerate() {
            if let Some(row) = rows.get_mut(offset + k) {
                merge_into(&mut row.client, iv);
            }
        }
    }
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
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
    }
    rows
}

/// Sums the rows whose interval starts in `[from_ms, to_ms)`.
pub(super) fn window(rows: &[TimelineRow], from_ms: u64, to_ms: u64) -> Interval {
    let mut sum = Interval::default();
    for r in rows.iter().filter(|r| r.t_ms >= from_ms && r.t_ms < to_ms) {
        merge_into(&mut sum, &r.client);
    }
    sum
}

/// Every metric of the run, by name.
pub fn metrics(scenario: &Scenario, c: &Collected, rows: &[TimelineRow]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    super::flood::metrics(&mut m, scenario, c);
    let interval = scenario.interval.as_millis() as u64;
    let mut total = Interval::default();
    for report in &c.clients {
        merge_into(&mut total, &report.total);
    }
    let requests = (total.ok + total.failed) as f64;
    let first_start = scenario
        .loads
        .iter()
        .map(|l| l.start)
        .min()
        .unwrap_or_default();
    let span_s = (scenario.load_end() - first_start).as_secs_f64();
    m.insert("requests".into(), requests);
    m.insert("requests_ok".into(), total.ok as f64);
    m.insert("failed_requests".into(), total.failed as f64);
    m.insert("broken_connections".into(), total.broken_conns as f64);
    m.insert(
        "failed_share".into(),
        total.failed as f64 / requests.max(1.0),
    );
    m.insert("throughput_rps".into(), total.ok as f64 / span_s.max(0.001));
    // Response bytes (headers and bodies) received by successful requests, per second.
    m.insert(
        "goodput_gbps".into(),
        total.bytes as f64 * 8.0 / span_s.max(0.001) / 1e9,
    );
    m.insert(
        "latency_p50_ms".into(),
        total.latency.p50_us as f64 / 1000.0,
    );
    m.insert(
        "latency_p99_ms".into(),
        total.latency.p99_us as f64 / 1000.0,
    );

    // Shares of new connections, before the first event changes the picture.
    let until = c.events.first().map_or(u64::MAX, |(at, _)| *at);
    let before = window(rows, 0, until);
    let conns: u64 = before.servers.values().map(|s| s.new_conns).sum();
    let mut worst_error: f64 = 0.0;
    let mut max_share: f64 = 0.0;
    for (rs, expected) in scenario.real_servers.iter().zip(scenario.weight_shares()) {
        let got = before.servers.get(&rs.name).map_or(0, |s| s.new_conns);
        let share = got as f64 / conns.max(1) as f64;
        m.insert(format!("share:{}", rs.name), share);
        worst_error = worst_error.max((share - expected).abs());
        max_share = max_share.max(share);
    }
    m.insert(
        "share_error_max".into(),
        if conns > 0 { worst_error } else { f64::NAN },
    );
    m.insert(
        "max_server_share".into(),
        if conns > 0 { max_share } else { f64::NAN },
    );

    // What crossed the director (both directions: NAT carries the replies) against the whole
    // service traffic, as the router's LAN link saw it.
    let forwarded = c.director_forwarded;
    let wire_bytes = (c.router_lan.tx_bytes + c.router_lan.rx_bytes) as f64;
    let wire_packets = (c.router_lan.tx_packets + c.router_lan.rx_packets) as f64;
    let director_bytes = forwarded.all_bytes() as f64;
    let director_packets = forwarded.all_packets() as f64;
    m.insert("director_packets".into(), director_packets);
    m.insert("director_bytes".into(), director_bytes);
    m.insert("wire_packets".into(), wire_packets);
    m.insert("wire_bytes".into(), wire_bytes);
    m.insert(
        "director_byte_share".into(),
        director_bytes / wire_bytes.max(1.0),
    );
    m.insert(
        "director_packet_share".into(),
        director_packets / wire_packets.max(1.0),
    );
    m.insert(
        "director_conn_ratio".into(),
        forwarded.conns as f64 / (total.new_conns as f64).max(1.0),
    );

    // Drains: nothing new to the drained server after the drain (one interval of grace for
    // requests already under way), while its open connections keep being served.
    let drains: Vec<&(u64, _)> = c
        .events
        .iter()
        .filter(|(_, e)| {
            e.action == Action::Drain || (e.action == Action::SetWeight && e.weight == Some(0))
        })
        .collect();
    if !drains.is_empty() {
        let (mut new_after, mut requests_after) = (0, 0);
        for (at, e) in drains {
            let after = window(rows, at + interval, u64::MAX);
            let s = after.servers.get(&e.server).copied().unwrap_or_default();
            new_after += s.new_conns;
            requests_after += s.requests;
        }
        m.insert("drained_new_conns".into(), new_after as f64);
        m.insert("drained_requests_after".into(), requests_after as f64);
    }

    // Killed servers: failures while down, and after they came back.
    let kills: Vec<&(u64, _)> = c
        .events
        .iter()
        .filter(|(_, e)| matches!(e.action, Action::KillServer | Action::HangServer))
        .collect();
    if !kills.is_empty() {
        let (mut failed, mut all, mut failed_after) = (0, 0, 0);
        for (at, e) in kills {
            let restore = server_repair(c, *at, &e.server);
            let from = at / interval * interval;
            let during = window(rows, from, restore.unwrap_or(u64::MAX));
            failed += during.failed;
            all += during.ok + during.failed;
            if let Some(t) = restore {
                failed_after += window(rows, t + 1000, u64::MAX).failed;
            }
        }
        m.insert("failed_during_fault".into(), failed as f64);
        m.insert(
            "failed_share_during_fault".into(),
            failed as f64 / (all as f64).max(1.0),
        );
        m.insert("failed_after_restore".into(), failed_after as f64);
    }
    if scenario.lab.mode.has_director() {
        m.insert("host_probe_failures".into(), c.host_probe_failures as f64);
    }
    m.insert(
        "broken_on_live_servers".into(),
        broken_on_live_servers(c, rows, interval) as f64,
    );
    memory_metrics(&mut m, &c.memory);
    failover_metrics(&mut m, scenario, c, rows);
    sync_metrics(&mut m, c);
    super::health_metrics::health_metrics(&mut m, scenario, c, rows);
    super::vrrp_metrics::vrrp_metrics(&mut m, scenario, c);
    super::link_metrics::link_metrics(&mut m, scenario, c);
    m
}

/// Director memory: the largest RSS seen, and how much the longest-lived director process grew
/// from a quarter of its life (past the warm-up: buffers, tables, huge pages) to its end
/// (medians of a tenth of its samples each, so one sample does not decide).
fn memory_metrics(m: &mut BTreeMap<String, f64>, samples: &[super::execute::MemorySample]) {
    let Some(max) = samples.iter().map(|s| s.rss_kib).max() else {
        return;
    };
    m.insert("director_rss_max_mb".into(), max as f64 / 1024.0);
    let mut lives: BTreeMap<(&str, u32), Vec<u64>> = BTreeMap::new();
    for s in samples {
        lives
            .entry((&s.director, s.pid))
            .or_default()
            .push(s.rss_kib);
    }
    let Some(longest) = lives
        .values()
        .max_by_key(|v| v.len())
        .filter(|v| v.len() >= 8)
    else {
        return;
    };
    let n = longest.len();
    let tenth = (n / 10).max(1);
    let median = |part: &[u64]| {
        let mut v = part.to_vec();
        v.sort_unstable();
        v[v.len() / 2] as f64
    };
    let early = median(&longest[n / 4..n / 4 + tenth]);
    let late = median(&longest[n - tenth..]);
    m.insert("director_rss_growth_mb".into(), (late - early) / 1024.0);
}

/// When the server faulted (killed or hung) at `at` was restored (or answered again).
fn server_repair(c: &Collected, at: u64, server: &str) -> Option<u64> {
    c.events
        .iter()
        .find(|(t, r)| {
            *t >= at
                && matches!(r.action, Action::RestoreServer | Action::UnhangServer)
                && r.server == server
        })
        .map(|(t, _)| *t)
}

/// Broken keep-alive connections whose server was not down (killed or hung) when they broke:
/// what the balancer itself broke (a takeover without the connection, an entry expired).
/// A server's fault covers its interval before the kill (requests then in flight) until one
/// second after its restore, or the end.
fn broken_on_live_servers(c: &Collected, rows: &[TimelineRow], interval: u64) -> u64 {
    let faults: Vec<(&str, u64, u64)> = c
        .events
        .iter()
        .filter(|(_, e)| matches!(e.action, Action::KillServer | Action::HangServer))
        .map(|(at, e)| {
            let back = server_repair(c, *at, &e.server).map_or(u64::MAX, |t| t + 1000);
            (
                e.server.as_str(),
                (at / interval).saturating_sub(1) * interval,
                back,
            )
        })
        .collect();
    let down = |server: &str, t: u64| {
        faults
            .iter()
            .any(|(s, from, to)| *s == server && (*from..*to).contains(&t))
    };
    rows.iter()
        .flat_map(|r| {
            r.client
                .servers
                .iter()
                .filter(|(name, _)| !down(name, r.t_ms))
                .map(|(_, s)| s.broken_conns)
        })
        .sum()
}

/// Connection sync, summed over the directors (lag: the worst one at its last report).
fn sync_metrics(m: &mut BTreeMap<String, f64>, c: &Collected) {
    if c.sync.is_empty() {
        return;
    }
    let sum = |field: &str| -> f64 {
        c.sync
            .iter()
            .filter_map(|(_, v)| v.get(field)?.as_f64())
            .sum()
    };
    for (metric, field) in [
        ("sync_msgs_sent", "msgs_sent"),
        ("sync_entries_sent", "entries_sent"),
        ("sync_entries_installed", "entries_installed"),
        ("sync_install_errors", "install_errors"),
        ("sync_msgs_lost", "msgs_lost"),
        ("sync_bulk_entries_sent", "bulk_entries_sent"),
        ("sync_bulks_completed", "bulks_completed"),
        ("sync_refresh_entries_sent", "refresh_entries_sent"),
    ] {
        m.insert(metric.into(), sum(field));
    }
    let lag = c
        .sync
        .iter()
        .filter_map(|(_, v)| v.get("max_lag_ms")?.as_f64())
        .fold(0.0, f64::max);
    m.insert("sync_lag_ms".into(), lag);
}

/// Failover loss: how long the takeover took, how long clients got nothing, split brain.
fn failover_metrics(
    m: &mut BTreeMap<String, f64>,
    scenario: &Scenario,
    c: &Collected,
    rows: &[TimelineRow],
) {
    let interval = scenario.interval.as_millis() as u64;
    let fault = c.events.iter().find(|(_, e)| {
        matches!(
            e.action,
            Action::KillDirector | Action::FreezeDirector | Action::StopDirector | Action::CutLink
        )
    });
    if let Some((at, _)) = fault {
        // Before the fault everything must work: e.g. a peer that wrongly took the VIP. The
        // interval just before the fault is left out: its requests may be in flight at the kill.
        let before = window(rows, 0, (at / interval).saturating_sub(1) * interval);
        m.insert("failed_before_fault".into(), before.failed as f64);
    }
    if let Some((at, e)) = fault {
        // Just before the fault: the other director's table against the failing master's.
        let size_before = |who: &dyn Fn(&str) -> bool| {
            c.director_tables
                .iter()
                .filter(|(t, d, _, _)| *t < *at && who(d))
                .map(|(_, _, _, n)| *n)
                .next_back()
        };
        if let (Some(master), Some(other)) = (
            size_before(&|d| d == e.director),
            size_before(&|d| d != e.director),
        ) {
            m.insert(
                "backup_table_ratio".into(),
                other as f64 / (master as f64).max(1.0),
            );
        }
        // Fault → the other director's first gratuitous ARP.
        let garp = c
            .transitions
            .iter()
            .filter(|(d, t, what)| d != &e.director && *t >= *at && what == "garp")
            .map(|(_, t, _)| *t)
            .min();
        let takeover = garp.map_or(f64::NAN, |t| (t - at) as f64);
        m.insert("takeover_ms".into(), takeover);
        // Against RFC 5798's Master_Down_Interval of the director that takes over.
        if let Some(f) = &scenario.failover {
            let other = usize::from(e.director == "d1");
            let advert_ms = f.advert_interval.as_secs_f64() * 1000.0;
            let formula = crate::results::master_down_ms(advert_ms, f.priorities[other]);
            m.insert("master_down_ms".into(), formula);
            m.insert("takeover_excess_ms".into(), takeover - formula);
            m.insert("takeover_ratio".into(), takeover / formula);
        }
    }
    if scenario.failover.is_some() {
        // Longest run of intervals in which no successful response completed, while requests
        // were being sent (from the first interval that started one to the last).
        let sending = |r: &&TimelineRow| r.client.ok + r.client.failed > 0;
        let first = rows.iter().position(|r| sending(&r)).unwrap_or(rows.len());
        let last = rows.iter().rposition(|r| sending(&r)).map_or(0, |i| i + 1);
        let (mut run, mut longest) = (0u64, 0u64);
        for r in rows.get(first..last).unwrap_or_default() {
            run = if r.client.completed_ok == 0 {
                run + interval
            } else {
                0
            };
            longest = longest.max(run);
        }
        m.insert("outage_ms".into(), longest as f64);
        // Time with more than one active director (sampled every interval).
        let split = c
            .masters
            .iter()
            .filter(|(_, who)| who.contains('+'))
            .count() as u64
            * interval;
        m.insert("split_brain_ms".into(), split as f64);
        // After the last repair (resume, restart, link or heartbeat restored): how long two
        // masters still coexisted, and how many there were at the end.
        let healed = c
            .events
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e.action,
                    Action::ResumeDirector
                        | Action::RestartDirector
                        | Action::RestoreLink
                        | Action::HealHeartbeat
                )
            })
            .map(|(at, _)| *at)
            .max()
            .unwrap_or(0);
        let after = c
            .masters
            .iter()
            .filter(|(t, who)| *t >= healed && who.contains('+'))
            .count() as u64
            * interval;
        m.insert("split_brain_after_heal_ms".into(), after as f64);
        let at_end = c.masters.last().map_or(0, |(_, who)| {
            who.split('+').filter(|d| !d.is_empty()).count()
        });
        m.insert("masters_at_end".into(), at_end as f64);
    }
}

#[cfg(test)]
mod soak_tests;
