//! Drawing helpers shared by the plots: canvas, colours, text, header, legends, number formats.

use super::canvas::Canvas;
use super::{ResultsError, RunRecord, font};
use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;

pub(super) type Area<'a> = DrawingArea<Canvas<'a>, Shift>;
pub(super) type PlotResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Canvas size of every plot, in pixels.
pub(super) const SIZE: (u32, u32) = (1200, 700);
/// Height of the title block on top of every plot.
pub(super) const HEADER_H: u32 = 64;
/// Width reserved for y tick labels and the y axis description.
pub(super) const Y_LABEL_W: u32 = 72;

pub(super) const OK: RGBColor = RGBColor(31, 119, 180);
pub(super) const FAIL: RGBColor = RGBColor(214, 39, 40);
pub(super) const P50: RGBColor = RGBColor(44, 160, 44);
pub(super) const P99: RGBColor = RGBColor(148, 103, 189);
pub(super) const GRID: RGBColor = RGBColor(232, 232, 232);
pub(super) const INK: RGBColor = RGBColor(40, 40, 40);
pub(super) const MUTED: RGBColor = RGBColor(110, 110, 110);
pub(super) const EVENT: RGBColor = RGBColor(70, 70, 70);

/// Colours for servers and directors (tab10 without its red, which means failure here).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

pub(super) fn palette(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

pub(super) fn text(size: u32, color: RGBColor) -> TextStyle<'static> {
    (font::FAMILY, size).into_font().color(&color)
}

pub(super) fn anchored(size: u32, color: RGBColor, h: HPos, v: VPos) -> TextStyle<'static> {
    text(size, color).pos(Pos::new(h, v))
}

/// Draws one PNG at `path` and the same chart as an SVG beside it (`path` with `.svg`): font,
/// white canvas, `body`, and the file writes; errors name the file.
pub(super) fn render(path: &Path, body: impl Fn(&Area) -> PlotResult) -> Result<(), ResultsError> {
    let svg = path.with_extension("svg");
    let plot_err = |path: &Path, message: String| ResultsError::Plot {
        path: path.to_path_buf(),
        message,
    };
    font::ensure().map_err(|m| plot_err(path, m.to_string()))?;
    let draw = |canvas: Canvas| {
        let root = canvas.into_drawing_area();
        root.fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| body(&root))
            .and_then(|()| root.present().map_err(Into::into))
    };
    draw(Canvas::Png(BitMapBackend::new(path, SIZE))).map_err(|e| plot_err(path, e.to_string()))?;
    draw(Canvas::Svg(SVGBackend::new(&svg, SIZE))).map_err(|e| plot_err(&svg, e.to_string()))
}

/// Title and a grey line naming the run; returns the area below it.
pub(super) fn header<'a>(root: &Area<'a>, run: &RunRecord, title: &str) -> PlotResult<Area<'a>> {
    root.draw(&Text::new(title.to_string(), (16, 10), text(22, INK)))?;
    let sub = format!(
        "run {}   ·   rev {}   ·   {} / {}   ·   {} ms intervals",
        run.run_id, run.revision, run.mode, run.scheduler, run.interval_ms
    );
    root.draw(&Text::new(sub, (16, 40), text(14, MUTED)))?;
    Ok(root.split_vertically(HEADER_H).1)
}

/// How a legend entry shows its series.
#[derive(Clone, Copy)]
pub(super) enum Swatch {
    Line(RGBColor),
    Box(RGBColor),
    PaleBox(RGBColor),
}

const SWATCH_W: i32 = 22;
const ENTRY_GAP: i32 = 18;

