//! What forged VRRP adverts (`spoof_vrrp`) cost: time without any master, gratuitous-ARP
//! bursts begun while they went on, and how many of them the directors dropped as coming from
//! no peer.

use super::execute::Collected;
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Values;
use crate::node::event::DirectorEvent;
use crate::scenario::{Action, Scenario};

/// After the last forged advert, how long a re-announcement still counts as caused by it.
const SPOOF_TAIL_MS: u64 = 1000;

/// Copies of each forged advert a director gets: the group's and its own unicast one.
pub const COPIES_PER_DIRECTOR: u64 = 2;

/// `no_master_ms` with two tapvs directors; the spoofing metrics with `spoof_vrrp` events.
pub fn vrrp_metrics(m: &mut Values, scenario: &Scenario, c: &Collected) {
    let tapvs_pair = scenario.failover.is_some()
        && scenario.lab.mode.has_director()
        && scenario.tapvs_directors().len() == 2;
    if tapvs_pair {
        // Sampled like split_brain_ms: intervals in which no director was active.
        let interval = scenario.interval.as_millis() as u64;
        let none = c.masters.iter().filter(|(_, who)| who.is_empty()).count() as u64;
        m.set(&cat::NO_MASTER_MS, (none * interval) as f64);
    }
    let spoofs: Vec<_> = c
        .events
        .iter()
        .filter(|(_, e)| e.action == Action::SpoofVrrp)
        .collect();
    if spoofs.is_empty() {
        return;
    }
    let from = spoofs.iter().map(|(at, _)| *at).min().unwrap_or(0);
    let to = spoofs
        .iter()
        .map(|(at, e)| at + e.duration.as_millis() as u64)
        .max()
        .unwrap_or(0)
        + SPOOF_TAIL_MS;
    let bursts = c
        .transitions
        .iter()
        .filter(|(_, t, what)| (from..=to).contains(t) && *what == DirectorEvent::GratuitousArp)
        .count();
    m.set(&cat::GARP_BURSTS_DURING_SPOOF, bursts as f64);
    let dropped: f64 = c
        .vrrp
        .iter()
        .map(|(_, v)| v.counters.dropped_not_peer as f64)
        .sum();
    m.set(&cat::VRRP_NOT_PEER_DROPPED, dropped);
    let forged: u64 = spoofs.iter().map(|(_, e)| u64::from(e.spoof_count())).sum();
    let expected = forged * COPIES_PER_DIRECTOR * scenario.tapvs_directors().len() as u64;
    m.set(
        &cat::VRRP_SPOOFED_COUNTED_SHARE,
        dropped / (expected as f64).max(1.0),
    );
}

#[cfg(test)]
mod tests {
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
}
