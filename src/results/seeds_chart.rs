//! One metric over many seeds: `seeds-<metric>.png` (and `.svg`), the empirical CDF of its values
//! with p50, p90 and p99 marked, and for the takeover a vertical line at Master_Down_Interval.

use super::ResultsError;
use super::plot_common::{
    Area, FAIL, HEADER_H, INK, MUTED, OK, PlotResult, Y_LABEL_W, anchored, nice_ceil, render, text,
    trim,
};
use super::seeds::Stats;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// Draws the CDF of the finite `values` at `path` and returns `true`, or writes nothing and
/// returns `false` when no run measured the metric. `line_ms`: where Master_Down_Interval goes.
pub(super) fn write_cdf(
    path: &Path,
    scenario: &str,
    metric: &str,
    values: &[f64],
    line_ms: Option<f64>,
) -> Result<bool, ResultsError> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Ok(false);
    }
    v.sort_by(f64::total_cmp);
    let stats = Stats::of(values);
    let title = title(scenario, metric, values.len());
    render(path, |root| draw(root, &title, &v, &stats, line_ms))?;
    Ok(true)
}

/// The chart's title (also what the tests look for in the SVG).
pub(super) fn title(scenario: &str, metric: &str, seeds: usize) -> String {
    format!("{scenario}: {metric} over {seeds} seeds")
}

fn draw(root: &Area, title: &str, sorted: &[f64], s: &Stats, line_ms: Option<f64>) -> PlotResult {
    root.draw(&Text::new(title.to_string(), (16, 10), text(22, INK)))?;
    let sub = format!(
        "{} measured, {} without a value   ·   p50 {}   p90 {}   p99 {}   max {}   mean {}",
        s.runs,
        s.missing,
        trim(s.p50, 1),
        trim(s.p90, 1),
        trim(s.p99, 1),
        trim(s.max, 1),
        trim(s.mean, 1)
    );
    root.draw(&Text::new(sub, (16, 40), text(14, MUTED)))?;
    let body = root.split_vertically(HEADER_H).1;
    let lo = sorted[0].min(line_ms.unwrap_or(f64::INFINITY)).min(0.0);
    let hi = sorted[sorted.len() - 1].max(line_ms.unwrap_or(0.0));
    let right = if hi > lo {
        nice_ceil(hi * 1.05)
    } else {
        lo + 1.0
    };
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(lo..right, 0.0..1.0)?;
    chart
        .configure_mesh()
        .light_line_style(super::plot_common::GRID.mix(0.5))
        .bold_line_style(super::plot_common::GRID)
        .label_style(text(13, INK))
        .axis_desc_style(text(14, INK))
        .x_desc(title.rsplit(": ").next().unwrap_or_default().to_string())
        .y_desc("share of seeds at or below")
        .draw()?;
    // The empirical CDF: a step up by 1/n at each value.
    let n = sorted.len() as f64;
    let mut steps = vec![(lo, 0.0)];
    for (i, &x) in sorted.iter().enumerate() {
        steps.push((x, i as f64 / n));
        steps.push((x, (i + 1) as f64 / n));
    }
    steps.push((right, 1.0));
    chart.draw_series(LineSeries::new(steps, OK.stroke_width(2)))?;
    for (q, at) in [("p50", s.p50), ("p90", s.p90), ("p99", s.p99)] {
        chart.draw_series(LineSeries::new(
            [(at, 0.0), (at, 1.0)],
            MUTED.stroke_width(1),
        ))?;
        chart.draw_series([Text::new(q, (at, 0.04), text(13, MUTED))])?;
    }
    if let Some(mdi) = line_ms {
        chart.draw_series(LineSeries::new(
            [(mdi, 0.0), (mdi, 1.0)],
            FAIL.stroke_width(2),
        ))?;
        let label = format!("Master_Down_Interval {} ms ", trim(mdi, 1));
        // In the right half the label goes left of the line, so the plot's edge cuts nothing.
        let side = if mdi > (lo + right) / 2.0 {
            HPos::Right
        } else {
            HPos::Left
        };
        let style = anchored(14, FAIL, side, VPos::Top);
        chart.draw_series([Text::new(label, (mdi, 0.97), style)])?;
    }
    Ok(())
}
