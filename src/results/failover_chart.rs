//! What a director failover cost, run next to run: `failover.png` with one group per run, broken
//! long-lived connections on the left and the outage (with the takeover marked) on the right.
//!
//! Reads only [`RunRecord::metrics`] (`broken_connections`, `outage_ms`, `takeover_ms`: registry
//! entries); a missing, NaN or infinite value is no bar and `n/a`, never a panic. Pure file
//! output, like the rest of `results`.

use super::canvas::Canvas;
use super::plot_common::{
    Area, FAIL, GRID, HEADER_H, INK, MUTED, OK, PlotResult, Swatch, Y_LABEL_W, anchored,
    legend_row, nice_ceil, pale_box, panel_title, plot_px, render, text, trim,
};
use super::{ResultsError, RunRecord};
use crate::metrics::catalogue as cat;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// File name of the chart inside its folder.
pub const FAILOVER_PNG: &str = "failover.png";

/// Metric names read from [`RunRecord::metrics`].
const BROKEN: &str = cat::BROKEN_CONNECTIONS.name;
const OUTAGE: &str = cat::OUTAGE_MS.name;
const TAKEOVER: &str = cat::TAKEOVER_MS.name;
/// Set only in runs with a director fault.
const FAULT: &str = cat::FAILED_BEFORE_FAULT.name;

const TITLE: &str = "Failover loss by scenario";
const BROKEN_MEANS: &str = "broken = keep-alive connections that failed a request across the fault";
const OUTAGE_MEANS: &str = "outage = longest gap without a successful request";

/// Creates `dir` and, when any run had a director fault (`takeover_ms` or `failed_before_fault`)
/// and has `broken_connections` or `outage_ms` (even a NaN one), draws `failover.png` there and returns `true`; otherwise writes nothing and returns `false`.
pub fn write_failover_chart(dir: &Path, runs: &[RunRecord]) -> Result<bool, ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    // Loss across a director fault: runs without one (e.g. a comparison of modes) measure
    // broken connections too, but there is no failover to chart.
    let measured = runs.iter().any(|r| {
        let fault = r.metrics.contains_key(TAKEOVER) || r.metrics.contains_key(FAULT);
        fault && (r.metrics.contains_key(BROKEN) || r.metrics.contains_key(OUTAGE))
    });
    if !measured {
        return Ok(false);
    }
    render(&dir.join(FAILOVER_PNG), |root| draw(root, runs))?;
    Ok(true)
}

/// The metric `name` of `run` when it is a real number.
pub(super) fn known(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.get(name).copied().filter(|v| v.is_finite())
}

/// Space above each panel's plot area (title and legend rows), and where those rows sit.
const PANEL_TOP: u32 = 56;
pub(super) const TITLE_DY: i32 = 30;
pub(super) const LEGEND_DY: i32 = 14;
/// Margins of a panel's plot area, left and right, in pixels.
const MARGIN_L: u32 = 8;
const MARGIN_R: u32 = 24;
/// Run names take up to this many lines under the x axis.
const NAME_LINES: usize = 3;
const LINE_H: i32 = 16;
/// Width of a bar, in x units (a run is 1 wide).
pub(super) const BAR_W: f64 = 0.56;
/// Size of value labels, in pixels.
const VALUE_PX: u32 = 13;

pub(super) type Chart<'a, 'b> =
    ChartContext<'a, Canvas<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

pub(super) fn draw(root: &Area, runs: &[RunRecord]) -> PlotResult {
    let (w, _) = root.dim_in_pixel();
    let max_w = w as i32 - 32;
    root.draw(&Text::new(TITLE, (16, 10), text(22, INK)))?;
    let sub_style = text(14, MUTED);
    let sub = clip(root, &subtitle(runs), &sub_style, max_w)?;
    root.draw(&Text::new(sub, (16, 40), sub_style))?;

    two_panels(root, runs, broken_panel, outage_panel)
}

/// A panel of a two-panel chart: the root, its area, the runs.
pub(super) type Panel = fn(&Area, &Area, &Groups) -> PlotResult;

/// Below the header, `left` and `right` side by side over the runs (their shared name start
/// said once).
pub(super) fn two_panels(root: &Area, runs: &[RunRecord], left: Panel, right: Panel) -> PlotResult {
    let body = root.split_vertically(HEADER_H).1;
    let (bw, _) = body.dim_in_pixel();
    let (left_area, right_area) = body.split_horizontally(bw / 2);
    let (prefix, names) = short_names(runs);
    let groups = Groups {
        runs,
        names: &names,
        prefix,
    };
    left(root, &left_area, &groups)?;
    right(root, &right_area, &groups)
}

