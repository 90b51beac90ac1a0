//! A comparison of several runs, e.g. direct routing against NAT under the same load:
//! `comparison.csv` (one row per run), `comparison.png` (what the director forwarded next to the
//! service's whole traffic on the wire) and [`comparison_table`] for the terminal.
//!
//! Reads only [`RunRecord::metrics`], by registry entry; several runs of one scenario and mode
//! also get a combined line, each metric combined as the registry says (`Across`). A missing or NaN metric is an empty cell, a missing bar and
//! `n/a`, never a panic. Pure file output, like the rest of `results`.

use super::plot_common::{
    Area, HEADER_H, INK, MUTED, OK, PlotResult, Swatch, Y_LABEL_W, anchored, legend_row, nice_ceil,
    pale_box, panel_title, plot_px, render, styled_mesh, text, trim,
};
use super::{ResultsError, RunRecord};
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Metric;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// File names inside a comparison folder.
pub const COMPARISON_CSV: &str = "comparison.csv";
pub const COMPARISON_PNG: &str = "comparison.png";

/// Columns of `comparison.csv` after `scenario, run_id, mode, scheduler`: metric names.
pub const COMPARISON_METRICS: [&str; 9] = [
    cat::REQUESTS_OK.name,
    cat::FAILED_REQUESTS.name,
    cat::THROUGHPUT_RPS.name,
    cat::DIRECTOR_PACKETS.name,
    cat::DIRECTOR_BYTES.name,
    cat::WIRE_PACKETS.name,
    cat::WIRE_BYTES.name,
    cat::DIRECTOR_BYTE_SHARE.name,
    cat::DIRECTOR_PACKET_SHARE.name,
];

/// Creates `dir` and writes `comparison.csv` and `comparison.png` for `runs`, in their order.
pub fn write_comparison(dir: &Path, runs: &[RunRecord]) -> Result<(), ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    write_csv(&dir.join(COMPARISON_CSV), runs)?;
    render(&dir.join(COMPARISON_PNG), |root| draw(root, runs))
}

/// A column of the terminal table: its head, the metric, how a value is shown, and the panel
/// whose share it is (computed from the counts when the share itself is missing).
struct Column {
    head: &'static str,
    metric: &'static Metric,
    show: fn(f64) -> String,
    share_of: Option<&'static Panel>,
}

const COLUMNS: [Column; 7] = [
    column("ok", &cat::REQUESTS_OK, whole, None),
    column("failed", &cat::FAILED_REQUESTS, whole, None),
    column("req/s", &cat::THROUGHPUT_RPS, one_decimal, None),
    column("director bytes", &cat::DIRECTOR_BYTES, bytes, None),
    column("wire bytes", &cat::WIRE_BYTES, bytes, None),
    column(
        "byte share",
        &cat::DIRECTOR_BYTE_SHARE,
        percent,
        Some(&BYTES),
    ),
    column(
        "packet share",
        &cat::DIRECTOR_PACKET_SHARE,
        percent,
        Some(&PACKETS),
    ),
];

const fn column(
    head: &'static str,
    metric: &'static Metric,
    show: fn(f64) -> String,
    share_of: Option<&'static Panel>,
) -> Column {
    Column {
        head,
        metric,
        show,
        share_of,
    }
}

fn whole(v: f64) -> String {
    format!("{v:.0}")
}

fn one_decimal(v: f64) -> String {
    format!("{v:.1}")
}

fn bytes(v: f64) -> String {
    human(v, BYTES.units)
}

impl Column {
    fn value(&self, run: &RunRecord) -> Option<f64> {
        match self.share_of {
            Some(p) => share(run, p),
            None => metric(run, self.metric.name),
        }
    }
}

/// One aligned line per run: requests, throughput, and the director's part of the traffic;
/// then, for each scenario and mode run more than once, one line of the runs combined.
pub fn comparison_table(runs: &[RunRecord]) -> String {
    let mut head = vec!["run".to_string(), "sched".to_string()];
    head.extend(COLUMNS.iter().map(|c| c.head.to_string()));
    let mut rows = vec![head];
    let or_na = |v: Option<f64>, c: &Column| v.map_or("n/a".into(), c.show);
    for run in runs {
        let mut row = vec![label(run), run.scheduler.clone()];
        row.extend(COLUMNS.iter().map(|c| or_na(c.value(run), c)));
        rows.push(row);
    }
    let mut seen = Vec::new();
    for l in runs.iter().map(label) {
        if seen.contains(&l) {
            continue;
        }
        let same: Vec<&RunRecord> = runs.iter().filter(|r| label(r) == l).collect();
        seen.push(l.clone());
        if same.len() < 2 {
            continue;
        }
        let mut row = vec![
            format!("{l} x {} runs", same.len()),
            same[0].scheduler.clone(),
        ];
        row.extend(COLUMNS.iter().map(|c| {
            let values: Vec<f64> = same
                .iter()
                .map(|r| c.value(r).unwrap_or(f64::NAN))
                .collect();
            let v = c.metric.across.combine(&values);
            or_na((!v.is_nan()).then_some(v), c)
        }));
        rows.push(row);
    }
    super::table::aligned(&rows, 2)
}

