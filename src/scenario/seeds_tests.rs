//! Event times as ranges: drawn per seed, the same for the same seed, inside the range, and the
//! timeline sorted again; bad ranges refused with the field and the reason.

use super::seeds::When;
use super::*;
use std::time::Duration;

fn scenario(events: &str) -> Result<Scenario, ScenarioError> {
    let text = format!(
        "[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n[[real_server]]\n\
         name = \"rs2\"\n[[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\n\
         connection = \"new\"\nduration = \"10s\"\n{events}"
    );
    Scenario::parse(Path::new("ranges.toml"), &text)
}

fn event(at: &str, action: &str, server: &str) -> String {
    format!("[[event]]\nat = \"{at}\"\naction = \"{action}\"\nserver = \"{server}\"\n")
}

#[test]
fn ranged_times_are_drawn_per_seed_within_the_range() {
    let s = scenario(&(event("1s..3s", "kill_server", "rs1") + &event("4s", "kill_server", "rs2")))
        .unwrap();
    assert!(s.has_ranges());
    assert_eq!(
        s.events[0].when,
        When::Between(Duration::from_secs(1), Duration::from_secs(3))
    );
    let times: Vec<Duration> = (0..200)
        .map(|seed| s.with_seed(seed).events[0].at)
        .collect();
    let (lo, hi) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    assert!(*lo >= Duration::from_secs(1) && *hi <= Duration::from_secs(3));
    // Spread over the range, not one value: both thirds' ends are reached.
    assert!(
        *lo < Duration::from_millis(1100) && *hi > Duration::from_millis(2900),
        "{lo:?} {hi:?}"
    );
    let one = s.with_seed(42);
    assert_eq!(one.lab.seed, Some(42));
    assert_eq!(
        one.events[0].at,
        s.with_seed(42).events[0].at,
        "same seed, same time"
    );
    assert_ne!(one.events[0].at, s.with_seed(43).events[0].at);
    assert_eq!(one.events[0].when, When::At(one.events[0].at));
    assert_eq!(
        one.events[1].at,
        Duration::from_secs(4),
        "a fixed time stays"
    );
    assert!(!one.has_ranges());
    let drawn = s.drawn_times(42);
    assert_eq!(drawn.len(), 1);
    assert_eq!(drawn[0].column, "event0_kill_server_ms");
    assert_eq!(drawn[0].at, one.events[0].at);
}

#[test]
fn drawn_events_are_sorted_by_their_time() {
    // Two independent ranges back to back and a fixed event between their ends cannot reorder,
    // but a range drawn late still leaves the list in time order.
    let s =
        scenario(&(event("1s..2s", "kill_server", "rs1") + &event("2s..5s", "kill_server", "rs2")))
            .unwrap();
    for seed in 0..50 {
        let one = s.with_seed(seed);
        assert!(one.events.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(one.events[0].server, "rs1");
    }
}

#[test]
fn bad_ranges_name_the_event_and_say_why() {
    let cases = [
        (
            event("3s..2s", "kill_server", "rs1"),
            "event[0].at",
            "ends before it starts",
        ),
        (
            event("3s..11s", "kill_server", "rs1"),
            "event[0].at",
            "ends after the load (10s)",
        ),
        (
            event("3s..4s", "kill_server", "rs1") + &event("3500ms", "kill_server", "rs2"),
            "event[1].at",
            "may not overlap",
        ),
        (event("3s..x", "kill_server", "rs1"), "", "not a duration"),
        (
            event("1s..2s", "kill_server", "rs1") + "every = \"1s\"\nuntil = \"5s\"\n",
            "event[0].at",
            "takes one time, not a range",
        ),
    ];
    for (text, field, reason) in cases {
        let err = scenario(&text).unwrap_err().to_string();
        assert!(
            err.contains("ranges.toml") && err.contains(field) && err.contains(reason),
            "{err}"
        );
    }
}

#[test]
fn checks_see_each_range_at_its_end() {
    // A spoofing that fits after the range's start but not after its end.
    let text = "[failover]\n[[event]]\nat = \"2s..8s\"\naction = \"spoof_vrrp\"\npriority = 254\n\
                interval = \"1s\"\nduration = \"3s\"\n";
    let err = scenario(text).unwrap_err().to_string();
    assert!(err.contains("with each range at its end"), "{err}");
}
