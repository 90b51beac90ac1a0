//! The failover sweep: one run per VRRP advertisement interval, the master director killed in each.
//! `sweep.csv` (one row per run), `sweep.png` (measured takeover and outage against RFC 5798's
//! Master_Down_Interval, both axes logarithmic) and [`sweep_table`] for the terminal.
//!
//! A NaN measurement is an empty cell, a missing mark and `n/a`, never a panic; a run whose
//! interval is not a positive number stays in the CSV and the table but cannot be placed on the
//! chart. Pure file output, like the rest of `results`.

use super::ResultsError;
use super::canvas::Canvas;
use super::plot_common::{
    Area, FAIL, GRID, HEADER_H, INK, MUTED, OK, PlotResult, Y_LABEL_W, anchored, nice_ceil,
    plot_px, render, text, trim,
};
use crate::metrics::catalogue as cat;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::path::Path;

/// File names inside a sweep folder.
pub const SWEEP_CSV: &str = "sweep.csv";
pub const SWEEP_PNG: &str = "sweep.png";

/// One run of the sweep: the advertisement interval it used and what the failover cost (the
/// run's `takeover_ms`, `outage_ms` and `failed_requests`).
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    /// Run name, e.g. `failover-sweep-advert-100ms`.
    pub run: String,
    /// VRRP advertisement interval, milliseconds.
    pub advert_ms: f64,
    /// Priority of the director that takes over.
    pub backup_priority: u8,
    /// Fault to the new master's first gratuitous ARP, milliseconds (NaN if unknown).
    pub takeover_ms: f64,
    /// Longest gap without a successful request, milliseconds (NaN if unknown).
    pub outage_ms: f64,
    /// Requests that failed during the run (NaN if unknown).
    pub failed_requests: f64,
}

/// RFC 5798's Master_Down_Interval in milliseconds: `3 × I + Skew_Time`, where
/// `Skew_Time = (256 − priority) × I / 256` and `I` is the advertisement interval.
pub fn master_down_ms(advert_ms: f64, priority: u8) -> f64 {
    3.0 * advert_ms + skew_ms(advert_ms, priority)
}

fn skew_ms(advert_ms: f64, priority: u8) -> f64 {
    (256.0 - f64::from(priority)) * advert_ms / 256.0
}

/// Creates `dir` and writes `sweep.csv` and `sweep.png` for `points` (any order).
pub fn write_sweep(dir: &Path, points: &[SweepPoint]) -> Result<(), ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let points = sorted(points);
    write_csv(&dir.join(SWEEP_CSV), &points)?;
    render(&dir.join(SWEEP_PNG), |root| draw(root, &points))
}

/// One aligned line per run, shortest interval first: what the formula predicts and what happened.
pub fn sweep_table(points: &[SweepPoint]) -> String {
    let head = [
        "interval",
        "formula (ms)",
        "takeover (ms)",
        "outage (ms)",
        "failed",
    ];
    let mut rows = vec![head.map(String::from).to_vec()];
    let ms = |v: f64| known(v).map_or("n/a".to_string(), |v| trim(v, 1));
    for p in sorted(points) {
        rows.push(vec![
            interval_label(p.advert_ms),
            ms(master_down_ms(p.advert_ms, p.backup_priority)),
            ms(p.takeover_ms),
            ms(p.outage_ms),
            known(p.failed_requests).map_or("n/a".to_string(), |v| trim(v, 0)),
        ]);
    }
    super::table::aligned(&rows, 0)
}

/// The points by advertisement interval, shortest first (NaN intervals last).
fn sorted(points: &[SweepPoint]) -> Vec<&SweepPoint> {
    let mut out: Vec<&SweepPoint> = points.iter().collect();
    out.sort_by(|a, b| a.advert_ms.total_cmp(&b.advert_ms));
    out
}

/// `v` unless it is NaN.
fn known(v: f64) -> Option<f64> {
    (!v.is_nan()).then_some(v)
}

