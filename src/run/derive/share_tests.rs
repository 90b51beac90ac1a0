//! The servers' shares are counted before the first event, in whole intervals: the interval an
//! event falls in (the lab applies one a few ms after its time) is already after it.

use super::*;
use crate::metrics::{ClientReport, ServerCounts};
use std::path::Path;

const DRAIN_RS2: &str = r#"
name = "drain"
interval = "100ms"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
[[load]]
name = "web"
mode = "open"
rate = 100
connection = "new"
duration = "2s"
[[event]]
at = "1s"
action = "drain"
server = "rs2"
"#;

/// 20 intervals of 100 ms: rs1 and rs2 take one new connection each until 1 s, rs1 both after.
fn report() -> ClientReport {
    let intervals: Vec<crate::metrics::Interval> = (0..20u64)
        .map(|k| {
            let mut iv = crate::metrics::Interval {
                start_ms: k * 100,
                ok: 2,
                new_conns: 2,
                ..Default::default()
            };
            let one = ServerCounts {
                requests: 1,
                new_conns: 1,
                broken_conns: 0,
            };
            let both = ServerCounts {
                requests: 2,
                new_conns: 2,
                broken_conns: 0,
            };
            if k < 10 {
                iv.servers.insert("rs1".into(), one);
                iv.servers.insert("rs2".into(), one);
            } else {
                iv.servers.insert("rs1".into(), both);
            }
            iv
        })
        .collect();
    super::registry_tests::web_report(intervals)
}

#[test]
fn an_event_applied_a_few_ms_late_does_not_count_its_interval_as_before() {
    let s = Scenario::parse(Path::new("drain.toml"), DRAIN_RS2).unwrap();
    let c = Collected {
        // The lab applied the drain 3 ms after its time.
        events: vec![(1003, s.events[0].clone())],
        clients: vec![report()],
        ..Default::default()
    };
    let m = metrics(&s, &c, &timeline(&s, &c));
    assert_eq!(m.get("share:rs1"), Some(&0.5));
    assert_eq!(m.get("share:rs2"), Some(&0.5));
}
