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
                broken_conns: 0,
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
        stray_responses: 0,
        flood: None,
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

#[test]
fn stray_responses_are_named_only_when_there_are_some() {
    let mut r = report("dns", 0, &[4], 9);
    assert!(!summary(&r).contains("stray"));
    assert!(!serde_json::to_string(&r).unwrap().contains("stray"));
    r.stray_responses = 3;
    assert!(
        summary(&r).ends_with(", 3 stray responses"),
        "{}",
        summary(&r)
    );
    let json = serde_json::to_string(&r).unwrap();
    let back: ClientReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.stray_responses, 3);
}