fn write_csv(path: &Path, points: &[&SweepPoint]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Csv {
        path: path.to_path_buf(),
        source,
    };
    // Shortest round-trip form, so values parse back exactly; NaN is an empty cell.
    let cell = |v: f64| known(v).map_or(String::new(), |v| v.to_string());
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    w.write_record([
        "run",
        "advert_ms",
        "backup_priority",
        "formula_ms",
        cat::TAKEOVER_MS.name,
        cat::OUTAGE_MS.name,
        cat::FAILED_REQUESTS.name,
    ])
    .map_err(err)?;
    for p in points {
        w.write_record([
            p.run.clone(),
            cell(p.advert_ms),
            p.backup_priority.to_string(),
            cell(master_down_ms(p.advert_ms, p.backup_priority)),
            cell(p.takeover_ms),
            cell(p.outage_ms),
            cell(p.failed_requests),
        ])
        .map_err(err)?;
    }
    w.flush().map_err(|source| ResultsError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// An interval as a tick label: `30 ms`, `1 s`, `1.5 s`, `n/a`.
pub(super) fn interval_label(ms: f64) -> String {
    if !ms.is_finite() {
        "n/a".to_string()
    } else if ms.abs() >= 1000.0 {
        format!("{} s", trim(ms / 1000.0, 3))
    } else {
        format!("{} ms", trim(ms, 2))
    }
}

/// A measured time to three significant digits: `36.1 ms`, `361 ms`, `3.61 s`.
pub(super) fn value_label(ms: f64) -> String {
    let sig3 = |v: f64| {
        let digits = v.abs().max(1.0).log10().floor() as i32;
        let decimals = (2 - digits).clamp(0, 2) as usize;
        format!("{v:.decimals$}")
    };
    if ms == 0.0 {
        "0 ms".to_string()
    } else if ms.abs() >= 999.5 {
        format!("{} s", sig3(ms / 1000.0))
    } else {
        format!("{} ms", sig3(ms))
    }
}

const TITLE: &str = "Failover: outage vs VRRP advert interval";
/// The legend's name for the formula line.
const FORMULA: &str = "formula: 3 x I + (256 - p) x I / 256";
const TAKEOVER: &str = "takeover: fault \u{2192} new master's first gratuitous ARP";
const OUTAGE: &str = "outage: longest gap without a successful request";

/// Colour of the formula line: the "expected" grey.
const FORMULA_C: RGBColor = MUTED;
/// Marker sizes in pixels (circle radius, triangle circumradius).
const DOT_R: i32 = 6;
const TRIANGLE_R: i32 = 8;
/// How far apart, in pixels, a takeover and an outage mark of nearly the same value are moved.
const DODGE: i32 = 7;
/// The y axis never reaches below a microsecond or above eleven days: a value outside is marked
/// at the axis' end.
const Y_MIN: f64 = 1e-3;
const Y_MAX: f64 = 1e9;
/// Samples along each formula line.
const FORMULA_SAMPLES: usize = 240;

type LogChart<'a, 'b> = ChartContext<'a, Canvas<'b>, Cartesian2d<LogCoord<f64>, LogCoord<f64>>>;

fn draw(root: &Area, points: &[&SweepPoint]) -> PlotResult {
    root.draw(&Text::new(TITLE, (16, 10), text(22, INK)))?;
    // Only a positive interval has a place on a log axis; one outside a picosecond to thirty
    // years is no VRRP interval either, and would stretch the axes beyond what f64 holds.
    let placed: Vec<&SweepPoint> = points
        .iter()
        .copied()
        .filter(|p| (1e-9..=1e12).contains(&p.advert_ms))
        .collect();
    let mut priorities: Vec<u8> = placed.iter().map(|p| p.backup_priority).collect();
    priorities.sort_unstable();
    priorities.dedup();

    root.draw(&Text::new(
        subtitle(points.len(), placed.len(), &priorities),
        (16, 40),
        text(14, MUTED),
    ))?;
    let body = root.split_vertically(HEADER_H).1;
    if placed.is_empty() {
        let (w, h) = body.dim_in_pixel();
        let style = anchored(28, MUTED, HPos::Center, VPos::Center);
        let msg = if points.is_empty() {
            "no runs"
        } else {
            "no runs with a usable interval"
        };
        body.draw(&Text::new(msg, (w as i32 / 2, h as i32 / 2), style))?;
        return Ok(());
    }

    let (x_lo, x_hi) = x_range(&placed);
    let (y_lo, y_hi) = y_range(&placed);
    let mut chart = ChartBuilder::on(&body)
        .margin_top(16)
        .margin_left(8)
        .margin_right(32)
        .margin_bottom(8)
        .x_label_area_size(70)
        .y_label_area_size(Y_LABEL_W + 8)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    // Own ticks on both axes: plotters' log axes place theirs at decades, whatever is asked,
    // so its labels are blank and its tick marks have no length.
    let blank = |_: &f64| String::new();
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&blank)
        .y_label_formatter(&blank)
        .set_all_tick_mark_size(0)
        .axis_desc_style(text(15, INK))
        .x_desc("VRRP advertisement interval I (log scale)")
        .y_desc("milliseconds (log scale)")
        .draw()?;
    y_ticks(root, &chart, y_lo, y_hi)?;
    x_ticks(root, &chart, &placed)?;

    // The lowest priority waits longest: its line is the top one, tagged above, the rest below.
    for (k, &p) in priorities.iter().enumerate() {
        let tag = match (priorities.len(), k) {
            (1, _) => None,
            (_, 0) => Some(VPos::Bottom),
            _ => Some(VPos::Top),
        };
        formula_line(root, &chart, p, tag)?;
    }
    // A value off the axis (zero, say) is marked at its end, and labelled with what it is.
    let to_px = |x: f64, y: f64| chart.backend_coord(&(x, y.clamp(y_lo, y_hi)));
    for p in &placed {
        // NaN is unknown and infinity has no place on the axis: neither gets a mark.
        let mark = |v: f64| v.is_finite().then(|| (v, to_px(p.advert_ms, v)));
        let (takeover, outage) = (mark(p.takeover_ms), mark(p.outage_ms));
        // Marks that would cover each other step aside, the takeover left and the outage right:
        // a few pixels on a log axis, much less than the distance between two intervals.
        let dodge = match (takeover, outage) {
            (Some((_, a)), Some((_, b))) if (a.1 - b.1).abs() < DOT_R + TRIANGLE_R => DODGE,
            _ => 0,
        };
        // The takeover's label goes left of its mark, the outage's right: they never meet.
        if let Some((v, (x, y))) = outage {
            let at = (x + dodge, y);
            triangle(root, at)?;
            let style = anchored(13, FAIL, HPos::Left, VPos::Center);
            annotate(root, &value_label(v), (at.0 + TRIANGLE_R + 4, at.1), &style)?;
        }
        if let Some((v, (x, y))) = takeover {
            let at = (x - dodge, y);
            dot(root, at)?;
            let style = anchored(13, OK, HPos::Right, VPos::Center);
            annotate(root, &value_label(v), (at.0 - DOT_R - 5, at.1), &style)?;
        }
    }

    let formula = match priorities.as_slice() {
        [p] => format!("{FORMULA}   (p = {p})"),
        _ => FORMULA.to_string(),
    };
    let entries = [
        (Mark::Line, formula),
        (Mark::Dot, TAKEOVER.to_string()),
        (Mark::Triangle, OUTAGE.to_string()),
    ];
    let (px, py) = plot_px(&chart);
    legend_box(root, (px.start + 14, py.start + 14), &entries)
}

/// What was run: how many, and with which backup priorities.
fn subtitle(runs: usize, placed: usize, priorities: &[u8]) -> String {
    if runs == 0 {
        return String::new();
    }
    let mut s = format!(
        "{runs} run{}, the master director killed in each",
        if runs == 1 { "" } else { "s" }
    );
    if !priorities.is_empty() {
        let list: Vec<String> = priorities.iter().map(u8::to_string).collect();
        let what = if list.len() == 1 {
            "priority"
        } else {
            "priorities"
        };
        s += &format!("   ·   backup {what} p = {}", list.join(", "));
    }
    s += "   ·   formula: RFC 5798 Master_Down_Interval";
    if placed < runs {
        s += &format!(
            "   ·   {} without a usable interval not shown",
            runs - placed
        );
    }
    s
}

/// Around the intervals: a factor of 1.8 either side, 3 for a single interval.
fn x_range(placed: &[&SweepPoint]) -> (f64, f64) {
    let (lo, hi) = placed.iter().fold((f64::MAX, 0f64), |(lo, hi), p| {
        (lo.min(p.advert_ms), hi.max(p.advert_ms))
    });
    let pad = if hi / lo < 1.5 { 3.0 } else { 1.8 };
    (lo / pad, hi * pad)
}

/// Round 1-2-5 bounds around every formula value and measurement between [`Y_MIN`] and
/// [`Y_MAX`], at least a decade apart.
fn y_range(placed: &[&SweepPoint]) -> (f64, f64) {
    let values = placed.iter().flat_map(|p| {
        [
            master_down_ms(p.advert_ms, p.backup_priority),
            p.takeover_ms,
            p.outage_ms,
        ]
    });
    let (lo, hi) = values
        .filter(|v| (Y_MIN..=Y_MAX).contains(v))
        .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if hi == 0.0 {
        return (10.0, 10_000.0);
    }
    let (mut lo, mut hi) = (lo / 1.5, hi * 1.5);
    if hi / lo < 10.0 {
        let widen = (10.0 / (hi / lo)).sqrt();
        (lo, hi) = (lo / widen, hi * widen);
    }
    (nice_floor(lo), nice_ceil(hi))
}

/// Rounds a positive `v` down to 1, 2 or 5 × 10^k.
fn nice_floor(v: f64) -> f64 {
    let base = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * base)
        .find(|&c| c <= v * 1.000_001)
        .unwrap_or(base)
}

