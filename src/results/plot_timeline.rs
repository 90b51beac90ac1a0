//! `timeline.png`: requests/s (ok and failed) above latency p50/p99, sharing a time axis in
//! seconds, with every event as a dashed line and the master spans as a band along the top.

use super::canvas::Canvas;
use super::marks::{BAND_H, EVENT_ROW_H, draw_events, draw_masters, event_rows};
use super::plot_common::{
    Area, FAIL, GRID, INK, OK, P50, P99, PlotResult, Swatch, anchored, legend_row, nice_ceil,
    panel_title, plot_px, render, styled_mesh, time_panel, trim,
};
use super::{ResultsError, RunRecord, derive, plot_common};
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

pub(super) fn draw(path: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    render(path, |root| draw_on(root, run))
}

fn draw_on(root: &Area, run: &RunRecord) -> PlotResult {
    let title = format!("{}: requests and latency", run.scenario);
    let body = plot_common::header(root, run, &title)?;
    let (_, h) = body.dim_in_pixel();
    let (top, bottom) = body.split_vertically(h * 56 / 100);
    let end_s = derive::end_ms(run) as f64 / 1000.0;
    let masters = derive::master_spans(run);

    // Top panel: room above the data for the master band and the event labels.
    let probe = time_panel(&top, end_s, 0f64..1f64)?;
    let (px, py) = plot_px(&probe);
    let to_px = |ms: u64| probe.backend_coord(&(ms as f64 / 1000.0, 0.0)).0;
    let rows = event_rows(root, &run.events, to_px, &px)?;
    let band = if masters.is_empty() { 0 } else { BAND_H + 4 };
    let reserved = band + 6 + rows as i32 * EVENT_ROW_H;
    let free = (1.0 - f64::from(reserved) / f64::from(py.end - py.start)).max(0.4);
    let y_max = nice_ceil(max_rate(run)) / free;

    let mut chart = time_panel(&top, end_s, 0f64..y_max)?;
    mesh(&mut chart, "requests / s", 8, false)?;
    let top_px = plot_px(&chart);
    draw_requests(&mut chart, run, y_max)?;
    panel_title(root, &top_px, "Requests per second", 6)?;
    let failed: u64 = run.timeline.iter().map(|r| r.client.failed).sum();
    let mut legend = vec![
        (Swatch::Line(OK), "successful".to_string()),
        (Swatch::Line(FAIL), format!("failed ({failed} total)")),
    ];
    if failed > 0 {
        legend.push((Swatch::PaleBox(FAIL), "interval with failures".to_string()));
    }
    legend_row(root, top_px.0.end, top_px.1.start - 14, &legend)?;

    // Bottom panel: latency on a log scale, blank where no request succeeded.
    let (lo, hi) = latency_range(run);
    let mut lat = time_panel(&bottom, end_s, (lo..hi).log_scale())?;
    // Own ticks: plotters' log axis labels decades only, and may skip the lowest one.
    mesh(&mut lat, "latency (ms, log scale)", 0, true)?;
    let bottom_px = plot_px(&lat);
    log_ticks(root, &mut lat, lo, hi)?;
    for (pick, color) in [(p50_ms as fn(&_) -> _, P50), (p99_ms, P99)] {
        for seg in segments(run, pick) {
            lat.draw_series(LineSeries::new(seg, color.stroke_width(2)))?;
        }
    }
    panel_title(root, &bottom_px, "Latency of successful requests", 6)?;
    let legend = [
        (Swatch::Line(P50), "p50".to_string()),
        (Swatch::Line(P99), "p99".to_string()),
    ];
    legend_row(root, bottom_px.0.end, bottom_px.1.start - 14, &legend)?;

    // Marks across both panels.
    let to_px = |ms: u64| chart.backend_coord(&(ms as f64 / 1000.0, 0.0)).0;
    let spans = [top_px.1.clone(), bottom_px.1.clone()];
    draw_events(root, &run.events, to_px, &top_px.0, &spans, band + 4)?;
    draw_masters(root, &masters, to_px, &top_px.0, top_px.1.start + 1)?;
    Ok(())
}

fn mesh<Y>(
    chart: &mut ChartContext<Canvas, Cartesian2d<RangedCoordf64, Y>>,
    y_desc: &str,
    y_labels: usize,
    x_desc: bool,
) -> PlotResult
where
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let fmt_s = |v: &f64| trim(*v, 1);
    // With no y labels asked for, the caller draws its own ticks: plotters' label is hidden.
    let fmt_y = |v: &f64| {
        if y_labels == 0 {
            String::new()
        } else {
            trim(*v, 3)
        }
    };
    let mut m = styled_mesh(chart);
    m.x_labels(14)
        .y_labels(y_labels.max(1))
        .x_label_formatter(&fmt_s)
        .y_label_formatter(&fmt_y)
        .y_desc(y_desc);
    if x_desc {
        m.x_desc("time since load start (s)");
    }
    m.draw()?;
    Ok(())
}