/// The metric `name` of `run`, `None` when missing or NaN.
fn metric(run: &RunRecord, name: &str) -> Option<f64> {
    run.metrics.get(name).copied().filter(|v| !v.is_nan())
}

/// `scenario (mode)`, or just the scenario when the mode is unknown.
fn label(run: &RunRecord) -> String {
    if run.mode.is_empty() {
        run.scenario.clone()
    } else {
        format!("{} ({})", run.scenario, run.mode)
    }
}

fn write_csv(path: &Path, runs: &[RunRecord]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    let head = ["scenario", "run_id", "mode", "scheduler"];
    w.write_record(head.iter().chain(&COMPARISON_METRICS))
        .map_err(err)?;
    for run in runs {
        let mut row = vec![
            run.scenario.clone(),
            run.run_id.clone(),
            run.mode.clone(),
            run.scheduler.clone(),
        ];
        // Shortest round-trip form, so values parse back exactly; missing is an empty cell.
        row.extend(
            COMPARISON_METRICS
                .iter()
                .map(|name| metric(run, name).map_or(String::new(), |v| v.to_string())),
        );
        w.write_record(&row).map_err(err)?;
    }
    w.flush().map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One quantity the director forwarded, set against the same quantity on the wire.
struct Panel {
    title: &'static str,
    director: &'static str,
    wire: &'static str,
    share: &'static str,
    /// Units to show it in, smallest first.
    units: &'static [Unit],
}

/// A unit: (divisor, y axis description, suffix of a value label).
type Unit = (f64, &'static str, &'static str);

const PACKETS: Panel = Panel {
    title: "Packets, both directions",
    director: cat::DIRECTOR_PACKETS.name,
    wire: cat::WIRE_PACKETS.name,
    share: cat::DIRECTOR_PACKET_SHARE.name,
    units: &[
        (1.0, "packets", ""),
        (1e3, "packets (thousands)", " k"),
        (1e6, "packets (millions)", " M"),
    ],
};

const BYTES: Panel = Panel {
    title: "Bytes, both directions",
    director: cat::DIRECTOR_BYTES.name,
    wire: cat::WIRE_BYTES.name,
    share: cat::DIRECTOR_BYTE_SHARE.name,
    units: &[
        (1.0, "bytes", " B"),
        (1e3, "bytes (kB)", " kB"),
        (1e6, "bytes (MB)", " MB"),
        (1e9, "bytes (GB)", " GB"),
    ],
};

/// The director's share: the run's metric, else director / wire when both are known.
fn share(run: &RunRecord, p: &Panel) -> Option<f64> {
    metric(run, p.share).or_else(|| match (metric(run, p.director), metric(run, p.wire)) {
        (Some(d), Some(w)) if w > 0.0 => Some(d / w),
        _ => None,
    })
}

/// The largest unit not above `max`.
fn unit(units: &[Unit], max: f64) -> Unit {
    units
        .iter()
        .rev()
        .find(|u| max >= u.0)
        .copied()
        .unwrap_or(units[0])
}

/// `v` in its own unit to three significant digits: `5.43 MB`, `41.2 k`, `612 B`.
fn human(v: f64, units: &[Unit]) -> String {
    let (div, _, suffix) = unit(units, v.abs());
    if div == 1.0 {
        format!("{v:.0}{suffix}")
    } else {
        format!("{}{suffix}", sig3(v / div))
    }
}

/// `v` to three significant digits (two decimals at most), trailing zeros kept: `1.30`, `612`.
fn sig3(v: f64) -> String {
    let decimals = (2 - v.abs().max(1.0).log10().floor() as i32).clamp(0, 2) as usize;
    format!("{v:.decimals$}")
}

/// A share as a percentage: one decimal below 10 % (`4.6 %`), none above (`98 %`).
fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p.abs() < 10.0 {
        format!("{} %", trim(p, 1))
    } else {
        format!("{p:.0} %")
    }
}

/// Space above each panel's plot area: a title row and a legend row.
const PANEL_TOP: u32 = 56;
const LEGEND_DY: i32 = 14;
const TITLE_DY: i32 = 30;
/// Width of a bar and half the gap between the two bars of a run, in x units (a run is 1 wide).
const BAR_W: f64 = 0.34;
const BAR_GAP: f64 = 0.02;

