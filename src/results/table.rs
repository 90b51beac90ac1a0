//! The short human summary of a run printed at the end of `tapvs run` (formatting is fine here).

use super::RunRecord;
use super::derive::{self, Share};
use crate::metrics::catalogue as cat;
use std::fmt::Write;

/// Metrics shown in the head of the table, so not repeated under "other metrics" (`p50_ms`
/// and `p99_ms`: their names in older result folders).
const SHOWN: [&str; 5] = [
    cat::DIRECTOR_BYTE_SHARE.name,
    cat::LATENCY_P50_MS.name,
    "p50_ms",
    cat::LATENCY_P99_MS.name,
    "p99_ms",
];

/// Key metrics, per-server shares against the weights, and every expectation as PASS/FAIL.
pub fn summary_table(run: &RunRecord) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_table(&mut out, run);
    out
}

fn write_table(out: &mut String, run: &RunRecord) -> std::fmt::Result {
    let t = derive::totals(run);
    writeln!(
        out,
        "{} · run {} · rev {} · {}/{} · {} intervals of {} ms",
        run.scenario,
        run.run_id,
        run.revision,
        run.mode,
        run.scheduler,
        run.timeline.len(),
        run.interval_ms
    )?;
    let kinds: Vec<String> = t.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
    let kinds = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    let rate = if t.duration_s > 0.0 {
        t.ok as f64 / t.duration_s
    } else {
        0.0
    };
    writeln!(
        out,
        "requests   ok {}   failed {}{}   {:.1} req/s",
        t.ok, t.failed, kinds, rate
    )?;
    let how = if t.latency_exact {
        ""
    } else {
        "   (estimated from per-interval percentiles)"
    };
    writeln!(
        out,
        "latency    p50 {} ms   p99 {} ms{how}",
        num(t.p50_ms),
        num(t.p99_ms)
    )?;
    if let Some(v) = run.metrics.get(cat::DIRECTOR_BYTE_SHARE.name) {
        writeln!(out, "director   byte share {}", num(*v))?;
    }
    write_shares(out, &derive::shares(run), run)?;

    let others: Vec<(&String, &f64)> = run
        .metrics
        .iter()
        .filter(|(k, _)| !SHOWN.contains(&k.as_str()))
        .collect();
    if !others.is_empty() {
        writeln!(out, "\nother metrics")?;
        let w = others.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in others {
            writeln!(out, "  {k:<w$}  {}", num(*v))?;
        }
    }
    if !run.expectations.is_empty() {
        writeln!(out, "\nexpectations")?;
        let w = run
            .expectations
            .iter()
            .map(|e| e.metric.len() + 1 + e.bound.len())
            .max()
            .unwrap_or(0);
        for e in &run.expectations {
            let verdict = if e.pass { "PASS" } else { "FAIL" };
            let what = format!("{} {}", e.metric, e.bound);
            writeln!(out, "  {verdict}  {what:<w$}   value {}", num(e.value))?;
        }
        let failed = run.expectations.iter().filter(|e| !e.pass).count();
        writeln!(
            out,
            "  {} of {} expectations met",
            run.expectations.len() - failed,
            run.expectations.len()
        )?;
    }
    Ok(())
}

fn write_shares(out: &mut String, shares: &[Share], run: &RunRecord) -> std::fmt::Result {
    if shares.is_empty() {
        return Ok(());
    }
    let w = shares
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
        .max(6);
    writeln!(
        out,
        "\n{:<w$}  weight  requests   share  expected",
        "server"
    )?;
    for s in shares {
        let weight = run
            .servers
            .iter()
            .find(|c| c.name == s.name)
            .map_or("-".to_string(), |c| c.weight.to_string());
        let expected = s
            .expected
            .map_or("-".to_string(), |e| format!("{:.1}%", e * 100.0));
        writeln!(
            out,
            "{:<w$}  {:>6}  {:>8}  {:>5.1}%  {:>8}",
            s.name,
            weight,
            s.requests,
            s.measured * 100.0,
            expected
        )?;
    }
    Ok(())
}

/// A metric for people: integers without decimals, others to about four significant digits,
/// NaN as `n/a`.
fn num(v: f64) -> String {
    if v.is_nan() {
        "n/a".to_string()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let decimals = (3 - v.abs().log10().floor() as i32).clamp(1, 9) as usize;
        super::plot_common::trim(v, decimals)
    }
}

/// The width of each column of `rows` (in characters): the longest cell in it.
fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    let columns = rows.first().map_or(0, Vec::len);
    (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect()
}

/// `rows` as lines of cells two spaces apart, each cell padded to its column's width: the
/// first `left` columns aligned left, the others right; no trailing spaces.
pub(super) fn aligned(rows: &[Vec<String>], left: usize) -> String {
    let widths = column_widths(rows);
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, &w))| {
                if c < left {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
