//! `servers.png`: requests/s per real server over time (with the events), and beside it each
//! server's share of all requests next to the share its weight asks for.

use super::derive::{self, Share};
use super::marks::{EVENT_ROW_H, draw_events, event_rows};
use super::plot_common::{
    Area, INK, MUTED, PlotResult, Swatch, Y_LABEL_W, anchored, legend_row, nice_ceil, palette,
    panel_title, plot_px, render, styled_mesh, trim,
};
use super::{ResultsError, RunRecord, plot_common};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

pub(super) fn draw(path: &Path, run: &RunRecord) -> Result<(), ResultsError> {
    render(path, |root| draw_on(root, run))
}

/// Space above each panel's plot area: a title row and a legend row.
const PANEL_TOP: u32 = 56;
/// Baselines of the title and legend rows, above the plot area.
const LEGEND_DY: i32 = 14;
const TITLE_DY: i32 = 30;

fn draw_on(root: &Area, run: &RunRecord) -> PlotResult {
    let title = format!("{}: requests per real server", run.scenario);
    let body = plot_common::header(root, run, &title)?;
    let (w, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w * 64 / 100);
    let names = derive::server_names(run);
    per_server_lines(root, &left, run, &names)?;
    share_bars(root, &right, &derive::shares(run))
}

fn per_server_lines(root: &Area, area: &Area, run: &RunRecord, names: &[String]) -> PlotResult {
    let end_s = derive::end_ms(run) as f64 / 1000.0;
    let dt = derive::interval_s(run);
    let series: Vec<Vec<(f64, f64)>> = names
        .iter()
        .map(|n| {
            run.timeline
                .iter()
                .map(|r| {
                    let x = r.t_ms as f64 / 1000.0 + dt / 2.0;
                    (x, derive::per_s(run, derive::server_requests(r, n)))
                })
                .collect()
        })
        .collect();
    let data_max = series.iter().flatten().map(|p| p.1).fold(1.0, f64::max);

    let build = |y_max: f64| {
        ChartBuilder::on(area)
            .margin_top(PANEL_TOP)
            .margin_left(8)
            .margin_right(20)
            .margin_bottom(4)
            .x_label_area_size(44)
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(0f64..end_s, 0f64..y_max)
    };
    let probe = build(1.0)?;
    let (px, py) = plot_px(&probe);
    let to_px = |ms: u64| probe.backend_coord(&(ms as f64 / 1000.0, 0.0)).0;
    let rows = event_rows(root, &run.events, to_px, &px)?;
    let reserved = 8 + rows as i32 * EVENT_ROW_H;
    let free = (1.0 - f64::from(reserved) / f64::from(py.end - py.start)).max(0.4);
    let mut chart = build(nice_ceil(data_max) / free)?;

    let fmt = |v: &f64| trim(*v, 1);
    styled_mesh(&mut chart)
        .x_labels(12)
        .y_labels(8)
        .x_label_formatter(&fmt)
        .y_label_formatter(&fmt)
        .x_desc("time since load start (s)")
        .y_desc("successful requests / s")
        .draw()?;
    for (i, pts) in series.into_iter().enumerate() {
        chart.draw_series(LineSeries::new(pts, palette(i).stroke_width(2)))?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, "Requests per server over time", TITLE_DY)?;
    let legend: Vec<(Swatch, String)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (Swatch::Line(palette(i)), n.clone()))
        .collect();
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)?;
    let to_px = |ms: u64| chart.backend_coord(&(ms as f64 / 1000.0, 0.0)).0;
    draw_events(
        root,
        &run.events,
        to_px,
        &plot.0,
        std::slice::from_ref(&plot.1),
        4,
    )
}

/// Measured share (solid) and weight share (pale) side by side for each server, in percent.
fn share_bars(root: &Area, area: &Area, shares: &[Share]) -> PlotResult {
    let n = shares.len().max(1);
    let top = shares
        .iter()
        .flat_map(|s| [s.measured, s.expected.unwrap_or(0.0)])
        .fold(0.0, f64::max)
        * 100.0;
    let y_max = nice_ceil((top * 1.15).max(10.0));
    let mut chart = ChartBuilder::on(area)
        .margin_top(PANEL_TOP)
        .margin_left(8)
        .margin_right(24)
        .margin_bottom(4)
        .x_label_area_size(44)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.6f64..n as f64 - 0.4, 0f64..y_max)?;
    let pct = |v: &f64| format!("{}%", trim(*v, 1));
    styled_mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(6)
        .y_label_formatter(&pct)
        .y_desc("share of successful requests")
        .draw()?;

    let value_style = anchored(12, INK, HPos::Center, VPos::Bottom);
    for (i, s) in shares.iter().enumerate() {
        let x = i as f64;
        let c = palette(i);
        let measured = s.measured * 100.0;
        chart.draw_series([Rectangle::new(
            [(x - 0.36, 0.0), (x - 0.02, measured)],
            c.filled(),
        )])?;
        let label_at = |v: f64, dx: f64| {
            let (px, py) = chart.backend_coord(&(x + dx, v));
            (px, py - 3)
        };
        // Server names under the axis, centred on their pair of bars.
        let (name_x, axis_y) = chart.backend_coord(&(x, 0.0));
        let name_style = anchored(13, INK, HPos::Center, VPos::Top);
        root.draw(&Text::new(s.name.clone(), (name_x, axis_y + 8), name_style))?;
        let label = format!("{}%", trim(measured, 1));
        root.draw(&Text::new(
            label,
            label_at(measured, -0.19),
            value_style.clone(),
        ))?;
        if let Some(e) = s.expected {
            let e = e * 100.0;
            let (a, b) = (
                chart.backend_coord(&(x + 0.02, e)),
                chart.backend_coord(&(x + 0.36, 0.0)),
            );
            plot_common::pale_box(root, a, b, c)?;
            let label = format!("{}%", trim(e, 1));
            root.draw(&Text::new(label, label_at(e, 0.19), value_style.clone()))?;
        }
    }
    let plot = plot_px(&chart);
    panel_title(
        root,
        &plot,
        "Share of all requests vs configured weights",
        TITLE_DY,
    )?;
    let legend = [
        (Swatch::Box(MUTED), "measured".to_string()),
        (Swatch::PaleBox(MUTED), "expected from weights".to_string()),
    ];
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)
}