/// Grid lines and labels at 1, 2, 5 × 10^k ms (decades only over more than three decades).
fn y_ticks(root: &Area, chart: &LogChart, lo: f64, hi: f64) -> PlotResult {
    let (px, _) = plot_px(chart);
    let steps: &[f64] = if hi / lo > 1e3 {
        &[1.0]
    } else {
        &[1.0, 2.0, 5.0]
    };
    let style = anchored(13, INK, HPos::Right, VPos::Center);
    let mut exp = lo.log10().floor() as i32;
    while 10f64.powi(exp) <= hi {
        for &m in steps {
            let v = m * 10f64.powi(exp);
            if v < lo * 0.9999 || v > hi * 1.0001 {
                continue;
            }
            let y = chart.backend_coord(&(1.0, v)).1;
            let grid = if m == 1.0 {
                GRID.mix(1.0)
            } else {
                GRID.mix(0.5)
            };
            root.draw(&PathElement::new(
                vec![(px.start, y), (px.end, y)],
                grid.stroke_width(1),
            ))?;
            root.draw(&PathElement::new(
                vec![(px.start - 5, y), (px.start, y)],
                INK.stroke_width(1),
            ))?;
            let label = trim(v, (-exp).max(0) as usize);
            root.draw(&Text::new(label, (px.start - 8, y), style.clone()))?;
        }
        exp += 1;
    }
    Ok(())
}

