//! Tests of `ldirectord_cf` in scenarios: what the file gives, and refusals naming the file.

use crate::health::config::{CheckKind, InitialState, OnFailure};
use crate::scenario::{Mode, Scenario};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A scenario file beside an ldirectord.cf in a fresh directory; returns the scenario's path.
fn files(test: &str, scenario: &str, cf: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapvs-ldcf-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("ldirectord.cf"), cf).unwrap();
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario).unwrap();
    path
}

fn cleanup(path: &Path) {
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

const SCENARIO: &str = r#"
ldirectord_cf = "ldirectord.cf"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
[[load]]
name = "web"
mode = "open"
rate = 10
connection = "new"
duration = "2s"
"#;

const CF: &str = "\
checkinterval=5
negotiatetimeout=4
failurecount=3
quiescent=yes
virtual=198.18.0.100:80
\treal=198.18.0.11:80 gate 1
\treal=198.18.0.12:80 gate 4
\tscheduler=wlc
\tpersistent=30
\trequest=\"health\"
\treceive=\"ok\"
";

#[test]
fn the_file_gives_the_service_the_checks_and_the_weights() {
    let path = files("gives", SCENARIO, CF);
    let s = Scenario::load(&path);
    cleanup(&path);
    let s = s.unwrap();
    assert_eq!(s.lab.mode, Mode::Dr);
    assert_eq!(s.service.scheduler.name(), "wlc");
    assert_eq!(s.service.persistence, Duration::from_secs(30));
    let h = s.health.expect("negotiate checks give [health]");
    assert_eq!(h.check, CheckKind::Http);
    assert_eq!(h.path, "/health");
    assert_eq!(h.expect.as_deref(), Some("ok"));
    assert_eq!(h.interval, Duration::from_secs(5));
    assert_eq!(
        h.timeout,
        Duration::from_secs(4),
        "negotiatetimeout for negotiate"
    );
    assert_eq!((h.fall, h.rise), (3, 1));
    assert_eq!(h.initial, InitialState::Down);
    assert_eq!(h.on_failure, OnFailure::Quiescent);
    let weights: Vec<_> = s.real_servers.iter().map(|r| (r.weight, r.port)).collect();
    assert_eq!(weights, [(1, None), (4, None)]);
}

#[test]
fn connect_checks_take_checktimeout_and_masq_means_nat() {
    let cf = "checktimeout=2\nvirtual=198.18.0.100:80\n\treal=198.18.1.11 masq\n\
              \treal=198.18.1.12:8080 masq 2\n\tchecktype=connect\n";
    let path = files("connect", SCENARIO, cf);
    let s = Scenario::load(&path);
    cleanup(&path);
    let s = s.unwrap();
    assert_eq!(s.lab.mode, Mode::Nat);
    let h = s.health.unwrap();
    assert_eq!(h.check, CheckKind::Tcp);
    assert_eq!(h.timeout, Duration::from_secs(2));
    assert_eq!(h.on_failure, OnFailure::Remove, "quiescent defaults to no");
    let weights: Vec<_> = s.real_servers.iter().map(|r| (r.weight, r.port)).collect();
    assert_eq!(weights, [(1, None), (2, Some(8080))]);
}

#[test]
fn refusals_name_the_file_and_the_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            SCENARIO,
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n\tsmtp=x\n",
            "ldirectord.cf:3: `smtp`",
        ),
        (
            SCENARIO,
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n",
            "no `real=198.18.0.12` line",
        ),
        (
            SCENARIO,
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n\treal=198.18.0.12 gate\n\treal=198.18.0.13 gate\n",
            "ldirectord.cf:4: `real`: 198.18.0.13 is not a real server",
        ),
        (
            SCENARIO,
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n\treal=198.18.0.12 masq\n",
            "ldirectord.cf:3: `real`: every real server",
        ),
        (
            SCENARIO,
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\nvirtual=198.18.0.101:80\n\treal=198.18.0.12 gate\n",
            "one service",
        ),
        (
            &format!("{SCENARIO}[service]\nscheduler = \"rr\"\n"),
            CF,
            "`[service]` is given both",
        ),
        (
            &SCENARIO.replace("name = \"rs2\"", "name = \"rs2\"\nweight = 2"),
            CF,
            "weights come from",
        ),
        (
            &SCENARIO.replace("ldirectord.cf\"", "missing.cf\""),
            CF,
            "missing.cf: cannot read",
        ),
        (
            &format!("{SCENARIO}[lab]\nmode = \"nat\"\n"),
            CF,
            "`gate` forwarding means mode dr, but [lab] mode is nat",
        ),
    ];
    for (i, (scenario, cf, want)) in cases.iter().enumerate() {
        let path = files(&format!("refuse{i}"), scenario, cf);
        let e = Scenario::load(&path).map(|_| ()).expect_err(want);
        cleanup(&path);
        assert!(e.to_string().contains(want), "case {i}: {e}");
    }
}

#[test]
fn a_huge_file_name_is_cut_and_the_scenario_named() {
    let huge = "n".repeat(60_000);
    let text = SCENARIO.replace("ldirectord.cf\"", &format!("{huge}\""));
    let e = Scenario::parse(Path::new("s.toml"), &text)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("s.toml: field `ldirectord_cf`"), "{e:.200}");
    assert!(e.len() < 2000, "{} bytes", e.len());
}

#[test]
fn health_may_still_name_the_checker_and_the_real_ldirectord_gets_the_file_as_it_is() {
    let text = format!("{SCENARIO}[health]\nchecker = \"ldirectord\"\n");
    let path = files("checker", &text, CF);
    let s = Scenario::load(&path);
    let other = files(
        "checker-more",
        &format!("{SCENARIO}[health]\nchecker = \"ldirectord\"\nfall = 2\n"),
        CF,
    );
    let refused = Scenario::load(&other);
    cleanup(&path);
    cleanup(&other);
    let s = s.unwrap();
    assert_eq!(s.checker(), crate::scenario::Checker::Ldirectord);
    assert_eq!(
        s.health.as_ref().unwrap().fall,
        3,
        "the checks are the file's"
    );
    assert_eq!(s.ldirectord_cf_text.as_deref(), Some(CF));
    let e = refused.unwrap_err().to_string();
    assert!(e.contains("`[health]` is given both here and by"), "{e}");
}
