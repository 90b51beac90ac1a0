//! What a dead real server cost, run next to run (e.g. tapvs's own checks against the real
//! ldirectord): `health.png`, detection and recovery times on the left, the requests that failed
//! before the server was taken out on the right.
//!
//! Reads only [`RunRecord::metrics`] (`detection_ms`, `recovery_ms`,
//! `failed_before_detection`: registry entries); a missing or NaN value is no bar and `n/a`.

use super::failover_chart::{
    BAR_W, Chart, Groups, LEGEND_DY, TITLE_DY, bar_of_width, count, frame, known, millis, tag,
    two_panels,
};
use super::plot_common::{
    Area, FAIL, INK, MUTED, OK, PlotResult, Swatch, legend_row, nice_ceil, panel_title, plot_px,
    render, text,
};
use super::{ResultsError, RunRecord};
use crate::metrics::catalogue as cat;
use plotters::prelude::*;
use std::path::Path;

/// File name of the chart inside its folder.
pub const HEALTH_PNG: &str = "health.png";

const DETECTION: &str = cat::DETECTION_MS.name;
const RECOVERY: &str = cat::RECOVERY_MS.name;
const FAILED: &str = cat::FAILED_BEFORE_DETECTION.name;

const TITLE: &str = "A dead real server, by run";
const MEANS: &str = "detection = server killed \u{2192} taken out of the table   ·   recovery = \
                     server back \u{2192} in the table again";

/// Creates `dir` and, when any run had a real-server fault (`detection_ms`, even a NaN one, or
/// `undetected_faults`), draws
/// `health.png` there and returns `true`; otherwise writes nothing and returns `false`.
pub fn write_health_chart(dir: &Path, runs: &[RunRecord]) -> Result<bool, ResultsError> {
    // A real-server fault sets `undetected_faults`; `detection_ms` when all were detected.
    let faulted = |r: &RunRecord| {
        r.metrics.contains_key(DETECTION) || r.metrics.contains_key(cat::UNDETECTED_FAULTS.name)
    };
    if !runs.iter().any(faulted) {
        return Ok(false);
    }
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    render(&dir.join(HEALTH_PNG), |root| draw(root, runs))?;
    Ok(true)
}

pub(super) fn draw(root: &Area, runs: &[RunRecord]) -> PlotResult {
    root.draw(&Text::new(TITLE, (16, 10), text(22, INK)))?;
    root.draw(&Text::new(MEANS, (16, 40), text(14, MUTED)))?;
    two_panels(root, runs, times_panel, failed_panel)
}

/// One labelled bar of `metric` for run `i`, `dx` off its centre, `width` wide.
fn labelled_bar(
    root: &Area,
    chart: &Chart,
    groups: &Groups,
    (i, dx, width): (usize, f64, f64),
    (metric, color, show): (&str, RGBColor, fn(f64) -> String),
) -> PlotResult {
    let x = groups.x(i) + dx;
    let value = known(&groups.runs[i], metric);
    bar_of_width(root, chart, x, width, value, |root, a, b| {
        root.draw(&Rectangle::new([a, b], color.filled()))?;
        Ok(())
    })?;
    let label = value.map_or("n/a".to_string(), show);
    let (cx, top) = chart.backend_coord(&(x, value.unwrap_or(0.0).max(0.0)));
    let ink = if value.is_some() { INK } else { MUTED };
    tag(root, &label, (cx, top - 4), ink, false)
}

fn times_panel(root: &Area, area: &Area, groups: &Groups) -> PlotResult {
    let max = (groups.runs.iter())
        .flat_map(|r| [known(r, DETECTION), known(r, RECOVERY)])
        .flatten()
        .fold(0.0, f64::max);
    let y_max = nice_ceil((max * 1.15).max(10.0));
    let chart = frame(root, area, groups, y_max, "milliseconds", false)?;
    let half = BAR_W / 2.0;
    for i in 0..groups.runs.len() {
        let left = (i, -half / 2.0, half);
        labelled_bar(root, &chart, groups, left, (DETECTION, FAIL, millis))?;
        let right = (i, half / 2.0, half);
        labelled_bar(root, &chart, groups, right, (RECOVERY, OK, millis))?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, "detection and recovery (ms)", TITLE_DY)?;
    let legend = [
        (Swatch::Box(FAIL), "detection".to_string()),
        (Swatch::Box(OK), "recovery".to_string()),
    ];
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)
}

fn failed_panel(root: &Area, area: &Area, groups: &Groups) -> PlotResult {
    let max = (groups.runs.iter())
        .filter_map(|r| known(r, FAILED))
        .fold(0.0, f64::max);
    let y_max = nice_ceil((max * 1.15).max(4.0));
    let chart = frame(root, area, groups, y_max, "requests", true)?;
    for i in 0..groups.runs.len() {
        labelled_bar(root, &chart, groups, (i, 0.0, BAR_W), (FAILED, FAIL, count))?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, "requests failed before detection", TITLE_DY)?;
    let legend = [(Swatch::Box(FAIL), "failed requests".to_string())];
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)
}
