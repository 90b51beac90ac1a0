//! The runner's metrics against the registry: one made-up run that takes every code path of
//! [`metrics`] (failover with sync, health checks with a sorry server, a drain, a server
//! fault and its repair, forged adverts, a SYN flood) computes every registry entry, and
//! nothing outside it.

use super::*;
use crate::health::monitor::CheckCounters;
use crate::metrics::registry::{self, Entry, FAMILIES, METRICS};
use crate::metrics::{ClientReport, FloodReport, ServerCounts};
use crate::node::event::{ServerHealth, VrrpReport};
use crate::run::execute::{HealthChange, MemorySample};
use std::collections::BTreeSet;
use std::path::Path;

const SCENARIO: &str = r#"
name = "every-metric"
interval = "100ms"
[failover]
advert_interval = "100ms"
[service]
scheduler = "rr"
[health]
check = "http"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
[[real_server]]
name = "sorry"
sorry = true
[[link]]
name = "heartbeat"
loss = 20
[[load]]
name = "web"
mode = "open"
rate = 100
connection = "new"
duration = "8s"
timeout = "1s"
[[load]]
name = "flood"
mode = "syn_flood"
rate = 1000
start = "1s"
duration = "1s"
[[event]]
at = "1s"
action = "spoof_vrrp"
priority = 255
interval = "100ms"
duration = "1s"
[[event]]
at = "2s"
action = "kill_server"
server = "rs2"
[[event]]
at = "3s"
action = "restore_server"
server = "rs2"
[[event]]
at = "4s"
action = "drain"
server = "rs1"
[[event]]
at = "5s"
action = "kill_director"
director = "d1"
[[event]]
at = "6s"
action = "restart_director"
director = "d1"
"#;

/// The web load: 80 intervals, each with answers from rs1 and rs2 and one failure.
fn web() -> ClientReport {
    let mut intervals = Vec::new();
    for k in 0..80u64 {
        let mut iv = crate::metrics::Interval {
            start_ms: k * 100,
            ok: 10,
            failed: 1,
            new_conns: 10,
            completed_ok: 10,
            bytes: 10_000,
            ..Default::default()
        };
        for name in ["rs1", "rs2"] {
            let counts = ServerCounts {
                requests: 5,
                new_conns: 5,
                broken_conns: 1,
            };
            iv.servers.insert(name.into(), counts);
        }
        intervals.push(iv);
    }
    web_report(intervals)
}

/// The report of a load "web" of 100 ms intervals, its total summed from them.
pub(super) fn web_report(intervals: Vec<crate::metrics::Interval>) -> ClientReport {
    let mut total = crate::metrics::Interval::default();
    for iv in &intervals {
        merge_into(&mut total, iv);
    }
    ClientReport {
        load: "web".into(),
        interval_ms: 100,
        intervals,
        total,
        ..Default::default()
    }
}