pub(super) fn draw(root: &Area, runs: &[RunRecord]) -> PlotResult {
    let (w, _) = root.dim_in_pixel();
    let max_w = w as i32 - 32;
    let title_style = text(22, INK);
    let width =
        |s: &str| -> PlotResult<i32> { Ok(root.estimate_text_size(s, &title_style)?.0 as i32) };
    let full = title(runs, true);
    let title = if width(&full)? <= max_w {
        full
    } else {
        title(runs, false)
    };
    root.draw(&Text::new(title, (16, 10), title_style.clone()))?;

    let mut revisions: Vec<&str> = Vec::new();
    for r in runs.iter().filter(|r| !r.revision.is_empty()) {
        if !revisions.contains(&r.revision.as_str()) {
            revisions.push(&r.revision);
        }
    }
    let revisions = if revisions.is_empty() {
        "unknown".to_string()
    } else {
        revisions.join(", ")
    };
    let sub = format!(
        "{} runs   ·   wire = the router's LAN link, all the service's traffic   ·   \
         % = director / wire   ·   rev {revisions}",
        runs.len(),
    );
    let sub_style = text(14, MUTED);
    let sub = fit(&sub, max_w, |s| {
        Ok(root.estimate_text_size(s, &sub_style)?.0 as i32)
    })?;
    root.draw(&Text::new(sub, (16, 40), sub_style))?;

    let body = root.split_vertically(HEADER_H).1;
    let (w, _) = body.dim_in_pixel();
    let (left, right) = body.split_horizontally(w / 2);
    panel(root, &left, runs, &PACKETS)?;
    panel(root, &right, runs, &BYTES)
}

/// Says what is compared: `web, dr vs nat: ...`, or `a (dr) vs b (nat): ...`; `list` false gives
/// the short form `6 runs: ...` for when the long one does not fit.
fn title(runs: &[RunRecord], list: bool) -> String {
    let what = "what the director forwards vs all traffic on the wire";
    let Some(first) = runs.first() else {
        return "No runs to compare".to_string();
    };
    let same = runs.iter().all(|r| r.scenario == first.scenario);
    match (same, list) {
        (true, true) => {
            let modes: Vec<&str> = runs.iter().map(|r| r.mode.as_str()).collect();
            format!("{}, {}: {what}", first.scenario, modes.join(" vs "))
        }
        (false, true) => {
            let labels: Vec<String> = runs.iter().map(label).collect();
            format!("{}: {what}", labels.join(" vs "))
        }
        (true, false) => format!("{}, {} runs: {what}", first.scenario, runs.len()),
        (false, false) => format!("{} runs: {what}", runs.len()),
    }
}

/// Wire (pale) and director (solid) bars for each run, labelled with values and the share.
fn panel(root: &Area, area: &Area, runs: &[RunRecord], p: &Panel) -> PlotResult {
    let max = runs
        .iter()
        .flat_map(|r| [metric(r, p.director), metric(r, p.wire)])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (div, y_desc, _) = unit(p.units, max);
    // Headroom for the two label lines above the tallest bar.
    let y_max = nice_ceil((max / div * 1.18).max(1.0));
    // At least two groups' width, so a single run does not get bars half a panel wide.
    let slots = runs.len().max(2);
    let offset = (slots - runs.len()) as f64 / 2.0;
    let mut chart = ChartBuilder::on(area)
        .margin_top(PANEL_TOP)
        .margin_left(8)
        .margin_right(24)
        .margin_bottom(4)
        .x_label_area_size(48)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(-0.5f64..slots as f64 - 0.5, 0f64..y_max)?;
    let fmt = |v: &f64| trim(*v, 2);
    styled_mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(0)
        .y_labels(8)
        .y_label_formatter(&fmt)
        .y_desc(y_desc)
        .draw()?;

    let to_px = |x: f64, v: f64| chart.backend_coord(&(x, v));
    let group_w = to_px(1.0, 0.0).0 - to_px(0.0, 0.0).0;
    for (i, run) in runs.iter().enumerate() {
        let x = i as f64 + offset;
        // An infinite count is no bar, like a missing one.
        let bar = |name| metric(run, name).filter(|v| v.is_finite()).map(|v| v / div);
        let bars = Bars {
            wire: bar(p.wire),
            director: bar(p.director),
            share: share(run, p),
        };
        // In full (`1.52 GB`), or short in the axis unit (`1.52`) where bars are narrow.
        let value = |v: Option<f64>, short: bool| match v {
            None => "n/a".to_string(),
            Some(v) if short => sig3(v),
            Some(v) => human(v * div, p.units),
        };
        bars.draw(root, &to_px, x, group_w, value)?;
        group_label(root, to_px(x, 0.0), run, group_w)?;
    }
    let plot = plot_px(&chart);
    panel_title(root, &plot, p.title, TITLE_DY)?;
    let legend = [
        (Swatch::PaleBox(MUTED), "on the wire".to_string()),
        (Swatch::Box(OK), "forwarded by the director".to_string()),
    ];
    legend_row(root, plot.0.end, plot.1.start - LEGEND_DY, &legend)
}

