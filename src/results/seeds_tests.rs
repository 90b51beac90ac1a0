//! Many seeds' files and charts; an SVG beside every chart's PNG; a chart only when its data
//! exists.

use super::failover_chart_tests::{check_png, run};
use super::temp_dir::TempDir;
use super::*;

fn seed_run(seed: u64, takeover: Option<f64>, failed: f64) -> SeedRun {
    let mut m = vec![("failed_requests", failed), ("throughput_rps", 100.0)];
    if let Some(t) = takeover {
        m.push(("takeover_ms", t));
    }
    SeedRun {
        seed,
        drawn_ms: vec![("event0_kill_director_ms".into(), 3000.0 + seed as f64)],
        record: run("fo", &m),
    }
}

fn csv(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let mut rows = vec![r.headers().unwrap().iter().map(String::from).collect()];
    rows.extend(
        r.records()
            .map(|x| x.unwrap().iter().map(String::from).collect::<Vec<_>>()),
    );
    rows
}

/// The SVG beside `png` exists and names `title`.
fn check_svg(png: &Path, title: &str) {
    let svg = png.with_extension("svg");
    let text = std::fs::read_to_string(&svg).unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    assert!(text.starts_with("<svg"), "{}", svg.display());
    assert!(text.contains(title), "{} lacks `{title}`", svg.display());
}

#[test]
fn quantiles_by_nearest_rank() {
    let v: Vec<f64> = (1..=10).map(f64::from).collect();
    assert_eq!(quantile(&v, 0.5), 5.0);
    assert_eq!(quantile(&v, 0.9), 9.0);
    assert_eq!(quantile(&v, 0.99), 10.0);
    assert_eq!(quantile(&v, 0.0), 1.0);
    assert!(quantile(&[], 0.5).is_nan());
    let s = Stats::of(&[4.0, f64::NAN, 2.0]);
    assert_eq!(
        (s.runs, s.missing, s.min, s.max, s.mean),
        (2, 1, 2.0, 4.0, 3.0)
    );
}

#[test]
fn seeds_csv_summary_and_only_the_measured_charts() {
    let tmp = TempDir::new("seeds");
    let runs: Vec<SeedRun> = (0..20)
        .map(|i| seed_run(7 + i, Some(300.0 + 10.0 * i as f64), (i % 3) as f64))
        .collect();
    let charts = write_seeds(&tmp.0, "fo", &runs, Some(3609.375)).unwrap();
    let rows = csv(&tmp.0.join(SEEDS_CSV));
    assert_eq!(rows.len(), 21);
    assert_eq!(
        rows[0][..4],
        [
            "seed",
            "event0_kill_director_ms",
            "takeover_ms",
            "outage_ms"
        ]
    );
    assert!(rows[0].contains(&"throughput_rps".to_string()));
    assert_eq!(rows[2][..4], ["8", "3008", "310", ""]);
    let summary = csv(&tmp.0.join(SEEDS_SUMMARY_CSV));
    let takeover = summary.iter().find(|r| r[0] == "takeover_ms").unwrap();
    // 300, 310 .. 490: p50 is the 10th, p90 the 18th, p99 the 20th.
    assert_eq!(
        takeover[1..],
        ["20", "0", "300", "390", "470", "490", "490", "395"]
    );
    let outage = summary.iter().find(|r| r[0] == "outage_ms").unwrap();
    assert_eq!(outage[1..3], ["0", "20"]);
    // Takeover and failed requests were measured, the rest not: two charts.
    let names: Vec<String> = charts
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["seeds-takeover_ms.png", "seeds-failed_requests.png"]
    );
    for (png, metric) in charts.iter().zip(["takeover_ms", "failed_requests"]) {
        check_png(png);
        check_svg(png, &super::seeds_chart::title("fo", metric, 20));
    }
    check_svg(&charts[0], "Master_Down_Interval 3609.4 ms");
    let other = std::fs::read_to_string(charts[1].with_extension("svg")).unwrap();
    assert!(!other.contains("Master_Down_Interval"));
    assert!(!tmp.0.join("seeds-outage_ms.png").exists());
}

