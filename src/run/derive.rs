//! From what a run collected to what it reports: the run's metrics (registry entries, see
//! `metrics::registry`), each computed from measured counts. The client-side, memory,
//! failover and sync metrics are computed here; the health, VRRP-spoofing and flood modules
//! compute theirs, and this module assembles them (they never import it).

use super::execute::Collected;
pub use super::timeline::timeline;
use super::timeline::{merge_into, window};
use crate::metrics::Interval;
use crate::metrics::catalogue as cat;
use crate::metrics::registry::{Metric, Values};
use crate::node::event::{DirectorEvent, SyncReport};
use crate::results::TimelineRow;
use crate::scenario::{Action, Scenario};
use std::collections::BTreeMap;

/// Every metric of the run, by name.
pub fn metrics(scenario: &Scenario, c: &Collected, rows: &[TimelineRow]) -> BTreeMap<String, f64> {
    let mut m = Values::default();
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
    m.set(&cat::REQUESTS, requests);
    m.set(&cat::REQUESTS_OK, total.ok as f64);
    m.set(&cat::FAILED_REQUESTS, total.failed as f64);
    m.set(&cat::BROKEN_CONNECTIONS, total.broken_conns as f64);
    m.set(&cat::FAILED_SHARE, total.failed as f64 / requests.max(1.0));
    m.set(&cat::THROUGHPUT_RPS, total.ok as f64 / span_s.max(0.001));
    // Response bytes (headers and bodies) received by successful requests, per second.
    m.set(
        &cat::GOODPUT_GBPS,
        total.bytes as f64 * 8.0 / span_s.max(0.001) / 1e9,
    );
    m.set(&cat::LATENCY_P50_MS, total.latency.p50_us as f64 / 1000.0);
    m.set(&cat::LATENCY_P99_MS, total.latency.p99_us as f64 / 1000.0);

    // Shares of new connections, before the first event changes the picture: in the intervals
    // that end by its time (the lab applies an event a few ms after it).
    let until = (c.events.first()).map_or(u64::MAX, |(at, _)| at / interval * interval);
    let before = window(rows, 0, until);
    let conns: u64 = before.servers.values().map(|s| s.new_conns).sum();
    let mut worst_error: f64 = 0.0;
    let mut max_share: f64 = 0.0;
    for (rs, expected) in scenario.real_servers.iter().zip(scenario.weight_shares()) {
        let got = before.servers.get(&rs.name).map_or(0, |s| s.new_conns);
        let share = got as f64 / conns.max(1) as f64;
        m.set_for(&cat::SHARE, &rs.name, share);
        worst_error = worst_error.max((share - expected).abs());
        max_share = max_share.max(share);
    }
    m.set(
        &cat::SHARE_ERROR_MAX,
        if conns > 0 { worst_error } else { f64::NAN },
    );
    m.set(
        &cat::MAX_SERVER_SHARE,
        if conns > 0 { max_share } else { f64::NAN },
    );

    // What crossed the director (both directions: NAT carries the replies) against the whole
    // service traffic, as the router's LAN link saw it.
    let forwarded = c.director_forwarded;
    let wire_bytes = (c.router_lan.tx_bytes + c.router_lan.rx_bytes) as f64;
    let wire_packets = (c.router_lan.tx_packets + c.router_lan.rx_packets) as f64;
    let director_bytes = forwarded.all_bytes() as f64;
    let director_packets = forwarded.all_packets() as f64;
    m.set(&cat::DIRECTOR_PACKETS, director_packets);
    m.set(&cat::DIRECTOR_BYTES, director_bytes);
    m.set(&cat::WIRE_PACKETS, wire_packets);
    m.set(&cat::WIRE_BYTES, wire_bytes);
    m.set(
        &cat::DIRECTOR_BYTE_SHARE,
        director_bytes / wire_bytes.max(1.0),
    );
    m.set(
        &cat::DIRECTOR_PACKET_SHARE,
        director_packets / wire_packets.max(1.0),
    );
    m.set(
        &cat::DIRECTOR_CONN_RATIO,
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
        m.set(&cat::DRAINED_NEW_CONNS, new_after as f64);
        m.set(&cat::DRAINED_REQUESTS_AFTER, requests_after as f64);
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
        m.set(&cat::FAILED_DURING_FAULT, failed as f64);
        m.set(
            &cat::FAILED_SHARE_DURING_FAULT,
            failed as f64 / (all as f64).max(1.0),
        );
        m.set(&cat::FAILED_AFTER_RESTORE, failed_after as f64);
    }
    if scenario.lab.mode.has_director() {
        m.set(&cat::HOST_PROBE_FAILURES, c.host_probe_failures as f64);
    }
    m.set(
        &cat::BROKEN_ON_LIVE_SERVERS,
        broken_on_live_servers(c, rows, interval) as f64,
    );
    memory_metrics(&mut m, &c.memory);
    failover_metrics(&mut m, scenario, c, rows);
    sync_metrics(&mut m, c);
    super::health_metrics::health_metrics(&mut m, scenario, c, rows);
    super::vrrp_metrics::vrrp_metrics(&mut m, scenario, c);
    super::link_metrics::link_metrics(&mut m, scenario, c);
    m.into_map()
}

