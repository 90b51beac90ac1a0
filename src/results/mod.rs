//! Results of a run: the folder `results/<scenario>/<run-id>/`, its CSV files and its plots.
//!
//! [`RunRecord`] is everything a run measured; [`write_run`] turns it into `run.json`,
//! `timeline.csv`, `summary.csv`, `timeline.png` and `servers.png`; [`redraw`] rebuilds the CSVs and
//! plots from `run.json` (`tapvs plot DIR`); [`summary_table`] is the short terminal report.
//! Pure file output: no clocks, no processes, no network; imports only [`crate::metrics`].

pub mod bench_chart;
mod canvas;
mod compare;
#[cfg(test)]
mod compare_tests;
mod csv_out;
mod deadtime_sweep;
mod derive;
mod failover_chart;
#[cfg(test)]
mod failover_chart_tests;
mod font;
mod health_chart;
#[cfg(test)]
mod health_chart_tests;
mod marks;
mod plot_common;
mod plot_flood;
mod plot_servers;
mod plot_timeline;
mod seeds;
mod seeds_chart;
#[cfg(test)]
mod seeds_tests;
mod sweep;
#[cfg(test)]
mod sweep_tests;
mod table;
#[cfg(test)]
mod temp_dir;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use compare::{
    COMPARISON_CSV, COMPARISON_METRICS, COMPARISON_PNG, comparison_table, write_comparison,
};
pub use deadtime_sweep::{
    DEADTIME_CSV, DEADTIME_PNG, DeadtimePoint, deadtime_table, write_deadtime_sweep,
};
pub use failover_chart::{FAILOVER_PNG, write_failover_chart};
pub use health_chart::{HEALTH_PNG, write_health_chart};
pub use seeds::{HEADLINE, SEEDS_CSV, SEEDS_SUMMARY_CSV, SeedRun, Stats, quantile, write_seeds};
pub use sweep::{SWEEP_CSV, SWEEP_PNG, SweepPoint, master_down_ms, sweep_table, write_sweep};
pub use table::summary_table;

/// File names inside a result folder.
pub const RUN_JSON: &str = "run.json";
pub const TIMELINE_CSV: &str = "timeline.csv";
pub const SUMMARY_CSV: &str = "summary.csv";
pub const TIMELINE_PNG: &str = "timeline.png";
pub const SERVERS_PNG: &str = "servers.png";
pub const FLOOD_PNG: &str = "flood.png";

/// Everything one `tapvs run SCENARIO` measured; `run.json` holds it whole so plots can be redrawn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Scenario name.
    pub scenario: String,
    /// Unique id of the run, e.g. `20261125-021500-ab12`.
    pub run_id: String,
    /// Git revision that produced the run (may end in `-dirty`).
    pub revision: String,
    /// The seed the directors' random choices came from (`[lab] seed`, or drawn).
    #[serde(default)]
    pub seed: u64,
    /// The engine that ran it: `netns` (namespaces, real time) or `emulated` (virtual time).
    #[serde(default = "netns")]
    pub engine: String,
    /// Forwarding mode: `dr` or `nat`.
    pub mode: String,
    /// Scheduler name (`rr`, `wrr`, `wlc`, ...).
    pub scheduler: String,
    /// Length of each timeline interval in milliseconds.
    pub interval_ms: u64,
    /// Real servers and their weights as configured at the start.
    pub servers: Vec<ServerInfo>,
    /// One row per interval, in time order.
    pub timeline: Vec<TimelineRow>,
    /// Faults and other marks, for the plots.
    #[serde(default)]
    pub events: Vec<EventMark>,
    /// Which director was master when (may be empty).
    #[serde(default)]
    pub masters: Vec<MasterSpan>,
    /// Run metrics by name (`failed_requests`, `outage_ms`, `director_byte_share`, ...).
    /// Non-finite values are written to JSON as `null` and read back as NaN.
    #[serde(default, deserialize_with = "de_metrics")]
    pub metrics: BTreeMap<String, f64>,
    /// The scenario's expectations, evaluated.
    #[serde(default)]
    pub expectations: Vec<ExpectationOutcome>,
    /// A spoofed-SYN flood's window and what happened around it (`flood.png`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood: Option<FloodRecord>,
}