/// Draws `entries` on one row ending at `right`, vertically centred on `y` (pixels, root area).
pub(super) fn legend_row(
    root: &Area,
    right: i32,
    y: i32,
    entries: &[(Swatch, String)],
) -> PlotResult {
    let style = anchored(14, INK, HPos::Left, VPos::Center);
    let widths: Vec<i32> = entries
        .iter()
        .map(|(_, label)| {
            root.estimate_text_size(label, &style)
                .map(|(w, _)| w as i32)
        })
        .collect::<Result<_, _>>()?;
    let total: i32 = widths
        .iter()
        .map(|w| SWATCH_W + 6 + w + ENTRY_GAP)
        .sum::<i32>()
        - ENTRY_GAP;
    let mut x = right - total;
    for ((swatch, label), w) in entries.iter().zip(widths) {
        match *swatch {
            Swatch::Line(c) => root.draw(&PathElement::new(
                vec![(x, y), (x + SWATCH_W, y)],
                c.stroke_width(3),
            ))?,
            Swatch::Box(c) => root.draw(&Rectangle::new(
                [(x + 4, y - 6), (x + SWATCH_W - 4, y + 6)],
                c.filled(),
            ))?,
            Swatch::PaleBox(c) => pale_box(root, (x + 4, y - 6), (x + SWATCH_W - 4, y + 6), c)?,
        }
        root.draw(&Text::new(
            label.clone(),
            (x + SWATCH_W + 6, y),
            style.clone(),
        ))?;
        x += SWATCH_W + 6 + w + ENTRY_GAP;
    }
    Ok(())
}

/// A light fill with a solid outline: the "expected" look.
pub(super) fn pale_box(root: &Area, a: (i32, i32), b: (i32, i32), c: RGBColor) -> PlotResult {
    root.draw(&Rectangle::new([a, b], c.mix(0.25).filled()))?;
    root.draw(&Rectangle::new([a, b], c.stroke_width(1)))?;
    Ok(())
}

/// A panel title at the top left of a plot area, its baseline `dy` px above it.
pub(super) fn panel_title(
    root: &Area,
    plot: &(Range<i32>, Range<i32>),
    title: &str,
    dy: i32,
) -> PlotResult {
    let style = anchored(15, INK, HPos::Left, VPos::Bottom);
    root.draw(&Text::new(
        title.to_string(),
        (plot.0.start, plot.1.start - dy),
        style,
    ))?;
    Ok(())
}

/// `chart`'s mesh in the house style: labels 13 px and axis titles 14 px in ink, a pale grid.
pub(super) fn styled_mesh<'a, 'b, X, Y, DB>(
    chart: &'b mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    DB: DrawingBackend,
{
    let mut mesh = chart.configure_mesh();
    mesh.label_style(text(13, INK))
        .axis_desc_style(text(14, INK))
        .light_line_style(GRID.mix(0.5))
        .bold_line_style(GRID);
    mesh
}

/// Pixel ranges (x, y) of a chart's plotting area.
pub(super) fn plot_px<X, Y>(
    chart: &ChartContext<Canvas, Cartesian2d<X, Y>>,
) -> (Range<i32>, Range<i32>)
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart.plotting_area().get_pixel_range()
}

/// Rounds a positive `v` up to a round number (1, 1.2, 1.5, 2, ... 8, 10 × 10^k).
pub(super) fn nice_ceil(v: f64) -> f64 {
    let base = 10f64.powf(v.log10().floor());
    [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0]
        .into_iter()
        .map(|m| m * base)
        .find(|&c| c >= v)
        .unwrap_or(v)
}

/// `v` with at most `decimals` decimals and no trailing zeros.
pub(super) fn trim(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Room above a time panel for its title and legend.
const TIME_PANEL_TOP: u32 = 30;

/// A panel on a time axis in seconds (`0..end_s`) above another: every such panel uses the same
/// margins and label widths, so x pixels agree between the panels of one chart.
pub(super) fn time_panel<'a, 'b, Y: AsRangedCoord<Value = f64>>(
    area: &'a Area<'b>,
    end_s: f64,
    y: Y,
) -> PlotResult<ChartContext<'a, Canvas<'b>, Cartesian2d<RangedCoordf64, Y::CoordDescType>>> {
    Ok(ChartBuilder::on(area)
        .margin_top(TIME_PANEL_TOP)
        .margin_left(8)
        .margin_right(28)
        .margin_bottom(4)
        .x_label_area_size(44)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(0f64..end_s, y)?)
}
