//! Nothing outside the lab's namespaces and Heartbeat's private mount namespaces changes: a
//! run under the real Heartbeat (`manager = "heartbeat"`) leaves every file and folder under
//! /etc, /run and /var as it found it (path, size, modification time), but for what labs own
//! and what other programs on the machine change by themselves ([`VOLATILE`]).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Left out of the comparison, each with why.
const VOLATILE: &[(&str, &str)] = &[
    (
        "/run/tapvs",
        "every lab's state dir, this run's and other runs' on the machine",
    ),
    (
        "/run/netns",
        "the labs' namespace handles (ip netns add/delete)",
    ),
    ("/var/tmp", "other programs' temporary files"),
    (
        "/var/cache/apt",
        "package downloads by other users of the machine",
    ),
    ("/var/lib/apt", "package lists (apt-get update by others)"),
    ("/var/lib/dpkg", "package installs by others"),
    ("/var/log/apt", "package installs by others"),
    ("/var/log/dpkg.log", "package installs by others"),
    ("/var/log/journal", "the system journal"),
    ("/run/systemd", "the init system's own state"),
    ("/run/user", "login sessions"),
];

/// (size, modification time in ns) of every path under `roots`, symlinks not followed.
fn snapshot(roots: &[&str]) -> BTreeMap<PathBuf, (u64, i128)> {
    let mut out = BTreeMap::new();
    let mut todo: Vec<PathBuf> = roots.iter().map(PathBuf::from).collect();
    while let Some(path) = todo.pop() {
        if VOLATILE.iter().any(|(v, _)| path.starts_with(v)) {
            continue;
        }
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        use std::os::unix::fs::MetadataExt;
        let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
        out.insert(path.clone(), (meta.size(), mtime));
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            todo.extend(entries.flatten().map(|e| e.path()));
        }
    }
    out
}

/// What differs between two snapshots, one line each.
fn differences(
    before: &BTreeMap<PathBuf, (u64, i128)>,
    after: &BTreeMap<PathBuf, (u64, i128)>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => out.push(format!("removed  {}", path.display())),
            Some(now) if now != was => out.push(format!(
                "changed  {} (size {} → {}, mtime {} → {})",
                path.display(),
                was.0,
                now.0,
                was.1,
                now.1
            )),
            Some(_) => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        out.push(format!("created  {}", path.display()));
    }
    out
}

#[test]
fn a_heartbeat_run_changes_nothing_under_etc_run_and_var() {
    if !common::lab_can_run("host_untouched") {
        return;
    }
    if !Path::new("/usr/libexec/heartbeat/heartbeat").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Heartbeat is missing (.ci/run installs it)"
        );
        eprintln!("SKIPPED host_untouched: Heartbeat is not installed");
        return;
    }
    let roots = ["/etc", "/run", "/var"];
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/host/heartbeat-brief.toml");
    let results = std::env::temp_dir().join(format!("tapvs-host-test-{}", std::process::id()));
    let before = snapshot(&roots);
    let daemons_before = daemons();
    let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
        .arg("run")
        .arg("--results")
        .arg(&results)
        .arg(&scenario)
        .output()
        .unwrap();
    let after = snapshot(&roots);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir_all(&results);
    let changed = differences(&before, &after);
    assert!(
        changed.is_empty(),
        "the run changed {} path(s) outside the lab:\n{}",
        changed.len(),
        changed.join("\n")
    );
    assert!(
        out.status.success(),
        "the Heartbeat run failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(before.len() > 100, "the snapshot saw the host's files");
    // ldirectord daemonizes under Heartbeat: it must still end with the run.
    let left: Vec<_> = daemons()
        .into_iter()
        .filter(|d| !daemons_before.contains(d))
        .collect();
    assert!(left.is_empty(), "left running after the run: {left:?}");
}

/// The PIDs and names of the Heartbeat and ldirectord processes on the machine (their `comm`
/// in /proc: only looked at, never signalled).
fn daemons() -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if comm == "heartbeat" || comm == "ldirectord" {
            found.push((pid, comm.to_string()));
        }
    }
    found
}