/// What broken and outage mean, how many runs, and the revisions they came from.
fn subtitle(runs: &[RunRecord]) -> String {
    let mut revs: Vec<&str> = runs
        .iter()
        .map(|r| r.revision.as_str())
        .filter(|r| !r.is_empty())
        .collect();
    revs.sort_unstable();
    revs.dedup();
    let rev = if revs.is_empty() {
        String::new()
    } else {
        format!("   ·   rev {}", revs.join(", "))
    };
    let n = runs.len();
    let s = if n == 1 { "" } else { "s" };
    format!("{BROKEN_MEANS}   ·   {OUTAGE_MEANS}   ·   {n} run{s}{rev}")
}

/// The run names to print: without the part every name shares up to a `-` (e.g. `failover-`),
/// which is returned apart, so `failover-sync` and `failover-nosync` read `sync` and `nosync`.
fn short_names(runs: &[RunRecord]) -> (Option<String>, Vec<String>) {
    let full: Vec<&str> = runs.iter().map(|r| r.scenario.as_str()).collect();
    let shared = match full.as_slice() {
        [first, _, ..] => first
            .char_indices()
            .filter(|&(_, c)| c == '-')
            .map(|(i, _)| &first[..=i])
            .rev()
            .find(|p| full.iter().all(|n| n.len() > p.len() && n.starts_with(p))),
        _ => None,
    };
    let names = full
        .iter()
        .map(|n| n[shared.map_or(0, str::len)..].to_string())
        .collect();
    (shared.map(str::to_string), names)
}

/// The runs as the x axis shows them.
pub(super) struct Groups<'r> {
    pub runs: &'r [RunRecord],
    pub names: &'r [String],
    /// What every name started with and is left out of `names`.
    pub prefix: Option<String>,
}

impl Groups<'_> {
    /// Places on the x axis: at least two, so one run does not get a bar half a panel wide.
    fn slots(&self) -> usize {
        self.runs.len().max(2)
    }

    /// Centre of run `i` on the x axis, the runs centred when there are fewer than slots.
    pub fn x(&self, i: usize) -> f64 {
        i as f64 + (self.slots() - self.runs.len()) as f64 / 2.0
    }
}

