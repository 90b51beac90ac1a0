//! Tests of the failover chart on five synthetic failover runs (sync, no sync, sloppy Maglev,
//! back and forth, NAT with sync), including missing, NaN and zero values.
//!
//! Set `TAPVS_RESULTS_SAMPLE_DIR=/some/dir` to keep `failover/` and `failover-sparse/` there and
//! look at the charts.

use super::plot_common::{FAIL, SIZE};
use super::temp_dir::TempDir;
use super::*;
use plotters::prelude::*;

pub(super) fn run(scenario: &str, metrics: &[(&str, f64)]) -> RunRecord {
    RunRecord {
        scenario: scenario.into(),
        run_id: format!("20261125-0300-{scenario}"),
        revision: "4ed0a7d".into(),
        seed: 0,
        engine: "netns".into(),
        mode: "dr".into(),
        scheduler: "mh".into(),
        interval_ms: 100,
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..RunRecord::default()
    }
}

/// Broken connections 0, 37, 3, 12, 0; the NAT run's outage was not measured (NaN).
fn five() -> Vec<RunRecord> {
    let m = |broken: f64, outage: f64, takeover: f64| {
        vec![
            ("broken_connections", broken),
            ("outage_ms", outage),
            ("takeover_ms", takeover),
            ("failed_requests", broken * 2.0),
        ]
    };
    vec![
        run("failover-sync", &m(0.0, 412.0, 371.5)),
        run("failover-nosync", &m(37.0, 1840.0, 368.0)),
        run("failover-maglev-sloppy", &m(3.0, 455.0, 402.0)),
        run("failover-back-and-forth", &m(12.0, 960.0, 955.0)),
        run("failover-nat-sync", &m(0.0, f64::NAN, 380.0)),
    ]
}

/// The PNG's signature and pixel dimensions; returns its size in bytes.
pub(super) fn check_png(path: &Path) -> usize {
    let png = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), SIZE);
    png.len()
}

/// Writes a sample for the eye when `TAPVS_RESULTS_SAMPLE_DIR` is set.
fn keep_sample(name: &str, runs: &[RunRecord]) {
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        assert!(write_failover_chart(&Path::new(&dir).join(name), runs).unwrap());
    }
}

#[test]
fn five_runs_draw_a_png_of_the_right_size() {
    let tmp = TempDir::new("five");
    let dir = tmp.0.join("a").join("b");
    assert!(write_failover_chart(&dir, &five()).unwrap());
    let bytes = check_png(&dir.join(FAILOVER_PNG));
    assert!(bytes > 20_000, "only {bytes} bytes");
    keep_sample("failover", &five());
}

#[test]
fn runs_without_the_metrics_write_nothing() {
    let tmp = TempDir::new("none");
    let runs = [
        run("web", &[("failed_requests", 3.0), ("takeover_ms", 300.0)]),
        run("drain", &[]),
    ];
    assert!(!write_failover_chart(&tmp.0, &runs).unwrap());
    assert!(tmp.0.is_dir(), "the folder is still created");
    assert!(!tmp.0.join(FAILOVER_PNG).exists());
    assert!(!write_failover_chart(&tmp.0, &[]).unwrap());
    assert!(!tmp.0.join(FAILOVER_PNG).exists());
}

#[test]
fn nan_missing_and_odd_values_still_draw() {
    let tmp = TempDir::new("nan");
    let runs = [
        run("failover-sync", &[("broken_connections", f64::NAN)]),
        run("failover-nosync", &[("outage_ms", f64::NAN)]),
        run(
            "failover-infinite",
            &[
                ("broken_connections", f64::INFINITY),
                ("outage_ms", -5.0),
                ("takeover_ms", f64::NAN),
            ],
        ),
        run(
            "failover-a-name-far-too-long-for-its-place-under-the-axis-really",
            &[("outage_ms", 0.0), ("takeover_ms", 2.0e6)],
        ),
    ];
    assert!(write_failover_chart(&tmp.0, &runs).unwrap());
    check_png(&tmp.0.join(FAILOVER_PNG));
    // Only NaN: still a chart, all `n/a` (a director fault happened: takeover is there).
    let only_nan = [run(
        "x",
        &[("broken_connections", f64::NAN), ("takeover_ms", f64::NAN)],
    )];
    assert!(write_failover_chart(&tmp.0.join("one"), &only_nan).unwrap());
    check_png(&tmp.0.join("one").join(FAILOVER_PNG));
    keep_sample("failover-sparse", &runs);
}

/// Heights in pixels of the bars of the broken-connections colour (`FAIL`) in the left half, left
/// to right (contiguous columns that have that colour below the panel header).
pub(super) fn broken_bars(buf: &[u8]) -> Vec<usize> {
    let (w, h) = SIZE;
    let red = |x: u32| {
        (124..h)
            .filter(|&y| {
                let i = ((y * w + x) * 3) as usize;
                buf[i..i + 3] == [FAIL.0, FAIL.1, FAIL.2]
            })
            .count()
    };
    let mut bars = Vec::new();
    let mut open = false;
    for x in 0..w / 2 {
        match (red(x), open) {
            (0, _) => open = false,
            (n, false) => {
                bars.push(n);
                open = true;
            }
            (n, true) => {
                let last = bars.last_mut().unwrap();
                *last = (*last).max(n);
            }
        }
    }
    bars
}

#[test]
fn broken_bars_are_as_tall_as_their_counts() {
    super::font::ensure().unwrap();
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = super::canvas::Canvas::Png(BitMapBackend::with_buffer(&mut buf, SIZE))
            .into_drawing_area();
        root.fill(&WHITE).unwrap();
        failover_chart::draw(&root, &five()).unwrap();
        root.present().unwrap();
    }
    let bars = broken_bars(&buf);
    assert_eq!(bars.len(), 5, "{bars:?}");
    // Zero is a stub a few pixels high, not nothing.
    assert!(bars[0] > 0 && bars[0] <= 4, "{bars:?}");
    let ratio = bars[1] as f64 / bars[3] as f64;
    assert!((ratio / (37.0 / 12.0) - 1.0).abs() < 0.05, "{bars:?}");
}

#[test]
fn errors_name_the_path() {
    let tmp = TempDir::new("errors");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let file = tmp.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = write_failover_chart(&file.join("chart"), &five()).unwrap_err();
    assert!(matches!(err, ResultsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");

    // A folder where the PNG should go: the drawing fails, naming the file.
    let dir = tmp.0.join("taken");
    std::fs::create_dir_all(dir.join(FAILOVER_PNG)).unwrap();
    let err = write_failover_chart(&dir, &five()).unwrap_err();
    assert!(err.to_string().contains(FAILOVER_PNG), "{err}");
}
