//! Tests of the failover sweep's CSV, chart and table on synthetic runs (1 s, 300 ms, 100 ms and
//! 30 ms adverts, backup priority 100).
//!
//! Set `TAPVS_RESULTS_SAMPLE_DIR=/some/dir` to keep `sweep/`, `sweep-one/`, `sweep-none/` and
//! `sweep-odd/` there and look at the plots.

use super::plot_common::SIZE;
use super::sweep::{interval_label, value_label};
use super::temp_dir::TempDir;
use super::*;

fn point(advert_ms: f64, takeover_ms: f64, outage_ms: f64, failed: f64) -> SweepPoint {
    SweepPoint {
        run: format!("failover-sweep-advert-{advert_ms}ms"),
        advert_ms,
        backup_priority: 100,
        takeover_ms,
        outage_ms,
        failed_requests: failed,
    }
}

/// Four runs, deliberately out of order: takeover a little after the formula, outage longer.
fn four() -> Vec<SweepPoint> {
    vec![
        point(100.0, 372.5, 410.0, 212.0),
        point(1000.0, 3641.0, 3702.4, 1850.0),
        point(30.0, 117.0, 160.5, 81.0),
        point(300.0, 1094.0, 1150.0, 575.0),
    ]
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

const HEADER: &str =
    "run,advert_ms,backup_priority,formula_ms,takeover_ms,outage_ms,failed_requests";

/// The PNG's signature, size in bytes and pixel dimensions.
fn check_png(path: &Path) -> usize {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), SIZE);
    png.len()
}

/// Writes a sample for the eye when `TAPVS_RESULTS_SAMPLE_DIR` is set.
fn keep_sample(name: &str, points: &[SweepPoint]) {
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        write_sweep(&Path::new(&dir).join(name), points).unwrap();
    }
}

#[test]
fn master_down_interval_follows_rfc_5798() {
    assert_eq!(master_down_ms(100.0, 100), 360.9375);
    assert_eq!(master_down_ms(1000.0, 100), 3609.375);
    assert_eq!(master_down_ms(30.0, 100), 108.28125);
    // The skew shrinks as the priority grows: 255 waits 1/256 of an interval, 1 nearly a whole one.
    assert_eq!(master_down_ms(256.0, 255), 769.0);
    assert_eq!(master_down_ms(256.0, 1), 1023.0);
    assert!(master_down_ms(f64::NAN, 100).is_nan());
}

#[test]
fn csv_has_one_row_per_run_sorted_by_interval() {
    let tmp = TempDir::new("csv");
    write_sweep(&tmp.0, &four()).unwrap();
    let rows = csv_rows(&tmp.0.join(SWEEP_CSV));
    assert_eq!(rows[0].join(","), HEADER);
    let want = [
        "failover-sweep-advert-30ms,30,100,108.28125,117,160.5,81",
        "failover-sweep-advert-100ms,100,100,360.9375,372.5,410,212",
        "failover-sweep-advert-300ms,300,100,1082.8125,1094,1150,575",
        "failover-sweep-advert-1000ms,1000,100,3609.375,3641,3702.4,1850",
    ];
    let got: Vec<String> = rows[1..].iter().map(|r| r.join(",")).collect();
    assert_eq!(got, want);
}

#[test]
fn nan_is_an_empty_field() {
    let tmp = TempDir::new("nan");
    let points = [
        point(100.0, f64::NAN, 410.0, f64::NAN),
        point(30.0, 117.0, f64::NAN, 0.0),
    ];
    write_sweep(&tmp.0, &points).unwrap();
    let rows = csv_rows(&tmp.0.join(SWEEP_CSV));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][1..], ["30", "100", "108.28125", "117", "", "0"]);
    assert_eq!(rows[2][1..], ["100", "100", "360.9375", "", "410", ""]);
    assert!(check_png(&tmp.0.join(SWEEP_PNG)) > 10_000);
}

#[test]
fn png_is_a_real_chart_of_the_right_size() {
    let tmp = TempDir::new("png");
    write_sweep(&tmp.0, &four()).unwrap();
    let bytes = check_png(&tmp.0.join(SWEEP_PNG));
    assert!(bytes > 20_000, "only {bytes} bytes");
    keep_sample("sweep", &four());
}

