//! `flood.png`: the real clients' new-connection success (%) above the director's table size,
//! on one time axis in seconds, with the flood's window shaded across both panels.

use super::canvas::Canvas;
use super::plot_common::{
    Area, FAIL, GRID, INK, MUTED, OK, PlotResult, Swatch, legend_row, nice_ceil, panel_title,
    plot_px, render, time_panel, trim,
};
use super::{FloodRecord, ResultsError, RunRecord, plot_common};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use std::path::Path;

pub(super) fn draw(path: &Path, run: &RunRecord, flood: &FloodRecord) -> Result<(), ResultsError> {
    render(path, |root| draw_on(root, run, flood))
}

const TABLE: RGBColor = RGBColor(255, 127, 14);

type Chart<'a, 'b> = ChartContext<'a, Canvas<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn mesh(chart: &mut Chart, y_desc: &str) -> PlotResult {
    let fmt_s = |v: &f64| trim(*v, 1);
    let fmt_y = |v: &f64| trim(*v, 0);
    chart
        .configure_mesh()
        .x_labels(14)
        .y_labels(6)
        .x_label_formatter(&fmt_s)
        .y_label_formatter(&fmt_y)
        .x_desc("time since load start (s)")
        .y_desc(y_desc)
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_desc_style(plot_common::text(14, INK))
        .label_style(plot_common::text(13, INK))
        .draw()?;
    Ok(())
}

/// The flood's window, shaded.
fn shade(chart: &mut Chart, flood: &FloodRecord, y_max: f64) -> PlotResult {
    let (a, b) = (flood.from_ms as f64 / 1000.0, flood.to_ms as f64 / 1000.0);
    chart.draw_series(std::iter::once(Rectangle::new(
        [(a, 0.0), (b, y_max)],
        FAIL.mix(0.12).filled(),
    )))?;
    Ok(())
}

fn draw_on(root: &Area, run: &RunRecord, flood: &FloodRecord) -> PlotResult {
    let title = format!(
        "{}: new connections and table size under a SYN flood",
        run.scenario
    );
    let body = plot_common::header(root, run, &title)?;
    let (_, h) = body.dim_in_pixel();
    let (top, bottom) = body.split_vertically(h / 2);
    let step = run.interval_ms as f64 / 1000.0;
    let end_s = flood
        .samples
        .last()
        .map_or(1.0, |s| s.t_ms as f64 / 1000.0 + step);

    let mut ok = time_panel(&top, end_s, 0f64..105.0)?;
    mesh(&mut ok, "success (%)")?;
    shade(&mut ok, flood, 105.0)?;
    // One point per interval with requests, joined; gaps where none started.
    let mut seg: Vec<(f64, f64)> = Vec::new();
    let mut segs = Vec::new();
    for s in &flood.samples {
        let n = s.new_ok + s.new_failed;
        if n == 0 {
            segs.push(std::mem::take(&mut seg));
            continue;
        }
        seg.push((
            s.t_ms as f64 / 1000.0 + step / 2.0,
            100.0 * s.new_ok as f64 / n as f64,
        ));
    }
    segs.push(seg);
    for seg in segs.into_iter().filter(|s| !s.is_empty()) {
        ok.draw_series(LineSeries::new(seg, OK.stroke_width(2)))?;
    }
    let top_px = plot_px(&ok);
    panel_title(
        root,
        &top_px,
        "Real clients' new connections that succeeded",
        6,
    )?;
    let sent: u64 = flood.samples.iter().map(|s| s.flood_sent).sum();
    let window_s = (flood.to_ms - flood.from_ms) as f64 / 1000.0;
    legend_row(
        root,
        top_px.0.end,
        top_px.1.start - 14,
        &[
            (Swatch::Line(OK), "success per interval".to_string()),
            (
                Swatch::PaleBox(FAIL),
                format!(
                    "flood: {sent} spoofed SYNs ({:.0}/s)",
                    sent as f64 / window_s.max(1e-3)
                ),
            ),
        ],
    )?;

    let peak = flood.samples.iter().map(|s| s.table).max().unwrap_or(0);
    let y_max = nice_ceil((peak.max(flood.capacity) as f64 * 1.1).max(1.0));
    let mut table = time_panel(&bottom, end_s, 0f64..y_max)?;
    mesh(&mut table, "entries")?;
    shade(&mut table, flood, y_max)?;
    let points: Vec<(f64, f64)> = flood
        .samples
        .iter()
        .filter(|s| s.table > 0)
        .map(|s| (s.t_ms as f64 / 1000.0 + step / 2.0, s.table as f64))
        .collect();
    table.draw_series(LineSeries::new(points, TABLE.stroke_width(2)))?;
    let cap = flood.capacity as f64;
    table.draw_series(DashedLineSeries::new(
        [(0.0, cap), (end_s, cap)],
        6,
        4,
        MUTED.stroke_width(1),
    ))?;
    let bottom_px = plot_px(&table);
    panel_title(root, &bottom_px, "Director's connection table", 6)?;
    legend_row(
        root,
        bottom_px.0.end,
        bottom_px.1.start - 14,
        &[
            (Swatch::Line(TABLE), format!("entries (peak {peak})")),
            (Swatch::Line(MUTED), format!("capacity {}", flood.capacity)),
        ],
    )?;
    Ok(())
}