/// Axes, grid and run names of one panel with y from 0 to `y_max`.
pub(super) fn frame<'a, 'b>(
    root: &Area,
    area: &'a Area<'b>,
    groups: &Groups,
    y_max: f64,
    y_desc: &str,
    whole: bool,
) -> PlotResult<Chart<'a, 'b>> {
    // The run names are wrapped first, to the width plotters will give each run, so the room
    // under the axis fits them (and the note on their shared start).
    let style = anchored(13, INK, HPos::Center, VPos::Top);
    let plot_w = area.dim_in_pixel().0 as i32 - (MARGIN_L + MARGIN_R + Y_LABEL_W) as i32;
    let slot_w = plot_w / groups.slots() as i32;
    let lines: Vec<Vec<String>> = groups
        .names
        .iter()
        .map(|name| wrap(root, name, &style, slot_w - 6))
        .collect::<PlotResult<_>>()?;
    let most = lines.iter().map(Vec::len).max().unwrap_or(1) as i32;
    let names_h = 8 + LINE_H * most;
    let note_h = if groups.prefix.is_some() { 22 } else { 0 };
    let mut chart = ChartBuilder::on(area)
        .margin_top(PANEL_TOP)
        .margin_left(MARGIN_L)
        .margin_right(MARGIN_R)
        .margin_bottom(6)
        .x_label_area_size((names_h + note_h + 4) as u32)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(-0.5..groups.slots() as f64 - 0.5, 0.0..y_max)?;
    // Counts have whole ticks only: plotters may place some at halves.
    let tick = |v: &f64| {
        if whole && v.fract() != 0.0 {
            String::new()
        } else {
            trim(*v, 1)
        }
    };
    let ticks = if whole && y_max <= 10.0 {
        y_max as usize + 1
    } else {
        8
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(ticks)
        .y_label_formatter(&tick)
        .label_style(text(13, INK))
        .axis_desc_style(text(14, INK))
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .y_desc(y_desc)
        .draw()?;

    for (i, name) in lines.into_iter().enumerate() {
        let (x, axis_y) = chart.backend_coord(&(groups.x(i), 0.0));
        for (k, line) in name.into_iter().enumerate() {
            let y = axis_y + 8 + LINE_H * k as i32;
            root.draw(&Text::new(line, (x, y), style.clone()))?;
        }
    }
    if let Some(prefix) = &groups.prefix {
        let (xs, ys) = plot_px(&chart);
        let note = format!("every scenario's name starts with {prefix}");
        let at = ((xs.start + xs.end) / 2, ys.end + names_h + 8);
        let style = anchored(13, MUTED, HPos::Center, VPos::Top);
        root.draw(&Text::new(note, at, style))?;
    }
    Ok(chart)
}

/// `name` broken after its hyphens into lines at most `max_w` wide, [`NAME_LINES`] at most;
/// a line still too wide ends in `…`.
fn wrap(root: &Area, name: &str, style: &TextStyle, max_w: i32) -> PlotResult<Vec<String>> {
    let fits =
        |s: &str| -> PlotResult<bool> { Ok(root.estimate_text_size(s, style)?.0 as i32 <= max_w) };
    let mut lines: Vec<String> = Vec::new();
    for part in name.split_inclusive('-') {
        let full = lines.len() == NAME_LINES;
        match lines.last_mut() {
            Some(line) if full || fits(&format!("{line}{part}"))? => {
                // On the last line allowed the rest joins it, to be cut short below.
                line.push_str(part);
            }
            _ => lines.push(part.to_string()),
        }
    }
    lines
        .iter()
        .map(|line| clip(root, line, style, max_w))
        .collect()
}

/// `s`, shortened to end in `…` when wider than `max_w` in `style`.
fn clip(root: &Area, s: &str, style: &TextStyle, max_w: i32) -> PlotResult<String> {
    let width = |s: &str| -> PlotResult<i32> { Ok(root.estimate_text_size(s, style)?.0 as i32) };
    if width(s)? <= max_w {
        return Ok(s.to_string());
    }
    let mut kept: String = s.to_string();
    while kept.pop().is_some() {
        let cut = format!("{}…", kept.trim_end());
        if width(&cut)? <= max_w {
            return Ok(cut);
        }
    }
    Ok("…".to_string())
}

/// A bar centred on `x` reaching `value` (none when `None`; a 2 px stub when zero).
fn bar(
    root: &Area,
    chart: &Chart,
    x: f64,
    value: Option<f64>,
    fill: impl Fn(&Area, (i32, i32), (i32, i32)) -> PlotResult,
) -> PlotResult {
    bar_of_width(root, chart, x, BAR_W, value, fill)
}

/// [`bar`] `width` wide (in x units).
pub(super) fn bar_of_width(
    root: &Area,
    chart: &Chart,
    x: f64,
    width: f64,
    value: Option<f64>,
    fill: impl Fn(&Area, (i32, i32), (i32, i32)) -> PlotResult,
) -> PlotResult {
    let Some(v) = value else {
        return Ok(());
    };
    let (left, base) = chart.backend_coord(&(x - width / 2.0, 0.0));
    let (right, top) = chart.backend_coord(&(x + width / 2.0, v.max(0.0)));
    fill(root, (left, top.min(base - 2)), (right, base))
}

/// `label` on a white patch, anchored by its bottom centre at `at` (its top centre if `below`).
pub(super) fn tag(
    root: &Area,
    label: &str,
    at: (i32, i32),
    color: RGBColor,
    below: bool,
) -> PlotResult {
    let v = if below { VPos::Top } else { VPos::Bottom };
    let style = anchored(VALUE_PX, color, HPos::Center, v);
    let (w, h) = root.estimate_text_size(label, &style)?;
    let (w, h) = (w as i32, h as i32);
    let (top, bottom) = if below {
        (at.1, at.1 + h)
    } else {
        (at.1 - h, at.1)
    };
    root.draw(&Rectangle::new(
        [(at.0 - w / 2 - 2, top - 1), (at.0 + w / 2 + 2, bottom + 1)],
        WHITE.filled(),
    ))?;
    root.draw(&Text::new(label.to_string(), at, style))?;
    Ok(())
}

/// Height of a value label in pixels.
pub(super) fn label_h(root: &Area) -> PlotResult<i32> {
    let style = anchored(VALUE_PX, INK, HPos::Center, VPos::Top);
    Ok(root.estimate_text_size("0123456789", &style)?.1 as i32)
}

/// A count as printed: whole when whole, else to two decimals.
pub(super) fn count(v: f64) -> String {
    trim(v, 2)
}

/// Milliseconds as printed on the outage panel, whose unit is in its title: `0`, `12.5`, `850`.
pub(super) fn millis(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        trim(v, 1)
    }
}

