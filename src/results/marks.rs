//! Marks on the time axis: events as dashed lines with labels that never overlap, and master
//! spans as a thin band. Drawn on the root area in pixels, after the charts, so one dashed line
//! can cross several panels.

use super::plot_common::{Area, EVENT, INK, PlotResult, anchored, palette, text};
use super::{EventMark, MasterSpan};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};
use std::ops::Range;

/// A vertical dashed line from `y0` to `y1` at `x` (pixels).
fn dashed_vline(root: &Area, x: i32, y0: i32, y1: i32) -> PlotResult {
    let mut y = y0;
    while y < y1 {
        let end = (y + 6).min(y1);
        root.draw(&PathElement::new(
            vec![(x, y), (x, end)],
            EVENT.stroke_width(1),
        ))?;
        y += 10;
    }
    Ok(())
}

/// Height in pixels of one row of event labels.
pub(super) const EVENT_ROW_H: i32 = 20;

/// An event label placed on a row so it overlaps no other label.
pub(super) struct Placed<'e> {
    /// x pixel of the event line.
    pub x: i32,
    /// Left edge and width of the label box.
    pub left: i32,
    pub w: i32,
    pub row: usize,
    pub label: &'e str,
}

/// Places event labels left-aligned after their line (or before it near the right edge); a
/// label that would overlap one already placed goes to the next free row.
pub(super) fn layout_events<'e>(
    root: &Area,
    events: &'e [EventMark],
    to_px: impl Fn(u64) -> i32,
    x_range: &Range<i32>,
) -> PlotResult<Vec<Placed<'e>>> {
    let mut sorted: Vec<&EventMark> = events.iter().collect();
    sorted.sort_by_key(|e| e.at_ms);
    let style = text(13, INK);
    let mut row_end: Vec<i32> = Vec::new();
    let mut placed = Vec::with_capacity(sorted.len());
    for ev in sorted {
        let x = to_px(ev.at_ms).clamp(x_range.start, x_range.end);
        let w = root.estimate_text_size(&ev.label, &style)?.0 as i32 + 8;
        let left = if x + 3 + w <= x_range.end {
            x + 3
        } else {
            x - 3 - w
        };
        let row = match row_end.iter().position(|&end| end + 4 <= left) {
            Some(r) => r,
            None => {
                row_end.push(i32::MIN);
                row_end.len() - 1
            }
        };
        row_end[row] = left + w;
        placed.push(Placed {
            x,
            left,
            w,
            row,
            label: &ev.label,
        });
    }
    Ok(placed)
}

/// How many label rows [`draw_events`] will need (to leave headroom for them).
pub(super) fn event_rows(
    root: &Area,
    events: &[EventMark],
    to_px: impl Fn(u64) -> i32,
    x_range: &Range<i32>,
) -> PlotResult<usize> {
    let placed = layout_events(root, events, to_px, x_range)?;
    Ok(placed.iter().map(|p| p.row + 1).max().unwrap_or(0))
}

/// Draws each event as a dashed line through every panel in `spans` (pixel y ranges), with its
/// label at the top of the first panel, `label_top` px below its top edge.
pub(super) fn draw_events(
    root: &Area,
    events: &[EventMark],
    to_px: impl Fn(u64) -> i32,
    x_range: &Range<i32>,
    spans: &[Range<i32>],
    label_top: i32,
) -> PlotResult {
    let Some(top) = spans.first().map(|s| s.start + label_top) else {
        return Ok(());
    };
    let box_h = EVENT_ROW_H - 3;
    let placed = layout_events(root, events, to_px, x_range)?;
    // All lines first, so no line crosses a label.
    for p in &placed {
        for span in spans {
            dashed_vline(root, p.x, span.start, span.end)?;
        }
    }
    for p in placed {
        let y = top + p.row as i32 * EVENT_ROW_H;
        let corners = [(p.left, y), (p.left + p.w, y + box_h)];
        root.draw(&Rectangle::new(corners, WHITE.mix(0.85).filled()))?;
        root.draw(&Rectangle::new(corners, EVENT.mix(0.5).stroke_width(1)))?;
        let style = anchored(13, INK, HPos::Left, VPos::Center);
        root.draw(&Text::new(
            p.label.to_string(),
            (p.left + 4, y + box_h / 2),
            style,
        ))?;
    }
    Ok(())
}

/// Height of the master band.
pub(super) const BAND_H: i32 = 16;

/// A thin band per master span along the top of a plot area, named by its director.
pub(super) fn draw_masters(
    root: &Area,
    spans: &[MasterSpan],
    to_px: impl Fn(u64) -> i32,
    x_range: &Range<i32>,
    top: i32,
) -> PlotResult {
    let mut directors: Vec<&str> = spans.iter().map(|s| s.director.as_str()).collect();
    directors.sort_unstable();
    directors.dedup();
    for s in spans {
        let a = to_px(s.from_ms).clamp(x_range.start, x_range.end);
        let b = to_px(s.to_ms).clamp(x_range.start, x_range.end);
        let idx = directors.iter().position(|d| *d == s.director).unwrap_or(0);
        let c = palette(idx + 3);
        root.draw(&Rectangle::new(
            [(a, top), (b, top + BAND_H)],
            c.mix(0.55).filled(),
        ))?;
        let label = format!("master {}", s.director);
        let style = anchored(12, INK, HPos::Left, VPos::Center);
        if root.estimate_text_size(&label, &style)?.0 as i32 + 8 <= b - a {
            root.draw(&Text::new(label, (a + 4, top + BAND_H / 2), style))?;
        }
    }
    Ok(())
}
