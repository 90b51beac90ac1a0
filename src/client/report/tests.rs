//! Unit tests of the summary line.

use super::*;
use crate::metrics::{Interval, Latency, ServerCounts};

fn report(load: &str, started: u64, oks: &[u64], p99: u64) -> ClientReport {
    let interval = |i: usize, ok: u64| Interval {
        start_ms: i as u64 * 250,
        ok,
        servers: [(
            "rs1".to_owned(),
            ServerCounts {
                requests: ok,
                new_conns: ok,
            },
        )]
        .into(),
        latency: Latency {
            p99_us: p99,
            ..Latency::default()
        },
        ..Interval::default()
    };
    let intervals: Vec<Interval> = oks
        .iter()
        .enumerate()
        .map(|(i, &ok)| interval(i, ok))
        .collect();
    let total = interval(0, oks.iter().sum());
    ClientReport {
        load: load.into(),
        started_unix_ms: started,
        interval_ms: 250,
        intervals,
        total,
    }
}

#[test]
fn summary_names_counts_and_servers() {
    let line = summary(&report("web", 0, &[4, 4, 4, 4], 9));
    assert!(
        line.starts_with("tapvs client web: 16 ok, 0 failed []"),
        "{line}"
    );
    assert!(
        line.contains("16 ok/s over 1.00s") && line.contains("servers [rs1=16]"),
        "{line}"
    );
}