/// A grid line, a tick and a label at each interval that was run, and under it the run's failed
/// requests when known.
fn x_ticks(root: &Area, chart: &LogChart, placed: &[&SweepPoint]) -> PlotResult {
    let (_, py) = plot_px(chart);
    let style = anchored(14, INK, HPos::Center, VPos::Top);
    let small = anchored(12, MUTED, HPos::Center, VPos::Top);
    let mut last = f64::NAN;
    for p in placed {
        let x = chart.backend_coord(&(p.advert_ms, 1.0)).0;
        if p.advert_ms != last {
            root.draw(&PathElement::new(
                vec![(x, py.start), (x, py.end)],
                GRID.stroke_width(1),
            ))?;
            root.draw(&PathElement::new(
                vec![(x, py.end), (x, py.end + 5)],
                INK.stroke_width(1),
            ))?;
            let label = interval_label(p.advert_ms);
            root.draw(&Text::new(label, (x, py.end + 8), style.clone()))?;
        }
        // Repeated intervals: one tick, the first run's failures.
        if let Some(f) = known(p.failed_requests).filter(|_| p.advert_ms != last) {
            let label = format!("{} failed", trim(f, 0));
            root.draw(&Text::new(label, (x, py.end + 27), small.clone()))?;
        }
        last = p.advert_ms;
    }
    Ok(())
}