fn broken_panel(root: &Area, area: &Area, groups: &Groups) -> PlotResult {
    let max = groups
        .runs
        .iter()
        .filter_map(|r| known(r, BROKEN))
        .fold(0.0, f64::max);
    // Headroom for the labels; a few whole ticks even when nothing broke.
    let y_max = nice_ceil((max * 1.15).max(4.0));
    let chart = frame(root, area, groups, y_max, "connections", true)?;
    for (i, run) in groups.runs.iter().enumerate() {
        let x = groups.x(i);
        let value = known(run, BROKEN);
        bar(root, &chart, x, value, |root, a, b| {
            root.draw(&Rectangle::new([a, b], FAIL.filled()))?;
            Ok(())
        })?;
        let label = value.map_or("n/a".to_string(), count);
        let (cx, top) = chart.backend_coord(&(x, value.unwrap_or(0.0).max(0.0)));
        let color = if value.is_some() { INK } else { MUTED };
        tag(root, &label, (cx, top - 4), color, false)?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, "broken long-lived connections", TITLE_DY)?;
    legend_row(
        root,
        plot.0.end,
        plot.1.start - LEGEND_DY,
        &[(Swatch::Box(FAIL), "broken connections".to_string())],
    )
}

fn outage_panel(root: &Area, area: &Area, groups: &Groups) -> PlotResult {
    let max = groups
        .runs
        .iter()
        .flat_map(|r| [known(r, OUTAGE), known(r, TAKEOVER)])
        .flatten()
        .fold(0.0, f64::max);
    // Headroom for two stacked labels above the tallest bar.
    let y_max = nice_ceil((max * 1.25).max(10.0));
    let chart = frame(root, area, groups, y_max, "milliseconds", false)?;
    let h = label_h(root)?;
    for (i, run) in groups.runs.iter().enumerate() {
        let x = groups.x(i);
        let outage = known(run, OUTAGE);
        bar(root, &chart, x, outage, |root, a, b| {
            pale_box(root, a, b, FAIL)
        })?;
        let px = |v: f64| chart.backend_coord(&(x, v.max(0.0)));
        let (cx, base) = px(0.0);
        let bar_top = px(outage.unwrap_or(0.0)).1.min(base - 2);
        let marker = known(run, TAKEOVER).map(|t| (t, px(t).1));

        // The outage's value sits above its bar, or above the marker when that is in the way.
        let mut outage_at = bar_top - 4;
        if let Some((_, y)) = marker
            && y < bar_top + 4
            && y > outage_at - h - 6
        {
            outage_at = y - 8;
        }
        let label = outage.map_or("n/a".to_string(), millis);
        let color = if outage.is_some() { INK } else { MUTED };

        if let Some((t, y)) = marker {
            let edge = |dx: f64| chart.backend_coord(&(x + dx, 0.0)).0;
            let (left, right) = (edge(-BAR_W / 2.0) - 5, edge(BAR_W / 2.0) + 5);
            root.draw(&PathElement::new(
                vec![(left, y), (right, y)],
                OK.stroke_width(3),
            ))?;
            root.draw(&Circle::new((cx, y), 4, OK.filled()))?;
            root.draw(&Circle::new((cx, y), 4, WHITE.stroke_width(1)))?;
            // Its value below the marker when there is room above the axis, else above it,
            // else above the outage's value.
            let below = y + 7;
            let above = y - 7;
            let clear_of_outage = |top: i32, bottom: i32| bottom < outage_at - h || top > outage_at;
            let text = millis(t);
            if below + h <= base - 2 && clear_of_outage(below, below + h) {
                tag(root, &text, (cx, below), OK, true)?;
            } else if clear_of_outage(above - h, above) {
                tag(root, &text, (cx, above), OK, false)?;
            } else {
                tag(root, &text, (cx, outage_at.min(above) - h - 4), OK, false)?;
            }
        }
        tag(root, &label, (cx, outage_at), color, false)?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, "outage (ms)", TITLE_DY)?;
    let mut legend = vec![(Swatch::PaleBox(FAIL), "outage".to_string())];
    if groups.runs.iter().any(|r| r.metrics.contains_key(TAKEOVER)) {
        legend.push((
            Swatch::Line(OK),
            "takeover: fault \u{2192} new master's first ARP".to_string(),
        ));
    }
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)
}
