//! `tapvs run SCENARIO...`: check every scenario first, then run each in its own lab, write
//! `results/<scenario>/<run-id>/`, print a summary, and fail when an expectation fails.

mod derive;
pub mod director_config;
mod director_events;
mod emulated;
mod engine;
pub(crate) mod execute;
mod flood;
mod health_metrics;
mod heartbeat;
mod keepalived;
mod ldirectord;
mod link_metrics;
pub(crate) mod loads;
mod procs;
mod progress;
mod seeds;
mod timeline;
mod vrrp_metrics;
mod walk;

pub use engine::EngineKind;
pub use execute::{knat_services, topology};

use crate::lab::{Interrupt, check_privileges};
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Metric;
use crate::results::{EventMark, ExpectationOutcome, RunRecord, ServerInfo, SweepPoint};
use crate::scenario::Scenario;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// Options of `tapvs run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files to run, in order.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Where result folders go.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// The engine: `netns` (namespaces and real processes, real time, root) or `emulated`
    /// (virtual time, no root). Default: each scenario's `[lab] engine`, else netns.
    #[arg(long, value_enum)]
    pub engine: Option<EngineKind>,
    /// Runs each scenario (each of its variants) N times, with seeds S, S+1, … (S: `--seed`,
    /// else the scenario's `lab.seed`, else drawn), each ranged event time drawn per seed. Writes
    /// `results/<scenario>/seeds-<run-id>/`: `seeds.csv`, `seeds-summary.csv` and a chart per
    /// measured headline metric (PNG and SVG). With N > 1 a seed's own result folder is kept
    /// only when one of its expectations failed or its value lies outside a bound checked
    /// `over` seeds. Expectations with `over` are checked on the
    /// seeds' distribution and decide the exit status with the others.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub seeds: u32,
    /// The seed of the (first) run: overrides the scenario's `lab.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
}

/// What one scenario run ended with.
pub struct Outcome {
    pub dir: PathBuf,
    pub passed: bool,
    pub record: RunRecord,
}

