//! `tapvs bench`: tapvs side by side with what a user would otherwise pick (the kernel's bridge,
//! router and NAT, HAProxy) and with the physical limit (the raw TAP wire), in one command and
//! one lab shape. Repetitions are the outer loop, so a noisy minute hits every path alike; it
//! writes `bench.csv`, `summary.md` and a chart per test (PNG and SVG), and shows its progress.

mod blast;
mod cpu;
mod director;
mod labs;
mod measure;
pub mod plan;
pub mod report;
mod shell;

use crate::lab::Interrupt;
use anyhow::Context;
use labs::Labs;
use plan::{Path, Test, Timing};
use report::Row;
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Options of `tapvs bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// One repetition of 1 s tests (under 2 minutes) instead of three of 2 s (under 10).
    #[arg(long)]
    pub quick: bool,
    /// Repetitions (the outer loop) [default: 3, --quick: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub repetitions: Option<u32>,
    /// Only these paths (comma-separated): no-balancer, kernel-bridge, kernel-router,
    /// kernel-dnat, haproxy, wire-dr, wire-dr-vnet, wire-nat, wire-nat-vnet, tapvs-dr, tapvs-nat,
    /// and (frames test only) wire-dr-uring, wire-nat-uring, tapvs-dr-uring, tapvs-nat-uring.
    #[arg(long, value_delimiter = ',')]
    pub paths: Vec<Path>,
    /// Only these tests (comma-separated): udp-frames, bulk-tcp, http-keepalive, http-newconn,
    /// latency.
    #[arg(long, value_delimiter = ',')]
    pub tests: Vec<Test>,
    /// Seconds each test measures [default: 2, --quick: 1].
    #[arg(long, value_parser = parse_seconds)]
    pub seconds: Option<f64>,
    /// Where to write bench.csv, summary.md and the charts.
    #[arg(long, default_value = "results/bench")]
    pub results: PathBuf,
}

/// Runs the bench; the summary goes to stdout, the progress to stderr.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let mut timing = if args.quick {
        Timing::QUICK
    } else {
        Timing::FULL
    };
    if let Some(n) = args.repetitions {
        timing.repetitions = n;
    }
    if let Some(s) = args.seconds {
        timing.test = Duration::from_secs_f64(s);
    }
    let mut paths = if args.paths.is_empty() {
        Path::ALL.to_vec()
    } else {
        args.paths.clone()
    };
    let mut tests = if args.tests.is_empty() {
        Test::ALL.to_vec()
    } else {
        args.tests.clone()
    };
    // Each once, in the order given.
    let mut seen = std::collections::HashSet::new();
    paths.retain(|&p| seen.insert(p));
    let mut seen = std::collections::HashSet::new();
    tests.retain(|&t| seen.insert(t));
    let mut notes = Vec::new();
    if paths.contains(&Path::Haproxy) && crate::scenario::command::find("haproxy").is_err() {
        paths.retain(|&p| p != Path::Haproxy);
        notes.push(
            "haproxy: skipped, HAProxy is not installed (Debian: `apt-get install haproxy`)"
                .to_string(),
        );
    }
    crate::lab::check_privileges()?;
    std::fs::create_dir_all(&args.results)
        .with_context(|| format!("creating {}", args.results.display()))?;
    let interrupt = Interrupt::register()?;
    let exe = std::env::current_exe().context("finding the tapvs binary")?;
    // A path none of the chosen tests runs on (HAProxy and UDP, io_uring and HTTP) is left out.
    paths.retain(|p| tests.iter().any(|&t| p.runs(t)));
    if paths.is_empty() {
        anyhow::bail!(
            "no chosen test runs on the chosen paths (haproxy carries no UDP; the *-uring paths run udp-frames only)"
        );
    }
    let cells = plan::cells(&paths, &tests, 0);
    let total_cells = cells.len() * timing.repetitions as usize;
    let nominal: f64 = cells.iter().map(|&(_, t)| nominal_s(&timing, t)).sum();
    let estimate = Duration::from_secs_f64(nominal * f64::from(timing.repetitions) + 10.0);
    let max_seconds = (estimate.as_secs() * 3).max(300);
    eprintln!(
        "bench: {} path(s), {} test(s), {} repetition(s) of {} s tests: about {}",
        paths.len(),
        tests.len(),
        timing.repetitions,
        timing.test.as_secs_f64(),
        minutes(estimate)
    );
    let labs = Labs::up(&paths, &exe, max_seconds)?;
    let state = labs
        .dr
        .as_ref()
        .or(labs.nat.as_ref())
        .or(labs.kernel.as_ref())
        .map(|l| l.lab.state_dir())
        .context("no lab was built")?;
    let outcome = repetitions(
        &labs,
        &paths,
        &tests,
        &timing,
        &state,
        &interrupt,
        total_cells,
    );
    let down = labs.down();
    eprintln!();
    let rows = outcome?;
    down?;
    let csv = args.results.join("bench.csv");
    report::write_csv(&csv, &rows)?;
    let header = format!(
        "## tapvs bench{}: {} repetition(s) of {} s tests",
        if args.quick { " --quick" } else { "" },
        timing.repetitions,
        timing.test.as_secs_f64()
    );
    let mut summary = report::summary(&rows, &paths, &tests, &header);
    for note in &notes {
        summary.push_str(&format!("\nNote: {note}\n"));
    }
    std::fs::write(args.results.join("summary.md"), &summary)?;
    let charts = crate::results::bench_chart::write_all(&args.results, &rows, &paths, &tests)?;
    println!("{summary}");
    println!(
        "bench: wrote {}, {} and {} chart(s) (PNG and SVG)",
        csv.display(),
        args.results.join("summary.md").display(),
        charts
    );
    Ok(())
}

/// Every repetition; each runs every path, each path its tests.
fn repetitions(
    labs: &Labs,
    paths: &[Path],
    tests: &[Test],
    timing: &Timing,
    state: &std::path::Path,
    interrupt: &Interrupt,
    total_cells: usize,
) -> anyhow::Result<Vec<Row>> {
    let started = Instant::now();
    let mut rows = Vec::new();
    let mut done = 0usize;
    let per_rep: f64 = plan::cells(paths, tests, 0)
        .iter()
        .map(|&(_, t)| nominal_s(timing, t))
        .sum();
    let mut clock = Clock {
        started,
        nominal_all: per_rep * f64::from(timing.repetitions),
        nominal_done: 0.0,
    };
    for rep in 1..=timing.repetitions {
        let cells = plan::cells(paths, tests, rep - 1);
        let mut i = 0;
        while i < cells.len() {
            let path = cells[i].0;
            let path_tests: Vec<Test> = cells[i..]
                .iter()
                .take_while(|(p, _)| *p == path)
                .map(|&(_, t)| t)
                .collect();
            i += path_tests.len();
            let middle = labs.begin(path, state)?;
            let ready = measure::warm_up(labs, path, state).map_err(|e| {
                let tail = labs.log_tail(path);
                if tail.is_empty() {
                    e
                } else {
                    e.context(format!("its log: {tail}"))
                }
            });
            for &test in &path_tests {
                interrupt.check()?;
                progress(rep, timing, path, test, done, total_cells, &clock);
                let mut row = match &ready {
                    Err(e) => Row::failed(path, test, format!("{e:#}")),
                    Ok(()) => measure::cell(labs, &middle, test, timing, state, &interrupt.flag())
                        .unwrap_or_else(|e| Row::failed(path, test, format!("{e:#}"))),
                };
                row.repetition = rep;
                rows.push(row);
                done += 1;
                clock.nominal_done += nominal_s(timing, test);
            }
            labs.end(middle)?;
        }
    }
    Ok(rows)
}

/// What a cell should take: its test's time and about 0.6 s of starting and reading.
fn nominal_s(timing: &Timing, test: Test) -> f64 {
    timing.duration(test).as_secs_f64() + 0.6
}

/// Time spent against time planned, for the time left.
struct Clock {
    started: Instant,
    nominal_all: f64,
    nominal_done: f64,
}

/// The progress line: repetition, path, test, cells done, time left (the plan's remainder at
/// the pace so far).
fn progress(
    rep: u32,
    timing: &Timing,
    path: Path,
    test: Test,
    done: usize,
    total: usize,
    clock: &Clock,
) {
    let pace = if clock.nominal_done > 0.0 {
        clock.started.elapsed().as_secs_f64() / clock.nominal_done
    } else {
        1.0
    };
    let left = Duration::from_secs_f64((clock.nominal_all - clock.nominal_done).max(0.0) * pace);
    eprint!(
        "\rbench: repetition {rep}/{} · {:<13} · {:<14} · {}/{total} · {} left   ",
        timing.repetitions,
        path.name(),
        test.name(),
        done + 1,
        minutes(left)
    );
    let _ = std::io::stderr().flush();
}

fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if (0.2..=60.0).contains(&s) => Ok(s),
        _ => Err(format!("`{text}`: expected seconds from 0.2 to 60")),
    }
}

fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    format!("{}m{:02}s", s / 60, s % 60)
}
