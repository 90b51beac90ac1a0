//! `tapvs run --seeds N`: one scenario variant once per seed, the distribution of its
//! metrics written and the expectations `over` seeds checked.

use super::{EngineKind, RunArgs, run_id, run_one};
use crate::lab::Interrupt;
use crate::results::RunRecord;
use crate::scenario::Scenario;
use anyhow::Context;
use std::path::Path;

/// A run's value of `metric`, NaN when it has none.
fn metric(record: &RunRecord, metric: &str) -> f64 {
    record.metrics.get(metric).copied().unwrap_or(f64::NAN)
}

/// Runs `variant` once per seed (`--seeds`, `--seed`), each through [`run_one`] with its ranged
/// events drawn and only the per-run expectations; with N > 1 drops the folders of the seeds that
/// passed, writes `seeds-<run-id>/` and checks the expectations `over` seeds. Returns whether
/// everything held, and the first seed's record (what comparisons and sweeps use).
pub(super) fn seeds(
    variant: &Scenario,
    path: &Path,
    args: &RunArgs,
    interrupt: &Interrupt,
    engine: EngineKind,
) -> anyhow::Result<(bool, RunRecord)> {
    use crate::results::SeedRun;
    let variant = &engine.checkable(variant);
    let base = args.seed.or(variant.lab.seed).unwrap_or_else(|| {
        use std::hash::BuildHasher;
        std::collections::hash_map::RandomState::new().hash_one(run_id())
    });
    let mut runs = Vec::new();
    let mut passed = true;
    for (i, seed) in (0..u64::from(args.seeds)).map(|i| (i, base.wrapping_add(i))) {
        if interrupt.is_set() && !runs.is_empty() {
            break;
        }
        let outcome = run_one(
            &variant.with_seed(seed).per_run(),
            path,
            &args.results,
            interrupt,
            (engine, (i as usize + 1, args.seeds as usize)),
        )?;
        passed &= outcome.passed;
        // A seed outside a bound checked over the seeds keeps its folder too: it is one the
        // distribution's verdict is about.
        let outside = (variant.expectations.iter())
            .filter(|x| x.over.is_some())
            .any(|x| !x.holds(metric(&outcome.record, &x.metric)));
        if args.seeds > 1 && outcome.passed && !outside {
            std::fs::remove_dir_all(&outcome.dir)
                .with_context(|| format!("removing {}", outcome.dir.display()))?;
        }
        let drawn_ms = variant.drawn_times(seed).into_iter();
        runs.push(SeedRun {
            seed,
            drawn_ms: drawn_ms
                .map(|d| (d.column, d.at.as_secs_f64() * 1000.0))
                .collect(),
            record: outcome.record,
        });
    }
    let records: Vec<RunRecord> = runs.iter().map(|r| r.record.clone()).collect();
    let over = crate::scenario::over::check_over(&variant.expectations, &records);
    for (x, spec) in over
        .iter()
        .zip(variant.expectations.iter().filter(|x| x.over.is_some()))
    {
        let verdict = if x.pass { "ok" } else { "FAILED" };
        println!(
            "  {} over {} seeds: {} = {} ({verdict})",
            x.metric,
            runs.len(),
            x.bound,
            x.value
        );
        if !x.pass && !spec.why.is_empty() {
            println!("  {} failed: {}", x.metric, spec.why);
        }
        passed &= x.pass;
    }
    if runs.len() > 1 {
        // Master_Down_Interval of the director that takes over at the failover event, as the
        // sweep chart draws it.
        let mdi = variant.failover.as_ref().map(|f| {
            let backup = f.priorities[variant.takeover_index()];
            crate::results::master_down_ms(f.advert_interval.as_secs_f64() * 1000.0, backup)
        });
        let dir = args
            .results
            .join(&variant.name)
            .join(format!("seeds-{}", run_id()));
        crate::results::write_seeds(&dir, &variant.name, &runs, mdi)?;
        println!("seeds: {} ({} runs)", dir.display(), runs.len());
    }
    let first = runs.into_iter().next().map(|r| r.record);
    Ok((passed, first.context("no seed ran")?))
}
