//! One cell of the bench: one test on one path in one repetition, measured into a [`Row`].

use super::blast;
use super::cpu;
use super::labs::{Labs, MiddleBox};
use super::plan::{Path, Test, Timing};
use super::report::Row;
use crate::metrics::ClientReport;
use anyhow::{Context, bail};
use std::path::Path as FsPath;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The middle box runs on this core in the frames test; the sender on core 0.
const MIDDLE_CORE: usize = 1;

/// Measures `test` on the path of `middle` (its middle box running) into a row.
pub fn cell(
    labs: &Labs,
    middle: &MiddleBox,
    test: Test,
    timing: &Timing,
    state: &FsPath,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Row> {
    let path = middle.path;
    let mut row = Row::new(path, test);
    row.load_1m = cpu::load_average();
    match test {
        Test::UdpFrames => udp_frames(labs, middle, timing, stop, &mut row)?,
        _ => {
            let report = client(labs, path, test, timing, state)?;
            let t = &report.total;
            let seconds = timing.duration(test).as_secs_f64();
            row.requests_ok = Some(t.ok);
            row.requests_failed = Some(t.failed);
            row.req_per_s = Some(t.ok as f64 / seconds);
            row.gbit_per_s = Some(t.bytes as f64 * 8.0 / seconds / 1e9);
            row.p50_ms = Some(t.latency.p50_us as f64 / 1000.0);
            row.p99_ms = Some(t.latency.p99_us as f64 / 1000.0);
            row.p999_ms = Some(t.latency.p999_us as f64 / 1000.0);
            if t.ok == 0 {
                row.note = "no request answered".into();
            }
        }
    }
    row.set_value();
    Ok(row)
}

/// 64-byte UDP frames one way for the test's time, the middle box pinned to its core: frames/s
/// the real server's interface received, and CPU per frame (the box process's own time, and its
/// core's busy time, which is the kernel's forwarding for the kernel paths).
fn udp_frames(
    labs: &Labs,
    middle: &MiddleBox,
    timing: &Timing,
    stop: &Arc<AtomicBool>,
    row: &mut Row,
) -> anyhow::Result<()> {
    let path = middle.path;
    labs.udp_cores(path, true)?;
    if let Some(pid) = middle.pid() {
        cpu::pin(pid, 1 << MIDDLE_CORE);
        cpu::real_time(pid, true);
    }
    let measured = blast_and_count(labs, middle, timing, stop, row);
    // The box goes back to an ordinary process on every core, whatever happened.
    if let Some(pid) = middle.pid() {
        cpu::real_time(pid, false);
        cpu::pin(pid, cpu::all_cpus());
    }
    labs.udp_cores(path, false)?;
    measured
}

/// The frames test itself, the middle box already on its core.
fn blast_and_count(
    labs: &Labs,
    middle: &MiddleBox,
    timing: &Timing,
    stop: &Arc<AtomicBool>,
    row: &mut Row,
) -> anyhow::Result<()> {
    let path = middle.path;
    let lab = &labs.get(path.lab()).lab;
    std::thread::sleep(Duration::from_millis(100));
    let rx_before = lab.link_stats("rs1", "eth0")?;
    let box_before = middle.pid().map(cpu::process_ns);
    let core_before = cpu::core_busy(MIDDLE_CORE);
    let started = Instant::now();
    let sent = labs
        .aim(path)
        .and_then(|aim| blast::send(&aim, timing.test, Arc::clone(stop)));
    let sending = started.elapsed();
    // What is still queued reaches the server (or is dropped) within this.
    std::thread::sleep(Duration::from_millis(50));
    let core = cpu::core_busy(MIDDLE_CORE).saturating_sub(core_before);
    let box_ns = middle
        .pid()
        .zip(box_before)
        .map(|(pid, before)| cpu::process_ns(pid).saturating_sub(before));
    let rx = lab.link_stats("rs1", "eth0")?.since(&rx_before).rx_packets;
    let sent = sent?;
    row.frames_sent = Some(sent);
    row.frames_per_s = Some(rx as f64 / sending.as_secs_f64());
    if rx > 0 {
        let per_frame = |ns: f64| ns / 1000.0 / rx as f64;
        row.core_us_per_frame = Some(per_frame(core.as_nanos() as f64));
        row.box_cpu_us_per_frame = match box_ns {
            Some(ns) => Some(per_frame(ns as f64)),
            None if path != Path::Direct => row.core_us_per_frame,
            None => None,
        };
    } else {
        row.note = "no frame arrived".into();
    }
    Ok(())
}

/// Runs `tapvs client` in the clients' namespace for `test` and reads its report.
fn client(
    labs: &Labs,
    path: Path,
    test: Test,
    timing: &Timing,
    state: &FsPath,
) -> anyhow::Result<ClientReport> {
    let lab = &labs.get(path.lab()).lab;
    let out = state.join(format!("client-{}-{}.json", path.name(), test.name()));
    let _ = std::fs::remove_file(&out);
    let mut command = lab.command("cl", labs.exe());
    command.arg("client");
    command.args(["--target", &Labs::target(path).to_string()]);
    command.args(["--load", test.name()]);
    command.args([
        "--duration",
        &format!("{}ms", timing.duration(test).as_millis()),
    ]);
    command.args(client_args(test, timing));
    command.arg("--out").arg(&out);
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let mut child = lab.spawn("client", &mut command)?;
    let deadline = Instant::now() + timing.duration(test) + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait()? {
            if !status.success() {
                bail!("tapvs client exited with {status}");
            }
            break;
        }
        if Instant::now() > deadline {
            super::shell::stop(&mut child);
            bail!("tapvs client did not end in time");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&out).with_context(|| format!("{}", out.display()))?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", out.display()))
}

/// The client options of each test.
fn client_args(test: Test, timing: &Timing) -> Vec<String> {
    let words: Vec<String> = match test {
        Test::BulkTcp => vec![
            "--concurrency=4".into(),
            "--connection=keepalive".into(),
            format!("--response-bytes={}", timing.bulk_bytes),
            "--timeout=10s".into(),
        ],
        Test::KeepAlive => vec![
            "--concurrency=32".into(),
            "--connection=keepalive".into(),
            "--response-bytes=1000".into(),
        ],
        Test::NewConn => vec![
            "--concurrency=64".into(),
            "--connection=new".into(),
            "--clients=1000".into(),
            "--response-bytes=1000".into(),
        ],
        Test::Latency => vec![
            "--mode=open".into(),
            format!("--rate={}", timing.latency_rate),
            "--concurrency=1000".into(),
            "--connection=new".into(),
            "--clients=1000".into(),
            "--response-bytes=1000".into(),
        ],
        Test::UdpFrames => Vec::new(),
    };
    words
}

/// A short keep-alive load that must get answers before a path is measured (the middle box has
/// started, ARP has settled); tried a few times.
pub fn warm_up(labs: &Labs, path: Path, state: &FsPath) -> anyhow::Result<()> {
    let timing = Timing {
        test: Duration::from_millis(300),
        ..Timing::QUICK
    };
    for _ in 0..5 {
        let report = client(labs, path, Test::KeepAlive, &timing, state)?;
        if report.total.ok > 0 {
            // New connections too, so that no path is measured while it first touches the
            // memory of its connection table (a fresh director, a fresh conntrack).
            client(labs, path, Test::NewConn, &timing, state)?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("{}: no request answered while warming up", path.name())
}
