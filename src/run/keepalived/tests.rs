//! Tests of `run::keepalived`.

use super::*;

const SCENARIO: &str = r#"
[failover]
advert_interval = "100ms"
priorities = [150, 100]
peer = "keepalived"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[load]]
name = "web"
mode = "open"
rate = 10
connection = "new"
duration = "2s"
"#;

#[test]
fn the_config_matches_the_tapvs_director() {
    let s = Scenario::parse(Path::new("t.toml"), SCENARIO).unwrap();
    let text = config_text(&s, 2, Path::new("/run/tapvs/tv0000/d2-notify.sh"));
    assert!(text.contains("vrrp_version 3"));
    assert!(text.contains("virtual_router_id 51"));
    assert!(text.contains("priority 100"));
    assert!(text.contains("advert_int 0.1"));
    assert!(text.contains("198.18.0.100/32 dev eth0"));
    assert!(text.contains("notify_master \"/run/tapvs/tv0000/d2-notify.sh master\""));
    assert!(!text.contains("nopreempt"));
}

#[test]
fn the_notify_script_writes_event_lines_the_runner_reads() {
    use crate::node::event::{DirectorEvent, VrrpState};
    let dir = std::env::temp_dir().join(format!("tapvs-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (script, log) = (dir.join("notify.sh"), dir.join("d2.events"));
    std::fs::write(&script, notify_script(&log)).unwrap();
    for state in ["backup", "master", "fault"] {
        let ok = std::process::Command::new("sh")
            .arg(&script)
            .arg(state)
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let read = crate::run::director_events::DirectorLog::read(&log);
    let _ = std::fs::remove_dir_all(&dir);
    let vrrp = |state| DirectorEvent::Vrrp { state };
    let events: Vec<_> = read.transitions.into_iter().map(|(_, e)| e).collect();
    assert_eq!(
        events,
        [
            vrrp(VrrpState::Backup),
            vrrp(VrrpState::Master),
            DirectorEvent::GratuitousArp,
            vrrp(VrrpState::Stopped)
        ]
    );
    assert_eq!(read.unreadable, 0);
}
