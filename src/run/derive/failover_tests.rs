//! Which fault is the failover: the master's, not an earlier restart of the backup.

use super::*;
use crate::node::event::DirectorEvent;
use std::path::Path;

/// The backup d2 restarted at 1.5–2 s, then the master d1 killed at 5 s.
const BACKUP_RESTARTED: &str = r#"
name = "backup-restarted"
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
rate = 100
connection = "new"
duration = "8s"
[[event]]
at = "1.5s"
action = "kill_director"
director = "d2"
[[event]]
at = "2s"
action = "restart_director"
director = "d2"
[[event]]
at = "5s"
action = "kill_director"
director = "d1"
"#;

fn collected(s: &Scenario, masters: Vec<(u64, Vec<String>)>) -> Collected {
    Collected {
        events: (s.events.iter())
            .map(|e| (e.at.as_millis() as u64, e.clone()))
            .collect(),
        masters,
        transitions: vec![("d2".into(), 5300, DirectorEvent::GratuitousArp)],
        ..Default::default()
    }
}

fn takeover(masters: Vec<(u64, Vec<String>)>) -> Option<f64> {
    let s = Scenario::parse(Path::new("backup-restarted.toml"), BACKUP_RESTARTED).unwrap();
    let c = collected(&s, masters);
    metrics(&s, &c, &timeline(&s, &c))
        .get("takeover_ms")
        .copied()
}

#[test]
fn the_takeover_follows_the_masters_fault_not_the_backups_restart() {
    let d1_master = (0..80u64)
        .map(|k| (k * 100, vec!["d1".to_string()]))
        .collect();
    assert_eq!(takeover(d1_master), Some(300.0));
}

#[test]
fn without_a_known_master_the_first_fault_counts() {
    // d2's gratuitous ARP follows its own kill: no takeover by another director.
    assert!(takeover(Vec::new()).is_some_and(f64::is_nan));
}