/// Director memory: the largest RSS seen, and how much the longest-lived director process grew
/// from a quarter of its life (past the warm-up: buffers, tables, huge pages) to its end
/// (medians of a tenth of its samples each, so one sample does not decide).
fn memory_metrics(m: &mut Values, samples: &[super::execute::MemorySample]) {
    let Some(max) = samples.iter().map(|s| s.rss_kib).max() else {
        return;
    };
    m.set(&cat::DIRECTOR_RSS_MAX_MB, max as f64 / 1024.0);
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
    m.set(&cat::DIRECTOR_RSS_GROWTH_MB, (late - early) / 1024.0);
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
fn sync_metrics(m: &mut Values, c: &Collected) {
    if c.sync.is_empty() {
        return;
    }
    let sum = |field: fn(&SyncReport) -> u64| -> f64 {
        c.sync.iter().map(|(_, r)| field(r) as f64).sum()
    };
    type Field = fn(&SyncReport) -> u64;
    let metrics: [(&Metric, Field); 8] = [
        (&cat::SYNC_MSGS_SENT, |r| r.counters.msgs_sent),
        (&cat::SYNC_ENTRIES_SENT, |r| r.counters.entries_sent),
        (&cat::SYNC_ENTRIES_INSTALLED, |r| {
            r.counters.entries_installed
        }),
        (&cat::SYNC_INSTALL_ERRORS, |r| r.counters.install_errors),
        (&cat::SYNC_MSGS_LOST, |r| r.counters.msgs_lost),
        (&cat::SYNC_BULK_ENTRIES_SENT, |r| {
            r.counters.bulk_entries_sent
        }),
        (&cat::SYNC_BULKS_COMPLETED, |r| r.counters.bulks_completed),
        (&cat::SYNC_REFRESH_ENTRIES_SENT, |r| {
            r.counters.refresh_entries_sent
        }),
    ];
    for (metric, field) in metrics {
        m.set(metric, sum(field));
    }
    let lag = c
        .sync
        .iter()
        .map(|(_, r)| r.max_lag_ms as f64)
        .fold(0.0, f64::max);
    m.set(&cat::SYNC_LAG_MS, lag);
}

/// Failover loss: how long the takeover took, how long clients got nothing, split brain.
fn failover_metrics(m: &mut Values, scenario: &Scenario, c: &Collected, rows: &[TimelineRow]) {
    let interval = scenario.interval.as_millis() as u64;
    let faults = c
        .events
        .iter()
        .filter(|(_, e)| e.action.is_director_fault());
    // The failover is the first fault of the director that was master then; a backup's
    // restart before it (its table to be rebuilt) is no failover. Without a master known
    // before any fault, the first fault.
    let master_before = |at: u64, who: &str| {
        c.masters
            .iter()
            .take_while(|(t, _)| *t <= at)
            .last()
            .is_some_and(|(_, names)| names.iter().any(|n| n == who))
    };
    let fault = faults
        .clone()
        .find(|(at, e)| master_before(*at, &e.director))
        .or_else(|| faults.clone().next());
    if let Some((at, _)) = fault {
        // Before the fault everything must work: e.g. a peer that wrongly took the VIP. The
        // interval just before the fault is left out: its requests may be in flight at the kill.
        let before = window(rows, 0, (at / interval).saturating_sub(1) * interval);
        m.set(&cat::FAILED_BEFORE_FAULT, before.failed as f64);
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
            m.set(
                &cat::BACKUP_TABLE_RATIO,
                other as f64 / (master as f64).max(1.0),
            );
        }
        // Fault → the other director's first gratuitous ARP.
        let garp = c
            .transitions
            .iter()
            .filter(|(d, t, what)| {
                d != &e.director && *t >= *at && *what == DirectorEvent::GratuitousArp
            })
            .map(|(_, t, _)| *t)
            .min();
        let takeover = garp.map_or(f64::NAN, |t| (t - at) as f64);
        m.set(&cat::TAKEOVER_MS, takeover);
        // Against RFC 5798's Master_Down_Interval of the director that takes over, or
        // heartbeat's deadtime.
        if let Some(f) = &scenario.failover {
            let other = usize::from(e.director == "d1");
            let advert_ms = f.advert_interval.as_secs_f64() * 1000.0;
            let formula = match &f.heartbeat {
                Some(hb) => {
                    let deadtime = hb.deadtime.as_secs_f64() * 1000.0;
                    m.set(&cat::DEADTIME_MS, deadtime);
                    deadtime
                }
                None => {
                    let formula = crate::results::master_down_ms(advert_ms, f.priorities[other]);
                    m.set(&cat::MASTER_DOWN_MS, formula);
                    formula
                }
            };
            m.set(&cat::TAKEOVER_EXCESS_MS, takeover - formula);
            m.set(&cat::TAKEOVER_RATIO, takeover / formula);
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
        m.set(&cat::OUTAGE_MS, longest as f64);
        // Time with more than one active director (sampled every interval).
        let split = c.masters.iter().filter(|(_, who)| who.len() > 1).count() as u64 * interval;
        m.set(&cat::SPLIT_BRAIN_MS, split as f64);
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
            .filter(|(t, who)| *t >= healed && who.len() > 1)
            .count() as u64
            * interval;
        m.set(&cat::SPLIT_BRAIN_AFTER_HEAL_MS, after as f64);
        let at_end = c.masters.last().map_or(0, |(_, who)| who.len());
        m.set(&cat::MASTERS_AT_END, at_end as f64);
    }
}

#[cfg(test)]
mod soak_tests;

#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod share_tests;
