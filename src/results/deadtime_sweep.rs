//! The Heartbeat deadtime sweep, beside VRRP's advert-interval sweep (`sweep.rs`): one run
//! per deadtime (`[failover] sweep_deadtimes`), the master director killed in each.
//! `deadtime-sweep.csv` (one row per run) and `deadtime-sweep.png` (measured takeover and
//! outage against the deadtime, the line Heartbeat's takeover cannot beat), and
//! [`deadtime_table`] for the terminal. A NaN measurement is an empty cell, no mark and `n/a`.

use super::ResultsError;
use super::plot_common::{
    Area, FAIL, GRID, HEADER_H, INK, MUTED, OK, PlotResult, Swatch, Y_LABEL_W, legend_row,
    nice_ceil, render, text, trim,
};
use crate::metrics::catalogue as cat;
use plotters::prelude::*;
use std::path::Path;

pub const DEADTIME_CSV: &str = "deadtime-sweep.csv";
pub const DEADTIME_PNG: &str = "deadtime-sweep.png";

/// One run of a deadtime sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadtimePoint {
    pub run: String,
    pub keepalive_ms: f64,
    pub deadtime_ms: f64,
    pub takeover_ms: f64,
    pub outage_ms: f64,
    pub failed_requests: f64,
}

fn known(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn sorted(points: &[DeadtimePoint]) -> Vec<&DeadtimePoint> {
    let mut out: Vec<&DeadtimePoint> = points.iter().collect();
    out.sort_by(|a, b| a.deadtime_ms.total_cmp(&b.deadtime_ms));
    out
}

/// Creates `dir` and writes the CSV and the chart.
pub fn write_deadtime_sweep(dir: &Path, points: &[DeadtimePoint]) -> Result<(), ResultsError> {
    std::fs::create_dir_all(dir).map_err(|source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let points = sorted(points);
    let path = dir.join(DEADTIME_CSV);
    let err = |source| ResultsError::Csv {
        path: path.clone(),
        source,
    };
    let cell = |v: f64| known(v).map_or(String::new(), |v| v.to_string());
    let mut w = csv::Writer::from_path(&path).map_err(err)?;
    w.write_record([
        "run",
        "keepalive_ms",
        cat::DEADTIME_MS.name,
        cat::TAKEOVER_MS.name,
        "takeover_minus_deadtime_ms",
        cat::OUTAGE_MS.name,
        cat::FAILED_REQUESTS.name,
    ])
    .map_err(err)?;
    for p in &points {
        w.write_record([
            p.run.clone(),
            cell(p.keepalive_ms),
            cell(p.deadtime_ms),
            cell(p.takeover_ms),
            cell(p.takeover_ms - p.deadtime_ms),
            cell(p.outage_ms),
            cell(p.failed_requests),
        ])
        .map_err(err)?;
    }
    w.flush().map_err(|source| ResultsError::Io {
        path: path.clone(),
        source,
    })?;
    render(&dir.join(DEADTIME_PNG), |root| draw(root, &points))
}

/// One aligned line per run, shortest deadtime first.
pub fn deadtime_table(points: &[DeadtimePoint]) -> String {
    let ms = |v: f64| known(v).map_or("n/a".to_string(), |v| trim(v, 1));
    let mut rows = vec![
        [
            "deadtime (ms)",
            "takeover (ms)",
            "excess (ms)",
            "outage (ms)",
            "failed",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for p in sorted(points) {
        rows.push(vec![
            ms(p.deadtime_ms),
            ms(p.takeover_ms),
            ms(p.takeover_ms - p.deadtime_ms),
            ms(p.outage_ms),
            known(p.failed_requests).map_or("n/a".to_string(), |v| trim(v, 0)),
        ]);
    }
    super::table::aligned(&rows, 0)
}

fn draw(root: &Area, points: &[&DeadtimePoint]) -> PlotResult {
    root.draw(&Text::new(
        "Failover under Heartbeat: takeover vs deadtime",
        (16, 10),
        text(22, INK),
    ))?;
    let keepalives: Vec<String> = points
        .iter()
        .filter_map(|p| known(p.keepalive_ms))
        .map(|k| trim(k, 0))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let subtitle = format!(
        "{} run(s), the master director and its Heartbeat killed in each   ·   keepalive {} ms",
        points.len(),
        keepalives.join(", ")
    );
    root.draw(&Text::new(subtitle, (16, 40), text(14, MUTED)))?;
    let body = root.split_vertically(HEADER_H).1;
    let values = points
        .iter()
        .flat_map(|p| [p.deadtime_ms, p.takeover_ms, p.outage_ms]);
    let top = nice_ceil(values.filter_map(known).fold(1.0, f64::max) * 1.1);
    let right = nice_ceil(
        points
            .iter()
            .filter_map(|p| known(p.deadtime_ms))
            .fold(1.0, f64::max)
            * 1.1,
    );
    let mut chart = ChartBuilder::on(&body)
        .margin(16)
        .x_label_area_size(50)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(0.0..right, 0.0..top)?;
    chart
        .configure_mesh()
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_desc_style(text(15, INK))
        .label_style(text(13, INK))
        .x_desc("Heartbeat deadtime (ms)")
        .y_desc("milliseconds")
        .draw()?;
    // Heartbeat declares the node dead after the deadtime: no takeover comes sooner.
    chart.draw_series(LineSeries::new(
        [(0.0, 0.0), (right, right)],
        MUTED.stroke_width(2),
    ))?;
    let at = |f: fn(&DeadtimePoint) -> f64| {
        points
            .iter()
            .filter(|p| known(p.deadtime_ms).is_some() && known(f(p)).is_some())
            .map(move |p| (p.deadtime_ms, f(p).min(top)))
            .collect::<Vec<_>>()
    };
    chart.draw_series(
        at(|p| p.outage_ms)
            .into_iter()
            .map(|xy| TriangleMarker::new(xy, 8, FAIL.filled())),
    )?;
    chart.draw_series(
        at(|p| p.takeover_ms)
            .into_iter()
            .map(|xy| Circle::new(xy, 6, OK.filled())),
    )?;
    let (w, _) = root.dim_in_pixel();
    legend_row(
        root,
        w as i32 - 24,
        HEADER_H as i32 + 8,
        &[
            (Swatch::Line(MUTED), "deadtime".to_string()),
            (
                Swatch::Box(OK),
                "takeover: kill → new master's first gratuitous ARP".to_string(),
            ),
            (
                Swatch::Box(FAIL),
                "outage: longest gap without a successful request".to_string(),
            ),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(deadtime_ms: f64, takeover_ms: f64) -> DeadtimePoint {
        DeadtimePoint {
            run: format!("hb-deadtime-{deadtime_ms}ms"),
            keepalive_ms: 200.0,
            deadtime_ms,
            takeover_ms,
            outage_ms: takeover_ms + 50.0,
            failed_requests: 3.0,
        }
    }

    #[test]
    fn csv_rows_by_deadtime_with_the_excess_and_nan_as_empty() {
        let dir = std::env::temp_dir().join(format!("tapvs-deadtime-{}", std::process::id()));
        let points = [
            point(2000.0, 2210.0),
            point(1000.0, f64::NAN),
            point(500.0, 640.0),
        ];
        write_deadtime_sweep(&dir, &points).unwrap();
        let csv = std::fs::read_to_string(dir.join(DEADTIME_CSV)).unwrap();
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(
            rows[0],
            "run,keepalive_ms,deadtime_ms,takeover_ms,takeover_minus_deadtime_ms,outage_ms,failed_requests"
        );
        assert_eq!(rows[1], "hb-deadtime-500ms,200,500,640,140,690,3");
        assert_eq!(rows[2], "hb-deadtime-1000ms,200,1000,,,,3");
        assert_eq!(rows[3], "hb-deadtime-2000ms,200,2000,2210,210,2260,3");
        assert!(std::fs::metadata(dir.join(DEADTIME_PNG)).unwrap().len() > 1000);
        let table = deadtime_table(&points);
        assert!(table.lines().nth(2).unwrap().contains("n/a"), "{table}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
