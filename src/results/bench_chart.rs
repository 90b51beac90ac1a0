//! The charts of `tapvs bench`: one per test (`bench-<test>.png` and `.svg`), a bar per path at
//! its median with a whisker from the smallest to the largest repetition, and for the frames
//! test a second chart of the middle box's CPU time per frame. tapvs in blue, the raw TAP wire in
//! grey, the kernel and HAProxy in orange.

use super::ResultsError;
use super::plot_common::{Area, HEADER_H, INK, MUTED, OK, PlotResult, nice_ceil, render, text};
use crate::bench::plan::{Path, Test};
use crate::bench::report::{Figure, Row, Spread, Table, shown, spread};
use plotters::prelude::*;
use std::path::Path as FsPath;

const WIRE: RGBColor = RGBColor(150, 150, 150);
const KERNEL: RGBColor = RGBColor(255, 127, 14);
const NONE: RGBColor = RGBColor(44, 160, 44);

/// Writes every chart into `dir`; returns how many (each a PNG and an SVG).
pub fn write_all(
    dir: &FsPath,
    rows: &[Row],
    paths: &[Path],
    tests: &[Test],
) -> Result<usize, ResultsError> {
    let table = Table::new(rows);
    let mut written = 0;
    for &test in tests {
        let shown_paths: Vec<Path> = paths.iter().copied().filter(|p| p.runs(test)).collect();
        let (unit, more_is_better) = test.unit();
        let mut charts = vec![(
            format!("bench-{}.png", test.name()),
            format!(
                "{}: {unit} ({} is better)",
                test.name(),
                if more_is_better { "more" } else { "less" }
            ),
            Figure::Value,
        )];
        if test == Test::UdpFrames {
            charts.push((
                "bench-udp-cpu.png".into(),
                "udp-frames: middle box CPU µs per frame (less is better)".into(),
                Figure::BoxCpu,
            ));
        }
        for (file, title, figure) in charts {
            let bars: Vec<(Path, Option<Spread>)> = shown_paths
                .iter()
                .map(|&p| (p, spread(&table.values(p, test, figure))))
                .collect();
            if bars.iter().all(|(_, s)| s.is_none()) {
                continue;
            }
            let sub = format!(
                "bar: median of {} repetition(s) · whisker: min–max · blue tapvs, grey raw TAP wire, orange kernel / HAProxy, green no balancer",
                table.repetitions
            );
            render(&dir.join(file), |root| draw(root, &title, &sub, &bars))?;
            written += 1;
        }
    }
    Ok(written)
}

fn colour(path: Path) -> RGBColor {
    match path {
        Path::TapvsDr | Path::TapvsNat | Path::TapvsDrUring | Path::TapvsNatUring => OK,
        Path::WireDr
        | Path::WireDrVnet
        | Path::WireNat
        | Path::WireNatVnet
        | Path::WireDrUring
        | Path::WireNatUring => WIRE,
        Path::Direct => NONE,
        _ => KERNEL,
    }
}

fn draw(root: &Area, title: &str, sub: &str, bars: &[(Path, Option<Spread>)]) -> PlotResult {
    root.draw(&Text::new(title.to_string(), (16, 10), text(22, INK)))?;
    root.draw(&Text::new(sub.to_string(), (16, 40), text(14, MUTED)))?;
    let body = root.split_vertically(HEADER_H).1;
    let top = bars
        .iter()
        .filter_map(|(_, s)| s.map(|(_, _, hi)| hi))
        .fold(0.0f64, f64::max);
    let right = if top > 0.0 {
        nice_ceil(top * 1.12)
    } else {
        1.0
    };
    let n = bars.len();
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(130)
        .build_cartesian_2d(0.0..right, 0.0..n as f64)?;
    let label = |y: &f64| {
        let i = n.saturating_sub(1 + y.floor() as usize);
        bars.get(i)
            .map_or(String::new(), |(p, _)| p.name().to_string())
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .light_line_style(super::plot_common::GRID.mix(0.5))
        .bold_line_style(super::plot_common::GRID)
        .y_labels(n * 2 + 1)
        .y_label_formatter(&|y| {
            if (y.fract() - 0.5).abs() < 0.01 {
                label(y)
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|x| shown(*x))
        .label_style(text(13, INK))
        .draw()?;
    for (i, (path, s)) in bars.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let Some((median, lo, hi)) = *s else {
            chart.draw_series(std::iter::once(Text::new(
                "not measured".to_string(),
                (right * 0.01, y + 0.5),
                text(13, MUTED),
            )))?;
            continue;
        };
        let c = colour(*path);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y + 0.2), (median, y + 0.8)],
            c.filled(),
        )))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(lo, y + 0.5), (hi, y + 0.5)],
            INK.stroke_width(2),
        )))?;
        for x in [lo, hi] {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x, y + 0.35), (x, y + 0.65)],
                INK.stroke_width(2),
            )))?;
        }
        chart.draw_series(std::iter::once(Text::new(
            shown(median),
            (hi.max(median) + right * 0.01, y + 0.62),
            text(13, INK),
        )))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::sample_row as row;
    use crate::results::temp_dir::TempDir;

    #[test]
    fn a_chart_per_test_and_one_for_the_cpu_each_as_png_and_svg() {
        let dir = TempDir::new("bench-chart");
        std::fs::create_dir_all(&dir.0).unwrap();
        let paths = [Path::Direct, Path::WireDrVnet, Path::TapvsDr, Path::Haproxy];
        let mut rows = Vec::new();
        for rep in 1..=3 {
            for (i, &p) in paths.iter().enumerate() {
                for test in [Test::UdpFrames, Test::NewConn] {
                    if p.runs(test) {
                        rows.push(row(rep, p, test, 1000.0 * (i + rep as usize) as f64));
                    }
                }
            }
        }
        let n = write_all(&dir.0, &rows, &paths, &[Test::UdpFrames, Test::NewConn]).unwrap();
        assert_eq!(n, 3);
        for name in ["bench-udp-frames", "bench-udp-cpu", "bench-http-newconn"] {
            let png = std::fs::read(dir.0.join(format!("{name}.png"))).unwrap();
            assert_eq!(&png[1..4], b"PNG");
            let svg = std::fs::read_to_string(dir.0.join(format!("{name}.svg"))).unwrap();
            assert!(svg.contains("tapvs-dr"), "{name}: the paths are named");
        }
        let svg = std::fs::read_to_string(dir.0.join("bench-http-newconn.svg")).unwrap();
        assert!(svg.contains("haproxy") && svg.contains("median of 3 repetition(s)"));
        let svg = std::fs::read_to_string(dir.0.join("bench-udp-frames.svg")).unwrap();
        assert!(!svg.contains("haproxy"), "HAProxy carries no UDP: no bar");
    }
}