/// Runs every scenario; returns true when all expectations of all of them held.
pub fn run(args: &RunArgs) -> anyhow::Result<bool> {
    // Every file is checked before any lab exists.
    let scenarios = args
        .scenarios
        .iter()
        .map(|p| Scenario::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = |s: &Scenario| args.engine.unwrap_or(s.lab.engine);
    for (scenario, path) in scenarios.iter().zip(&args.scenarios) {
        scenario.check_engine(path, engine(scenario))?;
        match engine(scenario) {
            // What the emulator cannot run is said before anything runs.
            EngineKind::Emulated => {
                for variant in scenario.variants() {
                    emulated::supports(&variant)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                }
            }
            // keepalived as a peer must be installed: said before any lab exists.
            EngineKind::Netns if scenario.tapvs_directors().len() < scenario.directors().len() => {
                keepalived::find()
                    .with_context(|| format!("{}: field `failover.peer`", path.display()))?;
            }
            EngineKind::Netns => {}
        }
    }
    if scenarios.iter().any(|s| engine(s) == EngineKind::Netns) {
        check_privileges()?;
    }
    let interrupt = Interrupt::register()?;
    let mut all_passed = true;
    let mut records = Vec::new();
    for (scenario, path) in scenarios.iter().zip(&args.scenarios) {
        let mut group = Vec::new();
        let variants = scenario.variants();
        for variant in &variants {
            let (passed, record) = seeds::seeds(variant, path, args, &interrupt, engine(scenario))?;
            all_passed &= passed;
            group.push(record);
        }
        // A scenario that compares modes gets its comparison next to its runs; a sweep of
        // advert intervals gets its chart against the formula.
        if group.len() > 1 {
            compare(&args.results.join(&scenario.name), &group)?;
        }
        if scenario
            .failover
            .as_ref()
            .is_some_and(|f| !f.sweep_advert_intervals.is_empty())
        {
            sweep(&args.results.join(&scenario.name), &variants, &group)?;
        }
        if scenario
            .failover
            .as_ref()
            .is_some_and(|f| !f.sweep_deadtimes.is_empty())
        {
            deadtime_sweep(&args.results.join(&scenario.name), &variants, &group)?;
        }
        records.extend(group);
    }
    if scenarios.len() > 1 {
        compare(&args.results.join("comparison"), &records)?;
    }
    Ok(all_passed)
}

/// Writes and prints the chart of an advert-interval sweep: takeover and outage of each run
/// next to Master_Down_Interval.
fn sweep(parent: &Path, variants: &[Scenario], records: &[RunRecord]) -> anyhow::Result<()> {
    let metric = |r: &RunRecord, m: &Metric| r.metrics.get(m.name).copied().unwrap_or(f64::NAN);
    let points: Vec<SweepPoint> = variants
        .iter()
        .zip(records)
        .filter_map(|(v, r)| {
            let f = v.failover.as_ref()?;
            // The director that takes over at the failover event.
            let hit = ["d2", "d1"][v.takeover_index()];
            Some(SweepPoint {
                run: r.scenario.clone(),
                advert_ms: f.advert_interval.as_secs_f64() * 1000.0,
                backup_priority: f.priorities[usize::from(hit == "d1")],
                takeover_ms: metric(r, &cat::TAKEOVER_MS),
                outage_ms: metric(r, &cat::OUTAGE_MS),
                failed_requests: metric(r, &cat::FAILED_REQUESTS),
            })
        })
        .collect();
    let dir = parent.join(format!("sweep-{}", run_id()));
    crate::results::write_sweep(&dir, &points)?;
    println!("{}", crate::results::sweep_table(&points));
    println!("sweep: {}", dir.display());
    Ok(())
}

/// Writes and prints the chart of a Heartbeat deadtime sweep: takeover and outage of each run
/// next to its deadtime.
fn deadtime_sweep(
    parent: &Path,
    variants: &[Scenario],
    records: &[RunRecord],
) -> anyhow::Result<()> {
    use crate::results::DeadtimePoint;
    let metric = |r: &RunRecord, m: &Metric| r.metrics.get(m.name).copied().unwrap_or(f64::NAN);
    let points: Vec<DeadtimePoint> = variants
        .iter()
        .zip(records)
        .filter_map(|(v, r)| {
            let hb = v.failover.as_ref()?.heartbeat.as_ref()?;
            Some(DeadtimePoint {
                run: r.scenario.clone(),
                keepalive_ms: hb.keepalive.as_secs_f64() * 1000.0,
                deadtime_ms: hb.deadtime.as_secs_f64() * 1000.0,
                takeover_ms: metric(r, &cat::TAKEOVER_MS),
                outage_ms: metric(r, &cat::OUTAGE_MS),
                failed_requests: metric(r, &cat::FAILED_REQUESTS),
            })
        })
        .collect();
    let dir = parent.join(format!("sweep-{}", run_id()));
    crate::results::write_deadtime_sweep(&dir, &points)?;
    println!("{}", crate::results::deadtime_table(&points));
    println!("sweep: {}", dir.display());
    Ok(())
}

/// Writes and prints a comparison of several runs.
fn compare(parent: &Path, records: &[RunRecord]) -> anyhow::Result<()> {
    let dir = parent.join(run_id());
    crate::results::write_comparison(&dir, records)?;
    // Runs with failover loss also get it side by side (broken connections, outage).
    if crate::results::write_failover_chart(&dir, records)? {
        println!(
            "failover loss: {}",
            dir.join(crate::results::FAILOVER_PNG).display()
        );
    }
    // Runs with a dead real server: detection, recovery and what failed meanwhile.
    if crate::results::write_health_chart(&dir, records)? {
        println!(
            "health checks: {}",
            dir.join(crate::results::HEALTH_PNG).display()
        );
    }
    println!("{}", crate::results::comparison_table(records));
    // Speed next to the first run (the reference), measured in this one `tapvs run`.
    let metric = |r: &RunRecord, m: &Metric| r.metrics.get(m.name).copied().unwrap_or(f64::NAN);
    if let Some(first) = records.first() {
        for r in records {
            println!(
                "  {:<32} {:>9.0} req/s ({:.2} x {})   {:>6.2} Gbit/s ({:.2} x)",
                r.scenario,
                metric(r, &cat::THROUGHPUT_RPS),
                metric(r, &cat::THROUGHPUT_RPS) / metric(first, &cat::THROUGHPUT_RPS),
                first.scenario,
                metric(r, &cat::GOODPUT_GBPS),
                metric(r, &cat::GOODPUT_GBPS) / metric(first, &cat::GOODPUT_GBPS),
            );
        }
    }
    println!("comparison: {}", dir.display());
    Ok(())
}

/// Runs one checked scenario and writes its result folder.
pub fn run_one(
    scenario: &Scenario,
    path: &Path,
    results: &Path,
    interrupt: &Interrupt,
    (engine, seed_of): (EngineKind, (usize, usize)),
) -> anyhow::Result<Outcome> {
    let run_id = run_id();
    let dir = results.join(&scenario.name).join(&run_id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::copy(path, dir.join("scenario.toml")).context("copying the scenario")?;
    let revision = git_revision();
    std::fs::write(dir.join("revision.txt"), format!("{revision}\n"))?;
    eprintln!(
        "run: {} in {} ({})",
        scenario.name,
        engine.name(),
        dir.display()
    );
    let end_ms = scenario.load_end().as_millis() as u64;
    let mut progress = progress::Progress::new(&scenario.name, seed_of, engine.name(), end_ms);
    let collected = match engine {
        EngineKind::Netns => execute::execute(scenario, interrupt, &dir, &mut progress)?,
        EngineKind::Emulated => emulated::execute(scenario, interrupt, &dir, &mut progress)?,
    };
    std::fs::write(
        dir.join("director.json"),
        serde_json::to_string_pretty(&collected.director_final)?,
    )?;
    write_director_tables(&dir.join("directors.csv"), &collected.director_tables)?;
    write_memory(&dir.join("memory.csv"), &collected.memory)?;
    let timeline = derive::timeline(scenario, &collected);
    let metrics = derive::metrics(scenario, &collected, &timeline);
    let expectations: Vec<ExpectationOutcome> = scenario
        .expectations
        .iter()
        .map(|x| {
            let value = metrics.get(&x.metric).copied().unwrap_or(f64::NAN);
            ExpectationOutcome {
                metric: x.metric.clone(),
                bound: x.bound_text(),
                value,
                pass: x.holds(value),
            }
        })
        .collect();
    let passed = expectations.iter().all(|x| x.pass);
    let record = RunRecord {
        scenario: scenario.name.clone(),
        run_id,
        revision,
        seed: collected.seed,
        engine: engine.name().into(),
        mode: scenario.lab.mode.name().into(),
        scheduler: format!("{:?}", scenario.service.scheduler).to_lowercase(),
        interval_ms: scenario.interval.as_millis() as u64,
        servers: scenario
            .real_servers
            .iter()
            .map(|r| ServerInfo {
                name: r.name.clone(),
                weight: r.weight,
            })
            .collect(),
        timeline,
        events: collected
            .events
            .iter()
            .map(|(at, e)| EventMark {
                at_ms: *at,
                label: format!("{} {}{}{}", e.action.name(), e.server, e.director, e.link),
            })
            // What the first director's health checks concluded, on the same axis.
            .chain(
                collected
                    .health
                    .iter()
                    .filter(|h| Some(&h.director) == scenario.directors().first())
                    .map(|h| EventMark {
                        at_ms: h.at,
                        label: format!("{} {}", h.server, if h.up { "up" } else { "down" }),
                    }),
            )
            .collect(),
        masters: Vec::new(),
        flood: flood::record(scenario, &collected),
        metrics,
        expectations,
    };
    crate::results::write_run(&dir, &record)?;
    println!("{}", crate::results::summary_table(&record));
    for (x, spec) in record.expectations.iter().zip(&scenario.expectations) {
        if !x.pass && !spec.why.is_empty() {
            println!("  {} failed: {}", x.metric, spec.why);
        }
    }
    println!("results: {}", dir.display());
    Ok(Outcome {
        dir,
        passed,
        record,
    })
}

/// `directors.csv`: each director's state and connection-table size at every sample (with sync,
/// the backup's table follows the master's).
fn write_director_tables(path: &Path, rows: &[(u64, String, bool, usize)]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("{}", path.display()))?;
    w.write_record(["t_ms", "director", "active", "conns"])?;
    for (t, name, active, conns) in rows {
        w.write_record([
            t.to_string(),
            name.clone(),
            u8::from(*active).to_string(),
            conns.to_string(),
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// `memory.csv`: each director process's resident memory, once a second.
fn write_memory(path: &Path, rows: &[execute::MemorySample]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path).with_context(|| format!("{}", path.display()))?;
    w.write_record(["t_ms", "director", "pid", "rss_kib"])?;
    for r in rows {
        let (t, pid, rss) = (r.t_ms.to_string(), r.pid.to_string(), r.rss_kib.to_string());
        w.write_record([t.as_str(), r.director.as_str(), pid.as_str(), rss.as_str()])?;
    }
    w.flush()?;
    Ok(())
}

pub(super) fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, mo, d) = civil_from_days(days as i64);
    format!(
        "{y:04}{mo:02}{d:02}-{:02}{:02}{:02}-{:04x}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        (now.subsec_nanos() ^ std::process::id()) & 0xffff
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `git rev-parse HEAD`, with `-dirty` when the tree has changes; `unknown` outside git.
fn git_revision() -> String {
    let out = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match out(&["rev-parse", "HEAD"]) {
        Some(rev) => {
            let dirty = out(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{rev}-dirty") } else { rev }
        }
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil_from_days(0), (1970, 1, 1));
        assert_eq!(super::civil_from_days(20_417), (2025, 11, 25));
    }
}
