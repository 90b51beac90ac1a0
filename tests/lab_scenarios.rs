//! The lab tests: every scenario marked `ci = true` runs in a real namespace lab through
//! `tapvs run`, and must meet its expectations. They need root (or CAP_NET_ADMIN) and iproute2;
//! without them they skip with a message, except under CI (`CI` set), where that is a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

fn lab_possible() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => Ok(()),
        _ => Err("iproute2's `ip` is missing".into()),
    }
}

fn ci_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let value: toml::Value = toml::from_str(&text).unwrap();
            value.get("ci").and_then(|v| v.as_bool()) == Some(true)
        })
        .collect();
    files.sort();
    files
}

fn lab_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("tv"))
        .map(str::to_string)
        .collect()
}

/// One test runs them one after another: labs running side by side on two cores would measure
/// each other.
#[test]
fn ci_scenarios_meet_their_expectations() {
    if let Err(why) = lab_possible() {
        if std::env::var_os("CI").is_some() {
            panic!("CI is set but the lab tests cannot run: {why}");
        }
        eprintln!("SKIPPED lab scenarios: {why} (run as root to include them)");
        return;
    }
    let results = std::env::temp_dir().join(format!("tapvs-lab-test-{}", std::process::id()));
    let before = lab_namespaces();
    let scenarios = ci_scenarios();
    assert!(scenarios.len() >= 3, "the shipped CI scenarios are found");
    let mut failures = Vec::new();
    // The interoperability scenarios need the real keepalived (`.ci/run` installs it).
    let keepalived = Path::new("/usr/sbin/keepalived").exists();
    for scenario in &scenarios {
        let text = std::fs::read_to_string(scenario).unwrap();
        if text.contains("peer = \"keepalived\"") && !keepalived {
            if std::env::var_os("CI").is_some() {
                failures.push(format!("{}: keepalived is missing", scenario.display()));
            } else {
                eprintln!("SKIPPED {}: keepalived is missing", scenario.display());
            }
            continue;
        }
        let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
            .arg("run")
            .arg("--results")
            .arg(&results)
            .arg(scenario)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("{}\n{stdout}", scenario.display());
        if !out.status.success() {
            failures.push(format!(
                "{}: exit {:?}\n{stdout}\n{}",
                scenario.display(),
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let leaked: Vec<_> = lab_namespaces()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    // Kept when something failed, for the timelines and logs of the failed runs.
    if failures.is_empty() {
        let _ = std::fs::remove_dir_all(&results);
    } else {
        eprintln!("results of the failed runs kept in {}", results.display());
    }
    assert!(leaked.is_empty(), "runs left namespaces behind: {leaked:?}");
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