fn flood() -> ClientReport {
    ClientReport {
        load: "flood".into(),
        interval_ms: 100,
        intervals: vec![Default::default(); 10],
        flood: Some(FloodReport {
            sent: 1000,
            elapsed_ms: 1000,
            rate_achieved: 1000.0,
            rate_wanted: 1000.0,
            per_interval: vec![100; 10],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A director's last sync report.
fn sync_report(n: u64) -> SyncReport {
    let mut r = SyncReport {
        max_lag_ms: 3,
        ..SyncReport::default()
    };
    (r.counters.msgs_sent, r.counters.entries_sent) = (n, n);
    r
}

/// A director's last health-check counters.
fn health_report() -> Vec<ServerHealth> {
    let counters = CheckCounters {
        checks: 20,
        timeouts: 1,
        max_latency_ms: 1,
        ..CheckCounters::default()
    };
    vec![ServerHealth {
        server: "rs1".into(),
        up: true,
        counters,
    }]
}

/// A director's last VRRP counters.
fn vrrp_report() -> VrrpReport {
    let mut r = VrrpReport::default();
    r.counters.dropped_not_peer = 20;
    r
}

/// A wire's counters: 100 adverts seen, 20 lost.
fn wire_report() -> crate::impairment::WireStats {
    let mut w = crate::impairment::WireStats::default();
    (w.a_to_b.matched, w.a_to_b.dropped_loss) = (100, 20);
    w
}

fn collected(s: &Scenario) -> Collected {
    let change = |at, server: &str, up| HealthChange {
        at,
        director: "d1".into(),
        server: server.into(),
        up,
    };
    Collected {
        events: s
            .events
            .iter()
            .map(|e| (e.at.as_millis() as u64, e.clone()))
            .collect(),
        clients: vec![web(), flood()],
        director_tables: (0..50)
            .flat_map(|k| {
                [
                    (k * 100, "d1".into(), true, 100),
                    (k * 100, "d2".into(), false, 90),
                ]
            })
            .collect(),
        sync: vec![
            ("d1".into(), sync_report(40)),
            ("d2".into(), sync_report(0)),
        ],
        masters: (0..80u64)
            .map(|k| {
                let active = if k == 52 {
                    vec![]
                } else {
                    vec!["d1".to_string()]
                };
                (k * 100, active)
            })
            .collect(),
        transitions: vec![("d2".into(), 5300, DirectorEvent::GratuitousArp)],
        health: vec![change(2500, "rs2", false), change(3600, "rs2", true)],
        health_counters: vec![("d1".into(), health_report())],
        vrrp: vec![("d1".into(), vrrp_report()), ("d2".into(), vrrp_report())],
        wires: vec![("heartbeat".into(), wire_report())],
        memory: (0..20u64)
            .map(|k| MemorySample {
                t_ms: k * 1000,
                director: "d2".into(),
                pid: 7,
                rss_kib: 10_000 + k,
            })
            .collect(),
        ..Default::default()
    }
}

fn every_metric() -> BTreeMap<String, f64> {
    let s = Scenario::parse(Path::new("every-metric.toml"), SCENARIO).unwrap();
    let c = collected(&s);
    metrics(&s, &c, &timeline(&s, &c))
}

/// Two directors under Heartbeat (deadtime 1 s), d1 killed at 5 s.
const HEARTBEAT: &str = r#"
name = "heartbeat"
interval = "100ms"
[failover]
manager = "heartbeat"
keepalive = "200ms"
deadtime = "1s"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[load]]
name = "web"
mode = "open"
rate = 100
connection = "new"
duration = "8s"
[[event]]
at = "5s"
action = "kill_director"
director = "d1"
"#;

fn heartbeat_metrics() -> BTreeMap<String, f64> {
    let s = Scenario::parse(Path::new("heartbeat.toml"), HEARTBEAT).unwrap();
    let c = collected(&s);
    metrics(&s, &c, &timeline(&s, &c))
}

#[test]
fn a_heartbeat_takeover_is_measured_against_the_deadtime() {
    let m = heartbeat_metrics();
    // d2's first gratuitous ARP is at 5.3 s (see `collected`).
    assert_eq!(m.get("takeover_ms"), Some(&300.0));
    assert_eq!(m.get("deadtime_ms"), Some(&1000.0));
    assert_eq!(m.get("takeover_excess_ms"), Some(&-700.0));
    assert_eq!(m.get("takeover_ratio"), Some(&0.3));
    assert!(!m.contains_key("master_down_ms"), "no VRRP formula");
}

#[test]
fn every_computed_metric_is_in_the_registry() {
    for key in every_metric().keys() {
        assert!(
            registry::lookup(key).is_some(),
            "`{key}` is computed but not in the registry (src/metrics/catalogue.rs)"
        );
    }
}

#[test]
fn every_registry_entry_is_computed() {
    let (m, hb) = (every_metric(), heartbeat_metrics());
    let mut computed = BTreeSet::new();
    for key in m.keys().chain(hb.keys()) {
        match registry::lookup(key) {
            Some(Entry::Metric(x)) => computed.insert(x.name.to_string()),
            Some(Entry::Member(f, _)) => computed.insert(f.pattern()),
            None => false,
        };
    }
    let registered: BTreeSet<String> = METRICS
        .iter()
        .map(|x| x.name.to_string())
        .chain(FAMILIES.iter().map(|f| f.pattern()))
        .collect();
    let never: Vec<_> = registered.difference(&computed).collect();
    assert!(never.is_empty(), "registered, never computed: {never:?}");
}
