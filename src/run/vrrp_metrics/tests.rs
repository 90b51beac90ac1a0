//! Tests of `run::vrrp_metrics`.

use super::*;
use std::collections::BTreeMap;
use std::path::Path;

const SCENARIO: &str = r#"
interval = "100ms"
[failover]
advert_interval = "100ms"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[load]]
name = "web"
mode = "open"
rate = 10
connection = "new"
duration = "6s"
[[event]]
at = "1s"
action = "spoof_vrrp"
priority = 255
interval = "100ms"
duration = "3s"
"#;

fn collected(masters: &[&str], garps_at: &[u64], dropped: [u64; 2]) -> Collected {
    let s = Scenario::parse(Path::new("t.toml"), SCENARIO).unwrap();
    Collected {
        events: s.events.iter().map(|e| (1000, e.clone())).collect(),
        masters: masters
            .iter()
            .enumerate()
            .map(|(i, who)| {
                let active = who.split('+').filter(|d| !d.is_empty());
                (i as u64 * 100, active.map(String::from).collect())
            })
            .collect(),
        transitions: garps_at
            .iter()
            .map(|t| ("d1".to_string(), *t, DirectorEvent::GratuitousArp))
            .collect(),
        vrrp: ["d1", "d2"]
            .iter()
            .zip(dropped)
            .map(|(d, n)| {
                let mut report = crate::node::event::VrrpReport::default();
                report.counters.dropped_not_peer = n;
                (d.to_string(), report)
            })
            .collect(),
        ..Collected::default()
    }
}

fn metrics(c: &Collected) -> BTreeMap<String, f64> {
    let s = Scenario::parse(Path::new("t.toml"), SCENARIO).unwrap();
    let mut m = Values::default();
    vrrp_metrics(&mut m, &s, c);
    m.into_map()
}

#[test]
fn a_filtered_spoof_costs_nothing_and_is_counted() {
    let m = metrics(&collected(&["d1"; 60], &[], [60, 60]));
    assert_eq!(m["no_master_ms"], 0.0);
    assert_eq!(m["garp_bursts_during_spoof"], 0.0);
    assert_eq!(m["vrrp_not_peer_dropped"], 120.0);
    // 30 adverts, 2 copies to each of 2 directors.
    assert_eq!(m["vrrp_spoofed_counted_share"], 1.0);
}

#[test]
fn an_unfiltered_spoof_shows_up_as_no_master_and_bursts() {
    let mut masters = vec!["d1"; 60];
    masters[10..14].fill("");
    // A burst before the spoofing and one after its tail do not count.
    let m = metrics(&collected(&masters, &[500, 1400, 2000, 5200], [0, 0]));
    assert_eq!(m["no_master_ms"], 400.0);
    assert_eq!(m["garp_bursts_during_spoof"], 2.0);
    assert_eq!(m["vrrp_spoofed_counted_share"], 0.0);
}
