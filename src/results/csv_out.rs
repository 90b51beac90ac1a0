//! `timeline.csv` (one row per interval) and `summary.csv` (one header row, one value row).
//!
//! Floats have a fixed number of decimals in the timeline, so a redraw writes the same bytes;
//! metrics in the summary use Rust's shortest round-trip form, so they parse back exactly.

use super::{ResultsError, RunRecord, derive};
use std::path::Path;

/// Header of `timeline.csv` for this run (error kinds and servers depend on the run).
pub(super) fn timeline_header(run: &RunRecord) -> Vec<String> {
    let mut h: Vec<String> = ["t_ms", "ok", "failed"].map(String::from).to_vec();
    h.extend(
        derive::error_kinds(run)
            .iter()
            .map(|k| format!("failed_{k}")),
    );
    h.extend(
        [
            "req_per_s",
            "resp_mbit_per_s",
            "new_conns",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "director_packets",
            "director_bytes",
            "master",
        ]
        .map(String::from),
    );
    for s in derive::server_names(run) {
        h.push(format!("req_{s}"));
        h.push(format!("newconn_{s}"));
    }
    h
}

pub(super) fn write_timeline(path: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    let kinds = derive::error_kinds(run);
    let servers = derive::server_names(run);
    let ms = |us: u64| format!("{:.3}", us as f64 / 1000.0);
    let mut rows = vec![timeline_header(run)];
    for row in &run.timeline {
        let c = &row.client;
        let mut r = vec![row.t_ms.to_string(), c.ok.to_string(), c.failed.to_string()];
        r.extend(
            kinds
                .iter()
                .map(|k| c.errors.get(k).copied().unwrap_or(0).to_string()),
        );
        r.push(format!("{:.3}", derive::per_s(run, c.ok)));
        r.push(format!("{:.3}", derive::per_s(run, c.bytes * 8) / 1e6));
        r.push(c.new_conns.to_string());
        r.push(ms(c.latency.p50_us));
        r.push(ms(c.latency.p90_us));
        r.push(ms(c.latency.p99_us));
        r.push(ms(c.latency.max_us));
        r.push(row.director_packets.to_string());
        r.push(row.director_bytes.to_string());
        r.push(row.master.clone());
        for s in &servers {
            let counts = c.servers.get(s).copied().unwrap_or_default();
            r.push(counts.requests.to_string());
            r.push(counts.new_conns.to_string());
        }
        rows.push(r);
    }
    write_rows(path, &rows)
}

/// Header and values of `summary.csv`, in column order.
pub(super) fn summary_columns(run: &RunRecord) -> Vec<(String, String)> {
    let mut cols: Vec<(String, String)> = vec![
        // Not the run id: the same scenario with the same seed in the emulator writes the same
        // bytes (the folder's name tells the run).
        ("scenario".into(), run.scenario.clone()),
        ("engine".into(), run.engine.clone()),
        ("seed".into(), run.seed.to_string()),
        ("revision".into(), run.revision.clone()),
        ("mode".into(), run.mode.clone()),
        ("scheduler".into(), run.scheduler.clone()),
    ];
    cols.extend(run.metrics.iter().map(|(k, v)| (k.clone(), v.to_string())));
    for e in &run.expectations {
        let mut name = format!("expect:{}", e.metric);
        // Two bounds on one metric (">= 1", "<= 5") get distinct columns.
        if cols.iter().any(|(n, _)| *n == name) {
            name = format!("expect:{} {}", e.metric, e.bound);
        }
        let verdict = if e.pass { "pass" } else { "fail" };
        cols.push((name, verdict.into()));
    }
    cols
}

pub(super) fn write_summary(path: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    let (header, values): (Vec<String>, Vec<String>) = summary_columns(run).into_iter().unzip();
    write_rows(path, &[header, values])
}

pub(super) fn write_rows(path: &Path, rows: &[Vec<String>]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    for r in rows {
        w.write_record(r).map_err(err)?;
    }
    w.flush().map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })
}
