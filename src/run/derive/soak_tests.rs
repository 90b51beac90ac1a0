//! The soak's metrics on made-up runs: broken connections split by whether their server was
//! down, and director memory growth over the longest-lived process.

use super::*;
use crate::metrics::ServerCounts;
use crate::run::execute::MemorySample;
use std::path::Path;

const SCENARIO: &str = r#"
name = "soak-metrics"
interval = "100ms"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
[[load]]
name = "long"
mode = "closed"
connection = "keepalive"
duration = "10s"
[[event]]
at = "3s"
action = "kill_server"
server = "rs2"
[[event]]
at = "6s"
action = "restore_server"
server = "rs2"
"#;

/// 100 intervals of 100 ms; `broken(t_ms)` gives (broken on rs1, broken on rs2).
fn rows(broken: impl Fn(u64) -> (u64, u64)) -> Vec<TimelineRow> {
    (0..100u64)
        .map(|i| {
            let t_ms = i * 100;
            let (rs1, rs2) = broken(t_ms);
            let mut client = crate::metrics::Interval::default();
            for (name, n) in [("rs1", rs1), ("rs2", rs2)] {
                let counts = ServerCounts {
                    broken_conns: n,
                    ..Default::default()
                };
                client.servers.insert(name.into(), counts);
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

fn broken_live(broken: impl Fn(u64) -> (u64, u64)) -> u64 {
    let scenario = Scenario::parse(Path::new("soak-metrics.toml"), SCENARIO).unwrap();
    let c = Collected {
        events: scenario
            .events
            .iter()
            .map(|e| (e.at.as_millis() as u64, e.clone()))
            .collect(),
        ..Default::default()
    };
    broken_on_live_servers(&c, &rows(broken), 100)
}

#[test]
fn connections_broken_by_a_dead_server_are_not_the_balancers() {
    // rs2 dies at 3 s: its connections break from the interval before (in flight) to 1 s
    // after its restore at 6 s; rs1's break at 5 s is the balancer's.
    let n = broken_live(|t| match t {
        2900 | 3000 | 4000 | 6900 => (0, 7),
        5000 => (2, 0),
        _ => (0, 0),
    });
    assert_eq!(n, 2);
    // The same rs2 breaks outside its fault count.
    assert_eq!(
        broken_live(|t| if t == 2800 || t == 7000 {
            (0, 1)
        } else {
            (0, 0)
        }),
        2
    );
}

fn sample(t_ms: u64, director: &str, pid: u32, rss_kib: u64) -> MemorySample {
    MemorySample {
        t_ms,
        director: director.into(),
        pid,
        rss_kib,
    }
}

#[test]
fn memory_growth_is_measured_on_the_longest_lived_process() {
    let mut samples = Vec::new();
    // d2 lives 100 s: 40 MiB at warm-up, growing to 50 MiB at the end.
    for s in 0..100u64 {
        let rss = if s < 10 {
            20_000
        } else {
            40_960 + s * 10_240 / 99
        };
        samples.push(sample(s * 1000, "d2", 7, rss));
    }
    // d1 restarts every 10 s and is bigger, but short-lived.
    for s in 0..100u64 {
        samples.push(sample(s * 1000, "d1", 100 + (s / 10) as u32, 90_000));
    }
    let mut m = Values::default();
    memory_metrics(&mut m, &samples);
    let m = m.into_map();
    assert_eq!(m["director_rss_max_mb"], 90_000.0 / 1024.0);
    // From a quarter of its life to its end: about three quarters of the 10 MiB.
    let growth = m["director_rss_growth_mb"];
    assert!((6.0..=8.0).contains(&growth), "growth {growth}");
    // Flat memory: no growth.
    let flat: Vec<_> = (0..50).map(|s| sample(s * 1000, "d2", 7, 30_000)).collect();
    let mut m = Values::default();
    memory_metrics(&mut m, &flat);
    let m = m.into_map();
    assert_eq!(m["director_rss_growth_mb"], 0.0);
    // Too short a life to say.
    let mut m = Values::default();
    memory_metrics(&mut m, &flat[..5]);
    let m = m.into_map();
    assert!(!m.contains_key("director_rss_growth_mb"));
}