fn draw_requests(
    chart: &mut ChartContext<Canvas, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    run: &RunRecord,
    y_max: f64,
) -> PlotResult {
    let dt = derive::interval_s(run);
    let start = |t_ms: u64| t_ms as f64 / 1000.0;
    // Shade whole intervals with failures, so even one failed request is visible.
    chart.draw_series(
        run.timeline
            .iter()
            .filter(|r| r.client.failed > 0)
            .map(|r| {
                Rectangle::new(
                    [(start(r.t_ms), 0.0), (start(r.t_ms) + dt, y_max)],
                    FAIL.mix(0.13).filled(),
                )
            }),
    )?;
    let mid = |t_ms: u64| start(t_ms) + dt / 2.0;
    let ok = run
        .timeline
        .iter()
        .map(|r| (mid(r.t_ms), derive::per_s(run, r.client.ok)));
    chart.draw_series(LineSeries::new(ok, OK.stroke_width(2)))?;
    let failed = run
        .timeline
        .iter()
        .map(|r| (mid(r.t_ms), derive::per_s(run, r.client.failed)));
    chart.draw_series(LineSeries::new(failed, FAIL.stroke_width(2)))?;
    chart.draw_series(
        run.timeline
            .iter()
            .filter(|r| r.client.failed > 0)
            .map(|r| {
                Circle::new(
                    (mid(r.t_ms), derive::per_s(run, r.client.failed)),
                    4,
                    FAIL.filled(),
                )
            }),
    )?;
    Ok(())
}

/// Grid lines and labels at 1, 2, 5 × 10^k ms (decades only when the range spans many).
fn log_ticks<Y>(
    root: &Area,
    chart: &mut ChartContext<Canvas, Cartesian2d<RangedCoordf64, Y>>,
    lo: f64,
    hi: f64,
) -> PlotResult
where
    Y: Ranged<ValueType = f64>,
{
    let (x0, x1) = (chart.x_range().start, chart.x_range().end);
    let decades = (hi / lo).log10().round() as i32;
    let steps: &[f64] = if decades > 3 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let style = anchored(13, INK, HPos::Right, VPos::Center);
    let mut exp = lo.log10().round() as i32;
    while 10f64.powi(exp) <= hi * 1.0001 {
        for &m in steps {
            let v = m * 10f64.powi(exp);
            if v < lo * 0.9999 || v > hi * 1.0001 {
                continue;
            }
            let grid = if m == 1.0 {
                GRID.mix(1.0)
            } else {
                GRID.mix(0.5)
            };
            chart.draw_series(LineSeries::new([(x0, v), (x1, v)], grid.stroke_width(1)))?;
            let (px, py) = chart.backend_coord(&(x0, v));
            root.draw(&PathElement::new(
                vec![(px - 5, py), (px, py)],
                INK.stroke_width(1),
            ))?;
            let label = trim(v, (-exp).max(0) as usize);
            root.draw(&Text::new(label, (px - 8, py), style.clone()))?;
        }
        exp += 1;
    }
    Ok(())
}

fn max_rate(run: &RunRecord) -> f64 {
    run.timeline
        .iter()
        .map(|r| derive::per_s(run, r.client.ok.max(r.client.failed)))
        .fold(1.0, f64::max)
}

fn p50_ms(r: &super::TimelineRow) -> f64 {
    r.client.latency.p50_us as f64 / 1000.0
}

fn p99_ms(r: &super::TimelineRow) -> f64 {
    r.client.latency.p99_us as f64 / 1000.0
}

/// Smallest latency drawn on the log axis (1 µs): a zero cannot be placed on it.
const MIN_MS: f64 = 0.001;

/// Runs of consecutive intervals with successful requests, as (interval middle, value) points.
fn segments(run: &RunRecord, pick: fn(&super::TimelineRow) -> f64) -> Vec<Vec<(f64, f64)>> {
    let dt = derive::interval_s(run);
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for r in &run.timeline {
        if r.client.ok == 0 {
            out.push(Vec::new());
        } else if let Some(seg) = out.last_mut() {
            seg.push((r.t_ms as f64 / 1000.0 + dt / 2.0, pick(r).max(MIN_MS)));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Decades around every p50 and p99 of intervals with successful requests.
fn latency_range(run: &RunRecord) -> (f64, f64) {
    let vals = run
        .timeline
        .iter()
        .filter(|r| r.client.ok > 0)
        .flat_map(|r| [p50_ms(r), p99_ms(r)])
        .map(|v| v.max(MIN_MS));
    let (lo, hi) = vals.fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi == 0.0 {
        return (0.1, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf((hi.log10() + 1e-9).ceil());
    (lo, hi.max(lo * 10.0))
}