/// Master_Down_Interval for priority `p`, sampled across the x range where it is inside the
/// y range; `tag` names the priority at its end, above or below the line, when several are drawn.
fn formula_line(root: &Area, chart: &LogChart, p: u8, tag: Option<VPos>) -> PlotResult {
    let (x_lo, x_hi) = (chart.x_range().start, chart.x_range().end);
    let (y_lo, y_hi) = (chart.y_range().start, chart.y_range().end);
    let per_ms = master_down_ms(1.0, p);
    // The formula is proportional to I: clip the x span to where it stays on the chart.
    let (a, b) = (x_lo.max(y_lo / per_ms), x_hi.min(y_hi / per_ms));
    if a >= b {
        return Ok(());
    }
    let steps = FORMULA_SAMPLES - 1;
    let line: Vec<(i32, i32)> = (0..=steps)
        .map(|k| {
            let x = a * (b / a).powf(k as f64 / steps as f64);
            chart.backend_coord(&(x, master_down_ms(x, p)))
        })
        .collect();
    // Two smooth 1 px strokes a pixel apart: plotters turns wider paths into one polygon of
    // rounded corners, which puts visible kinks into a dense straight line.
    for dy in [0, 1] {
        let shifted = line.iter().map(|&(x, y)| (x, y + dy)).collect::<Vec<_>>();
        root.draw(&PathElement::new(shifted, FORMULA_C.stroke_width(1)))?;
    }
    if let Some(v) = tag {
        let (x, y) = chart.backend_coord(&(b, master_down_ms(b, p)));
        let dy = if matches!(v, VPos::Bottom) { -6 } else { 6 };
        let style = anchored(13, FORMULA_C, HPos::Right, v);
        root.draw(&Text::new(format!("p = {p}"), (x - 4, y + dy), style))?;
    }
    Ok(())
}

/// The takeover's mark: a solid dot with a white rim, centred on `at`.
fn dot(root: &Area, at: (i32, i32)) -> PlotResult {
    root.draw(&Circle::new(at, DOT_R, OK.filled()))?;
    root.draw(&Circle::new(at, DOT_R, WHITE.stroke_width(1)))?;
    Ok(())
}

/// The outage's mark: a solid triangle pointing up, centred on `at`.
fn triangle(root: &Area, at: (i32, i32)) -> PlotResult {
    let r = f64::from(TRIANGLE_R);
    let corners: Vec<(i32, i32)> = [-90.0f64, 30.0, 150.0]
        .iter()
        .map(|deg| {
            let rad = deg.to_radians();
            (
                at.0 + (r * rad.cos()).round() as i32,
                at.1 + (r * rad.sin()).round() as i32,
            )
        })
        .collect();
    root.draw(&Polygon::new(corners, FAIL.filled()))?;
    Ok(())
}

/// `label` at `at` on a white patch, so grid and formula lines do not run through it.
fn annotate(root: &Area, label: &str, at: (i32, i32), style: &TextStyle) -> PlotResult {
    let (w, h) = root.estimate_text_size(label, style)?;
    let (w, h) = (w as i32, h as i32);
    let left = match style.pos.h_pos {
        HPos::Left => at.0,
        HPos::Center => at.0 - w / 2,
        HPos::Right => at.0 - w,
    };
    root.draw(&Rectangle::new(
        [
            (left - 2, at.1 - h / 2 - 1),
            (left + w + 2, at.1 + h / 2 + 1),
        ],
        WHITE.filled(),
    ))?;
    root.draw(&Text::new(label.to_string(), at, style.clone()))?;
    Ok(())
}

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
enum Mark {
    Line,
    Dot,
    Triangle,
}

/// A framed legend, one entry per row, its top left corner at `corner`.
fn legend_box(root: &Area, corner: (i32, i32), entries: &[(Mark, String)]) -> PlotResult {
    const ROW_H: i32 = 24;
    const SWATCH_W: i32 = 28;
    const PAD: i32 = 10;
    let style = anchored(14, INK, HPos::Left, VPos::Center);
    let mut widest = 0;
    for (_, label) in entries {
        widest = widest.max(root.estimate_text_size(label, &style)?.0 as i32);
    }
    let (x0, y0) = corner;
    let x1 = x0 + PAD + SWATCH_W + 8 + widest + PAD;
    let y1 = y0 + PAD + ROW_H * entries.len() as i32 + PAD - 6;
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.filled()))?;
    root.draw(&Rectangle::new([(x0, y0), (x1, y1)], GRID.stroke_width(1)))?;
    for (k, (mark, label)) in entries.iter().enumerate() {
        let y = y0 + PAD + ROW_H * k as i32 + ROW_H / 2 - 3;
        let (sx, mid) = (x0 + PAD, x0 + PAD + SWATCH_W / 2);
        match mark {
            Mark::Line => root.draw(&PathElement::new(
                vec![(sx, y), (sx + SWATCH_W, y)],
                FORMULA_C.stroke_width(2),
            ))?,
            Mark::Dot => dot(root, (mid, y))?,
            Mark::Triangle => triangle(root, (mid, y))?,
        }
        root.draw(&Text::new(
            label.clone(),
            (sx + SWATCH_W + 8, y),
            style.clone(),
        ))?;
    }
    Ok(())
}