#[test]
fn every_chart_has_its_svg_with_the_title() {
    let tmp = TempDir::new("svg");
    let run_ = super::tests::sample();
    write_run(&tmp.0.join("run"), &run_).unwrap();
    check_svg(
        &tmp.0.join("run").join(TIMELINE_PNG),
        &format!("{}: requests and latency", run_.scenario),
    );
    check_svg(
        &tmp.0.join("run").join(SERVERS_PNG),
        &format!("{}: requests per real server", run_.scenario),
    );
    let fo = [run(
        "a",
        &[("takeover_ms", 300.0), ("broken_connections", 2.0)],
    )];
    assert!(write_failover_chart(&tmp.0.join("fo"), &fo).unwrap());
    check_svg(
        &tmp.0.join("fo").join(FAILOVER_PNG),
        "Failover loss by scenario",
    );
    let hc = [run("h", &[("detection_ms", 900.0)])];
    assert!(write_health_chart(&tmp.0.join("hc"), &hc).unwrap());
    check_svg(
        &tmp.0.join("hc").join(HEALTH_PNG),
        "A dead real server, by run",
    );
    write_comparison(&tmp.0.join("cmp"), &[run_.clone(), run_.clone()]).unwrap();
    check_svg(
        &tmp.0.join("cmp").join(COMPARISON_PNG),
        "what the director forwards",
    );
    let point = |advert_ms: f64| SweepPoint {
        run: format!("s-{advert_ms}"),
        advert_ms,
        backup_priority: 100,
        takeover_ms: 4.0 * advert_ms,
        outage_ms: 4.0 * advert_ms,
        failed_requests: 1.0,
    };
    write_sweep(&tmp.0.join("sw"), &[point(100.0), point(1000.0)]).unwrap();
    check_svg(
        &tmp.0.join("sw").join(SWEEP_PNG),
        "Failover: outage vs VRRP advert interval",
    );
    let dt = DeadtimePoint {
        run: "d".into(),
        keepalive_ms: 200.0,
        deadtime_ms: 1000.0,
        takeover_ms: 1100.0,
        outage_ms: 1150.0,
        failed_requests: 3.0,
    };
    write_deadtime_sweep(&tmp.0.join("dt"), &[dt]).unwrap();
    check_svg(
        &tmp.0.join("dt").join(DEADTIME_PNG),
        "Failover under Heartbeat: takeover vs deadtime",
    );
}

#[test]
fn charts_only_when_their_fault_happened() {
    let tmp = TempDir::new("conditions");
    // Two modes compared without a director fault: broken connections and outage are measured
    // in every run, but there was no failover.
    let modes = [
        run(
            "dr-vs-nat-dr",
            &[("broken_connections", 0.0), ("outage_ms", 0.0)],
        ),
        run(
            "dr-vs-nat-nat",
            &[("broken_connections", 0.0), ("outage_ms", 0.0)],
        ),
    ];
    assert!(!write_failover_chart(&tmp.0, &modes).unwrap());
    let after_kill = [run(
        "k",
        &[("failed_before_fault", 0.0), ("outage_ms", f64::NAN)],
    )];
    assert!(write_failover_chart(&tmp.0, &after_kill).unwrap());
    // A real-server fault nobody detected still gets its chart; no fault, none.
    assert!(!write_health_chart(&tmp.0.join("none"), &modes).unwrap());
    assert!(!tmp.0.join("none").join(HEALTH_PNG).exists());
    let undetected = [run("u", &[("undetected_faults", 1.0)])];
    assert!(write_health_chart(&tmp.0.join("u"), &undetected).unwrap());
    assert!(tmp.0.join("u").join(HEALTH_PNG).is_file());
}
