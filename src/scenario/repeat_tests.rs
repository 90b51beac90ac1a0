//! Repeated events (`every`, `until`): expanded into single events in time order, with the
//! file's own mistakes still named by their index.

use super::*;

fn scenario(events: &str) -> Result<Scenario, ScenarioError> {
    let text = format!(
        "[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n[[real_server]]\n\
         name = \"rs2\"\n[[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\n\
         connection = \"new\"\nduration = \"60s\"\n{events}"
    );
    Scenario::parse(Path::new("repeat.toml"), &text)
}

fn event(at: &str, action: &str, extra: &str) -> String {
    format!("[[event]]\nat = \"{at}\"\naction = \"{action}\"\nserver = \"rs2\"\n{extra}\n")
}

#[test]
fn repeated_events_are_expanded_in_time_order() {
    let text = event("5s", "kill_server", "every = \"20s\"\nuntil = \"50s\"")
        + &event("10s", "restore_server", "every = \"20s\"\nuntil = \"55s\"");
    let s = scenario(&text).unwrap();
    let got: Vec<(u64, Action)> = s
        .events
        .iter()
        .map(|e| (e.at.as_secs(), e.action))
        .collect();
    use Action::{KillServer as K, RestoreServer as R};
    assert_eq!(got, [(5, K), (10, R), (25, K), (30, R), (45, K), (50, R)]);
    assert!(
        s.events
            .iter()
            .all(|e| e.every.is_none() && e.until.is_none())
    );
}

#[test]
fn bad_repeats_name_the_event_and_field() {
    let cases = [
        (event("5s", "drain", "every = \"10s\""), "event[0].until"),
        (event("5s", "drain", "until = \"10s\""), "event[0].every"),
        (
            event("5s", "drain", "every = \"10ms\"\nuntil = \"9s\""),
            "event[0].every",
        ),
        (
            event("5s", "drain", "every = \"1s\"\nuntil = \"2s\""),
            "event[0].until",
        ),
        (
            event("5s", "drain", "every = \"1s\"\nuntil = \"90s\""),
            "event[0].until",
        ),
        (
            event("9s", "drain", "") + &event("5s", "drain", ""),
            "event[1].at",
        ),
    ];
    for (text, field) in cases {
        let err = scenario(&text).unwrap_err().to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
    // A timeline that grows past the limit is refused, not built.
    let text = event("0s", "drain", "every = \"100ms\"\nuntil = \"60s\"").repeat(20);
    let err = scenario(&text).unwrap_err().to_string();
    assert!(err.contains("more than 10000 events"), "{err}");
}
