//! `tapvs bench` as a user runs it: a short bench writes bench.csv (a measured row per
//! repetition × path × test), summary.md with the ratios and the charts, and leaves no namespace
//! behind; Ctrl-C in the middle leaves nothing either; bad options are refused with the reason.
//! The lab parts are root only (skipped with a message otherwise, a failure under CI).

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The lab tests here run one at a time (each compares the namespaces before and after).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn tapvs() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tapvs"))
}

fn namespaces() -> HashSet<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapvs-bench-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

const PATHS: &str = "no-balancer,kernel-dnat,wire-dr-vnet,tapvs-dr,tapvs-nat";
const TESTS: &str = "udp-frames,http-newconn";

#[test]
fn a_short_bench_writes_its_files_and_leaves_nothing() {
    if !common::lab_can_run("a_short_bench_writes_its_files_and_leaves_nothing") {
        return;
    }
    let _turn = one_at_a_time();
    let before = namespaces();
    let dir = scratch("files");
    let out = tapvs()
        .args([
            "bench",
            "--quick",
            "--paths",
            PATHS,
            "--tests",
            TESTS,
            "--results",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench failed: {stderr}");
    assert!(
        stderr.contains("repetition 1/1"),
        "no progress line: {stderr}"
    );
    let left: Vec<_> = namespaces().difference(&before).cloned().collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");

    let mut csv = csv::Reader::from_path(dir.join("bench.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 5 * 2, "one row per path and test: {rows:?}");
    for row in &rows {
        let value: f64 = row[col("value")].parse().unwrap_or(f64::NAN);
        assert!(value > 0.0, "a cell without a value: {row:?}");
        assert!(row[col("load_1m")].parse::<f64>().is_ok(), "{row:?}");
        if &row[col("test")] == "udp-frames" && &row[col("path")] != "no-balancer" {
            let cpu: f64 = row[col("box_cpu_us_per_frame")].parse().unwrap();
            assert!(cpu > 0.0 && cpu < 1000.0, "CPU per frame {cpu}: {row:?}");
        }
    }
    let summary = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert_eq!(
        summary.trim(),
        stdout.split("bench: wrote").next().unwrap().trim()
    );
    for needle in [
        "### udp-frames (frames/s)",
        "| tapvs-dr |",
        "DR director CPU per frame ÷ raw wire (DR, vnet)",
        "NAT HTTP new connections ÷ kernel DNAT",
    ] {
        assert!(summary.contains(needle), "`{needle}` missing: {summary}");
    }
    for chart in ["bench-udp-frames", "bench-udp-cpu", "bench-http-newconn"] {
        for ext in ["png", "svg"] {
            let file = dir.join(format!("{chart}.{ext}"));
            let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
            assert!(size > 1000, "{} missing or empty", file.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_in_the_middle_of_a_bench_leaves_nothing() {
    if !common::lab_can_run("ctrl_c_in_the_middle_of_a_bench_leaves_nothing") {
        return;
    }
    let _turn = one_at_a_time();
    let before = namespaces();
    let dir = scratch("interrupted");
    let mut bench = tapvs()
        .args(["bench", "--quick", "--paths", PATHS, "--results"])
        .arg(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Well into the measurements: the labs are up and a middle box runs.
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) && namespaces().difference(&before).count() < 10
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: kill(2) on the PID of our own child.
    unsafe {
        libc::kill(bench.id() as libc::pid_t, libc::SIGINT);
    }
    let status = bench.wait().unwrap();
    assert!(
        !status.success(),
        "an interrupted bench must not report success"
    );
    let left: Vec<_> = namespaces().difference(&before).cloned().collect();
    assert!(left.is_empty(), "namespaces left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_options_are_refused_with_the_reason() {
    let out = tapvs()
        .args(["bench", "--paths", "tapvs-dr,nope"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown path `nope`"), "{stderr}");
    assert!(
        stderr.contains("tapvs-nat"),
        "the choices are listed: {stderr}"
    );

    let out = tapvs()
        .args(["wire", "--raw", "--a", "x", "--b", "y", "--loss-pct", "5"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("takes no impairment option"), "{stderr}");

    let out = tapvs()
        .args(["wire", "--a", "x", "--hairpin-to", "02:00:00:00:00:01"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--raw"), "{stderr}");
}
