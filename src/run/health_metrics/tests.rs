//! The health metrics on a made-up run: 100 ms intervals, rs2 killed at 3 s and marked down at
//! 3.8 s, restored at 6 s and marked up at 6.9 s; and the same fault never detected.

use super::*;
use crate::metrics::ServerCounts;
use crate::run::execute::HealthChange;
use std::collections::BTreeMap;
use std::path::Path;

const SCENARIO: &str = r#"
name = "hm"
interval = "100ms"
[service]
scheduler = "rr"
[health]
check = "http"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
[[load]]
name = "web"
mode = "open"
rate = 100
connection = "new"
duration = "10s"
timeout = "1s"
[[event]]
at = "3s"
action = "kill_server"
server = "rs2"
[[event]]
at = "6s"
action = "restore_server"
server = "rs2"
"#;

/// 100 intervals; interval `i` has `failed(i)` failures and 10 answers, 5 from each server
/// (rs2 answers only while up).
fn rows(failed: impl Fn(u64) -> u64) -> Vec<TimelineRow> {
    (0..100u64)
        .map(|i| {
            let t_ms = i * 100;
            let rs2_up = !(3000..6900).contains(&t_ms);
            let mut client = crate::metrics::Interval {
                ok: 10,
                failed: failed(t_ms),
                ..Default::default()
            };
            for (name, up) in [("rs1", true), ("rs2", rs2_up)] {
                let requests = if up { 5 } else { 0 };
                client.servers.insert(
                    name.into(),
                    ServerCounts {
                        requests,
                        new_conns: requests,
                        broken_conns: 0,
                    },
                );
            }
            TimelineRow {
                t_ms,
                client,
                director_packets: 0,
                director_bytes: 0,
                master: "d1".into(),
            }
        })
        .collect()
}

fn collected(scenario: &Scenario, changes: &[(u64, bool)]) -> Collected {
    Collected {
        events: scenario
            .events
            .iter()
            .map(|e| (e.at.as_millis() as u64, e.clone()))
            .collect(),
        health: changes
            .iter()
            .map(|&(at, up)| HealthChange {
                at,
                director: "d1".into(),
                server: "rs2".into(),
                up,
            })
            .collect(),
        ..Default::default()
    }
}

fn run(changes: &[(u64, bool)], failed: impl Fn(u64) -> u64) -> BTreeMap<String, f64> {
    let scenario = Scenario::parse(Path::new("hm.toml"), SCENARIO).unwrap();
    let mut m = Values::default();
    health_metrics(
        &mut m,
        &scenario,
        &collected(&scenario, changes),
        &rows(failed),
    );
    m.into_map()
}

#[test]
fn detection_recovery_and_the_failures_around_them() {
    // Two failures per interval from the kill to the detection; one stray failure well after.
    let failed = |t: u64| match t {
        3000..3800 => 2,
        7500 => 1,
        _ => 0,
    };
    let m = run(&[(3800, false), (6900, true)], failed);
    assert_eq!(m["detection_ms"], 800.0);
    assert_eq!(m["detection_ms:rs2"], 800.0);
    assert_eq!(m["failed_before_detection"], 16.0);
    assert_eq!(m["undetected_faults"], 0.0);
    // From 3.8 s + 1 s timeout + one interval, until the restore at 6 s.
    assert_eq!(m["failed_after_detection"], 0.0);
    assert_eq!(m["recovery_ms"], 900.0);
    // rs2 answers 5 per interval from 7.0 s (the interval after the one it came up in).
    assert_eq!(m["requests_after_recovery"], 150.0);
    assert_eq!(m["servers_down_at_end"], 0.0);
}

#[test]
fn failures_after_the_detection_window_count() {
    let m = run(&[(3800, false), (6900, true)], |t| u64::from(t == 5000));
    assert_eq!(m["failed_after_detection"], 1.0);
    let m = run(&[(3800, false), (6900, true)], |t| u64::from(t == 4800));
    assert_eq!(
        m["failed_after_detection"], 0.0,
        "within the grace of one timeout"
    );
}

#[test]
fn an_undetected_fault_has_no_detection_metrics() {
    let m = run(&[], |_| 0);
    assert_eq!(m["undetected_faults"], 1.0);
    assert!(!m.contains_key("detection_ms"));
    assert!(!m.contains_key("failed_after_detection"));
    // A server marked down and never up again.
    let m = run(&[(3800, false)], |_| 0);
    assert_eq!(m["servers_down_at_end"], 1.0);
    assert!(!m.contains_key("recovery_ms"));
    assert_eq!(m["requests_after_recovery"], 0.0);
}
