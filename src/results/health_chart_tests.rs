//! Tests of the health chart: drawn only when a run measured detection, bars as tall as their
//! values, missing and NaN values shown as `n/a`.

use super::failover_chart_tests::{broken_bars, check_png, run};
use super::plot_common::SIZE;
use super::temp_dir::TempDir;
use super::*;
use plotters::prelude::*;

/// rs-failure-ldirectord's four runs: tapvs and ldirectord, DR and NAT.
fn four() -> Vec<RunRecord> {
    let m = |detection: f64, recovery: f64, failed: f64| {
        vec![
            ("detection_ms", detection),
            ("recovery_ms", recovery),
            ("failed_before_detection", failed),
        ]
    };
    vec![
        run("rs-failure-ldirectord-dr-tapvs", &m(1400.0, 400.0, 141.0)),
        run(
            "rs-failure-ldirectord-dr-ldirectord",
            &m(1900.0, 970.0, 191.0),
        ),
        run("rs-failure-ldirectord-nat-tapvs", &m(1420.0, 420.0, 143.0)),
        run(
            "rs-failure-ldirectord-nat-ldirectord",
            &m(f64::NAN, 950.0, 195.0),
        ),
    ]
}

#[test]
fn runs_with_detection_get_a_chart_and_others_none() {
    let tmp = TempDir::new("health");
    assert!(write_health_chart(&tmp.0, &four()).unwrap());
    check_png(&tmp.0.join(HEALTH_PNG));
    let failover_only = [run("failover-sync", &[("takeover_ms", 300.0)])];
    let none = tmp.0.join("none");
    assert!(!write_health_chart(&none, &failover_only).unwrap());
    assert!(!none.join(HEALTH_PNG).exists());
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        assert!(write_health_chart(Path::new(&dir), &four()).unwrap());
    }
}

#[test]
fn detection_bars_are_as_tall_as_their_times() {
    super::font::ensure().unwrap();
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = super::canvas::Canvas::Png(BitMapBackend::with_buffer(&mut buf, SIZE))
            .into_drawing_area();
        root.fill(&WHITE).unwrap();
        health_chart::draw(&root, &four()).unwrap();
        root.present().unwrap();
    }
    // The left panel's detection bars: three measured, the NaN one missing.
    let bars = broken_bars(&buf);
    assert_eq!(bars.len(), 3, "{bars:?}");
    let ratio = bars[1] as f64 / bars[0] as f64;
    assert!((ratio / (1900.0 / 1400.0) - 1.0).abs() < 0.05, "{bars:?}");
}