#[test]
fn no_runs_one_run_and_odd_intervals_still_write() {
    let tmp = TempDir::new("few");
    write_sweep(&tmp.0.join("none"), &[]).unwrap();
    assert_eq!(
        csv_rows(&tmp.0.join("none").join(SWEEP_CSV)),
        [HEADER.split(',').map(String::from).collect::<Vec<_>>()]
    );
    assert!(check_png(&tmp.0.join("none").join(SWEEP_PNG)) > 5_000);
    keep_sample("sweep-none", &[]);

    let one = [point(100.0, 372.5, 410.0, 212.0)];
    write_sweep(&tmp.0.join("one"), &one).unwrap();
    assert_eq!(csv_rows(&tmp.0.join("one").join(SWEEP_CSV)).len(), 2);
    assert!(check_png(&tmp.0.join("one").join(SWEEP_PNG)) > 10_000);
    keep_sample("sweep-one", &one);

    // Nothing measured, zero, negative, tiny and infinite values, intervals a log axis cannot
    // hold, a repeated interval and two priorities: all written, nothing panics.
    let mut odd = vec![
        point(100.0, f64::NAN, f64::NAN, f64::NAN),
        point(100.0, 0.0, f64::INFINITY, 3.0),
        point(0.0, 5.0, 5.0, 0.0),
        point(f64::NAN, 5.0, 5.0, 0.0),
        point(-30.0, 5.0, 5.0, 0.0),
        point(f64::MAX, 5.0, 5.0, 0.0),
        point(1e-320, 5.0, 5.0, 0.0),
        point(1000.0, 1e-300, -4.0, 1.0),
    ];
    odd[1].backup_priority = 200;
    write_sweep(&tmp.0.join("odd"), &odd).unwrap();
    assert_eq!(csv_rows(&tmp.0.join("odd").join(SWEEP_CSV)).len(), 9);
    assert!(tmp.0.join("odd").join(SWEEP_PNG).is_file());
    keep_sample("sweep-odd", &odd);

    let unplaceable = [point(f64::NAN, 5.0, 5.0, 0.0)];
    write_sweep(&tmp.0.join("nan-interval"), &unplaceable).unwrap();
    assert!(tmp.0.join("nan-interval").join(SWEEP_PNG).is_file());
}

#[test]
fn table_aligns_one_line_per_run_shortest_interval_first() {
    let mut points = four();
    points[0].outage_ms = f64::NAN;
    let table = sweep_table(&points);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let cells: Vec<Vec<&str>> = lines
        .iter()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        cells[0],
        [
            "interval",
            "formula (ms)",
            "takeover (ms)",
            "outage (ms)",
            "failed"
        ]
    );
    assert_eq!(cells[1], ["30 ms", "108.3", "117", "160.5", "81"]);
    assert_eq!(cells[2], ["100 ms", "360.9", "372.5", "n/a", "212"]);
    assert_eq!(cells[4], ["1 s", "3609.4", "3641", "3702.4", "1850"]);
    // Right-aligned: every line is as long as the header.
    let width = lines[0].chars().count();
    assert!(lines.iter().all(|l| l.chars().count() == width), "{table}");
    assert_eq!(sweep_table(&[]).lines().count(), 1);
}

#[test]
fn labels_read_like_an_engineer_writes_them() {
    assert_eq!(interval_label(30.0), "30 ms");
    assert_eq!(interval_label(1000.0), "1 s");
    assert_eq!(interval_label(2500.0), "2.5 s");
    assert_eq!(interval_label(33.3), "33.3 ms");
    assert_eq!(interval_label(f64::NAN), "n/a");
    assert_eq!(value_label(360.9375), "361 ms");
    assert_eq!(value_label(36.09375), "36.1 ms");
    assert_eq!(value_label(3609.375), "3.61 s");
    assert_eq!(value_label(3702.4), "3.70 s");
    assert_eq!(value_label(410.0), "410 ms");
    assert_eq!(value_label(0.0), "0 ms");
}

#[test]
fn errors_name_the_path() {
    let tmp = TempDir::new("errors");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let file = tmp.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = write_sweep(&file.join("sweep"), &four()).unwrap_err();
    assert!(matches!(err, ResultsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