/// One run's pair of bars in one panel, in axis units.
struct Bars {
    wire: Option<f64>,
    director: Option<f64>,
    share: Option<f64>,
}

impl Bars {
    /// The wire's value goes just inside the top of its bar, so it never meets the director's
    /// labels above a bar of the same height (NAT); the director's value and share go above.
    fn draw(
        &self,
        root: &Area,
        to_px: &dyn Fn(f64, f64) -> (i32, i32),
        x: f64,
        group_w: i32,
        value: impl Fn(Option<f64>, bool) -> String,
    ) -> PlotResult {
        let (value_px, share_px) = if group_w >= 110 { (12, 16) } else { (11, 14) };
        let base = to_px(x, 0.0).1;
        let bar_w = to_px(BAR_W, 0.0).0 - to_px(0.0, 0.0).0;
        let value_style = anchored(value_px, MUTED, HPos::Center, VPos::Bottom);
        let value = |v: Option<f64>| -> PlotResult<String> {
            let long = value(v, false);
            let fits = root.estimate_text_size(&long, &value_style)?.0 as i32 <= bar_w + 6;
            Ok(if fits { long } else { value(v, true) })
        };

        let (left, right) = (to_px(x - BAR_GAP - BAR_W, 0.0).0, to_px(x - BAR_GAP, 0.0).0);
        let top = to_px(x, self.wire.unwrap_or(0.0)).1;
        if self.wire.is_some() {
            pale_box(root, (left, top), (right, base), MUTED)?;
        }
        let (y, v) = if self.wire.is_some() && base - top > value_px as i32 + 10 {
            (top + 4, VPos::Top)
        } else {
            (top - 3, VPos::Bottom)
        };
        let style = anchored(value_px, MUTED, HPos::Center, v);
        root.draw(&Text::new(
            value(self.wire)?,
            ((left + right) / 2, y),
            style,
        ))?;

        let (left, right) = (to_px(x + BAR_GAP, 0.0).0, to_px(x + BAR_GAP + BAR_W, 0.0).0);
        let top = to_px(x, self.director.unwrap_or(0.0)).1;
        if self.director.is_some() {
            root.draw(&Rectangle::new([(left, top), (right, base)], OK.filled()))?;
        }
        let centre = (left + right) / 2;
        root.draw(&Text::new(
            value(self.director)?,
            (centre, top - 3),
            value_style.clone(),
        ))?;
        if let Some(s) = self.share {
            let style = anchored(share_px, INK, HPos::Center, VPos::Bottom);
            let y = top - 6 - value_px as i32;
            root.draw(&Text::new(percent(s), (centre, y), style))?;
        }
        Ok(())
    }
}

/// `scenario (mode)` under the axis, centred on the run's bars: on two lines when too wide for
/// the run's width `w`, and cut short with `…` when still too wide.
fn group_label(root: &Area, (x, axis_y): (i32, i32), run: &RunRecord, w: i32) -> PlotResult {
    let style = anchored(13, INK, HPos::Center, VPos::Top);
    let width = |s: &str| -> PlotResult<i32> { Ok(root.estimate_text_size(s, &style)?.0 as i32) };
    let max_w = w - 6;
    let one = label(run);
    let lines = if width(&one)? <= max_w || run.mode.is_empty() {
        vec![one]
    } else {
        vec![run.scenario.clone(), format!("({})", run.mode)]
    };
    for (k, line) in lines.iter().enumerate() {
        let line = fit(line, max_w, width)?;
        let y = axis_y + 8 + 17 * k as i32;
        root.draw(&Text::new(line, (x, y), style.clone()))?;
    }
    Ok(())
}

/// `s`, or its longest start followed by `…` that is at most `max_w` wide by `width`.
fn fit(s: &str, max_w: i32, width: impl Fn(&str) -> PlotResult<i32>) -> PlotResult<String> {
    if width(s)? <= max_w {
        return Ok(s.to_string());
    }
    let chars: Vec<char> = s.chars().collect();
    for n in (1..chars.len()).rev() {
        let cut: String = chars[..n].iter().chain(['…'].iter()).collect();
        if width(&cut)? <= max_w {
            return Ok(cut);
        }
    }
    Ok("…".to_string())
}
