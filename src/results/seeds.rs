//! Many seeds of one scenario (`tapvs run --seeds N`): `seeds.csv` (one row per seed: the seed,
//! each ranged event's drawn time, then every metric), `seeds-summary.csv` (per metric: min, p50,
//! p90, p99, max, mean over the seeds) and a CDF chart per headline metric that was measured
//! (see [`super::seeds_chart`]).

use super::{ResultsError, RunRecord};
use crate::metrics::catalogue as cat;
use std::path::{Path, PathBuf};

pub const SEEDS_CSV: &str = "seeds.csv";
pub const SEEDS_SUMMARY_CSV: &str = "seeds-summary.csv";

/// The metrics that lead `seeds.csv` and get a chart, in this order.
pub const HEADLINE: [&str; 5] = [
    cat::TAKEOVER_MS.name,
    cat::OUTAGE_MS.name,
    cat::BROKEN_CONNECTIONS.name,
    cat::FAILED_REQUESTS.name,
    cat::LATENCY_P99_MS.name,
];

/// One seed's run.
#[derive(Debug, Clone)]
pub struct SeedRun {
    pub seed: u64,
    /// Each ranged event's drawn time: (column name, ms from the load start).
    pub drawn_ms: Vec<(String, f64)>,
    pub record: RunRecord,
}

/// The distribution of one metric over the seeds, from its finite values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    /// Runs with a finite value.
    pub runs: usize,
    /// Runs without one (not measured, or NaN).
    pub missing: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

/// The `q` quantile (0..=1) of sorted `values` by nearest rank: the smallest value with at least
/// `q` of the values at or below it. NaN when there are none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Stats {
    /// The statistics of the finite values among `values` (NaN throughout when there are none).
    pub fn of(values: &[f64]) -> Stats {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        v.sort_by(f64::total_cmp);
        let mean = if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        };
        Stats {
            runs: v.len(),
            missing: values.len() - v.len(),
            min: quantile(&v, 0.0),
            p50: quantile(&v, 0.5),
            p90: quantile(&v, 0.9),
            p99: quantile(&v, 0.99),
            max: quantile(&v, 1.0),
            mean,
        }
    }
}

/// The metric `name` of each run (NaN where it was not measured).
pub fn values(runs: &[SeedRun], name: &str) -> Vec<f64> {
    runs.iter()
        .map(|r| r.record.metrics.get(name).copied().unwrap_or(f64::NAN))
        .collect()
}

/// Every metric any run measured: the headline ones first, then the others by name.
pub fn metric_names(runs: &[SeedRun]) -> Vec<String> {
    let mut names: Vec<String> = HEADLINE.iter().map(|s| s.to_string()).collect();
    let mut others: Vec<&String> = runs
        .iter()
        .flat_map(|r| r.record.metrics.keys())
        .filter(|k| !HEADLINE.contains(&k.as_str()))
        .collect();
    others.sort();
    others.dedup();
    names.extend(others.into_iter().cloned());
    names
}

/// A cell: the number, or empty when it is not finite.
fn cell(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// Creates `dir` and writes `seeds.csv`, `seeds-summary.csv` and the charts; returns the charts'
/// PNG paths (each has its SVG beside it). `master_down_ms`: with `[failover]`, where the
/// takeover chart draws Master_Down_Interval.
pub fn write_seeds(
    dir: &Path,
    scenario: &str,
    runs: &[SeedRun],
    master_down_ms: Option<f64>,
) -> Result<Vec<PathBuf>, ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let names = metric_names(runs);
    let mut rows = Vec::with_capacity(runs.len() + 1);
    let drawn: Vec<String> = runs
        .first()
        .map(|r| r.drawn_ms.iter().map(|(c, _)| c.clone()).collect())
        .unwrap_or_default();
    let mut header = vec!["seed".to_string()];
    header.extend(drawn);
    header.extend(names.iter().cloned());
    rows.push(header);
    for r in runs {
        let mut row = vec![r.seed.to_string()];
        row.extend(r.drawn_ms.iter().map(|(_, ms)| cell(*ms)));
        row.extend(
            names
                .iter()
                .map(|n| cell(r.record.metrics.get(n).copied().unwrap_or(f64::NAN))),
        );
        rows.push(row);
    }
    super::csv_out::write_rows(&dir.join(SEEDS_CSV), &rows)?;
    let mut summary = vec![
        [
            "metric", "runs", "missing", "min", "p50", "p90", "p99", "max", "mean",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for n in &names {
        let s = Stats::of(&values(runs, n));
        let mut row = vec![n.clone(), s.runs.to_string(), s.missing.to_string()];
        row.extend([s.min, s.p50, s.p90, s.p99, s.max, s.mean].map(cell));
        summary.push(row);
    }
    super::csv_out::write_rows(&dir.join(SEEDS_SUMMARY_CSV), &summary)?;
    let mut charts = Vec::new();
    for name in HEADLINE {
        let line = if name == cat::TAKEOVER_MS.name {
            master_down_ms
        } else {
            None
        };
        let path = dir.join(format!("seeds-{name}.png"));
        if super::seeds_chart::write_cdf(&path, scenario, name, &values(runs, name), line)? {
            charts.push(path);
        }
    }
    Ok(charts)
}