/// A run with a SYN flood: its window and, per interval, the real clients' new connections,
/// the first director's table size and the SYNs sent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodRecord {
    /// The flood's window, milliseconds since the load start.
    pub from_ms: u64,
    pub to_ms: u64,
    /// The table's capacity.
    pub capacity: u64,
    pub samples: Vec<FloodSample>,
}

/// One interval of a [`FloodRecord`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodSample {
    pub t_ms: u64,
    /// Real clients' new-connection requests started in the interval that succeeded, failed.
    pub new_ok: u64,
    pub new_failed: u64,
    /// Connection-table entries at the interval's last sample (0 when none was taken).
    pub table: u64,
    /// Spoofed SYNs sent in the interval.
    pub flood_sent: u64,
}

/// A real server as configured at the start of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerInfo {
    pub name: String,
    pub weight: u32,
}

/// One interval of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimelineRow {
    /// Interval start, milliseconds since load start.
    pub t_ms: u64,
    /// Merged client outcomes of the interval.
    pub client: crate::metrics::Interval,
    /// Packets the director forwarded in this interval.
    pub director_packets: u64,
    /// Bytes the director forwarded in this interval.
    pub director_bytes: u64,
    /// Director that was master (`d1`), empty when unknown.
    pub master: String,
}

/// A mark on the time axis: a fault or an operator action.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMark {
    /// Milliseconds since load start.
    pub at_ms: u64,
    /// Short label, e.g. `drain rs3`, `kill rs2`.
    pub label: String,
}

/// A span of time during which one director was master.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MasterSpan {
    pub from_ms: u64,
    pub to_ms: u64,
    pub director: String,
}

/// One expectation of the scenario and how the run met it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExpectationOutcome {
    /// Metric name, a key of [`RunRecord::metrics`].
    pub metric: String,
    /// Operator and bound as text, e.g. `<= 0`.
    pub bound: String,
    /// The measured value (NaN when the metric was not measured; `null` in JSON).
    #[serde(deserialize_with = "de_f64_or_nan")]
    pub value: f64,
    pub pass: bool,
}

/// Why a result folder could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    /// Creating, reading or writing a file or folder failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Writing a CSV file failed.
    #[error("{}: {source}", path.display())]
    Csv {
        path: PathBuf,
        #[source]
        source: csv::Error,
    },
    /// `run.json` could not be written or parsed.
    #[error("{}: {source}", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    /// Drawing a plot failed (plotters' errors are generic, so only their text is kept).
    #[error("{}: cannot draw plot: {message}", path.display())]
    Plot { path: PathBuf, message: String },
}

/// Creates `dir` and writes `run.json`, the CSV files and the plots of `run` into it.
/// The engine of a record written before there were two.
fn netns() -> String {
    "netns".into()
}

pub fn write_run(dir: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let path = dir.join(RUN_JSON);
    let json = serde_json::to_vec_pretty(run).map_err(|source| ResultsError::Json {
        path: path.clone(),
        source,
    })?;
    std::fs::write(&path, json).map_err(|source| ResultsError::Io { path, source })?;
    write_derived(dir, run)
}

/// Reads `dir/run.json` and rewrites the CSV files and plots next to it (`tapvs plot DIR`).
pub fn redraw(dir: &Path) -> Result<(), ResultsError> {
    let run = read_run(dir)?;
    write_derived(dir, &run)
}

/// Reads `dir/run.json`.
pub fn read_run(dir: &Path) -> Result<RunRecord, ResultsError> {
    let path = dir.join(RUN_JSON);
    let bytes = std::fs::read(&path).map_err(|source| ResultsError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| ResultsError::Json { path, source })
}

/// Everything in the folder that is computed from the record.
fn write_derived(dir: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    csv_out::write_timeline(&dir.join(TIMELINE_CSV), run)?;
    csv_out::write_summary(&dir.join(SUMMARY_CSV), run)?;
    plot_timeline::draw(&dir.join(TIMELINE_PNG), run)?;
    if let Some(flood) = &run.flood {
        plot_flood::draw(&dir.join(FLOOD_PNG), run, flood)?;
    }
    plot_servers::draw(&dir.join(SERVERS_PNG), run)
}

fn de_f64_or_nan<'de, D: Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(de)?.unwrap_or(f64::NAN))
}

fn de_metrics<'de, D: Deserializer<'de>>(de: D) -> Result<BTreeMap<String, f64>, D::Error> {
    let raw = BTreeMap::<String, Option<f64>>::deserialize(de)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}
