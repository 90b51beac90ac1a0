//! Tests of the result folder on a synthetic run: files, CSV shapes, redraw, table, JSON.
//!
//! Set `TAPVS_RESULTS_SAMPLE_DIR=/some/dir` to keep a sample folder to look at the plots.

use super::temp_dir::TempDir;
use super::*;
use crate::metrics::{Interval, Latency, ServerCounts};

const SERVERS: [(&str, u32); 3] = [("rs1", 1), ("rs2", 1), ("rs3", 2)];

/// 40 one-second intervals at 400 req/s; rs2 is killed at 20 s (failure spike over three
/// intervals, p99 up to a second), rs3 drained at 30 s.
pub(super) fn sample() -> RunRecord {
    let timeline = (0..40u64)
        .map(|i| {
            let t_ms = i * 1000;
            let (failed, errors): (u64, &[(&str, u64)]) = match i {
                20 => (37, &[("reset", 25), ("timeout", 12)]),
                21 => (9, &[("refused", 9)]),
                22 => (2, &[("timeout", 2)]),
                _ => (0, &[]),
            };
            let ok = 400 - failed;
            let split: [u64; 3] = match i {
                ..20 => [1, 1, 2],
                20..30 => [1, 0, 2],
                _ => [1, 0, 0],
            };
            let parts: u64 = split.iter().sum();
            let mut servers = BTreeMap::new();
            let mut left = ok;
            for (k, ((name, _), part)) in SERVERS.iter().zip(split).enumerate() {
                let n = if k == 2 { left } else { ok * part / parts };
                left -= n;
                if n > 0 {
                    servers.insert(
                        name.to_string(),
                        ServerCounts {
                            requests: n,
                            new_conns: n / 10,
                            broken_conns: 0,
                        },
                    );
                }
            }
            let spike = if (20..23).contains(&i) { 1000 } else { 1 };
            TimelineRow {
                t_ms,
                client: Interval {
                    start_ms: t_ms,
                    ok,
                    failed,
                    errors: errors.iter().map(|(k, n)| (k.to_string(), *n)).collect(),
                    bytes: ok * 1200,
                    request_bytes: 400 * 80,
                    new_conns: ok / 10,
                    latency: Latency {
                        p50_us: 400 + i * 5,
                        p90_us: 900,
                        p99_us: 2_000 * spike.min(400) + i * 10,
                        p999_us: 2_500 * spike.min(400),
                        max_us: 3_000 * spike,
                    },
                    servers,
                    completed_ok: ok,
                    broken_conns: 0,
                },
                director_packets: ok * 4,
                director_bytes: ok * 320,
                master: "d1".to_string(),
            }
        })
        .collect();
    let metrics: BTreeMap<String, f64> = [
        ("failed_requests", 48.0),
        ("outage_ms", 0.0),
        ("director_byte_share", 0.0421),
        ("takeover_ms", f64::NAN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    RunRecord {
        scenario: "drain-and-kill".into(),
        run_id: "20261125-021500-ab12".into(),
        revision: "88fbf70-dirty".into(),
        seed: 0,
        engine: "netns".into(),
        mode: "dr".into(),
        scheduler: "wrr".into(),
        interval_ms: 1000,
        servers: SERVERS
            .iter()
            .map(|(n, w)| ServerInfo {
                name: n.to_string(),
                weight: *w,
            })
            .collect(),
        timeline,
        events: vec![
            EventMark {
                at_ms: 20_000,
                label: "kill rs2".into(),
            },
            EventMark {
                at_ms: 30_000,
                label: "drain rs3".into(),
            },
        ],
        masters: vec![],
        flood: None,
        metrics,
        expectations: vec![
            ExpectationOutcome {
                metric: "failed_requests".into(),
                bound: "<= 0".into(),
                value: 48.0,
                pass: false,
            },
            ExpectationOutcome {
                metric: "outage_ms".into(),
                bound: "<= 1000".into(),
                value: 0.0,
                pass: true,
            },
        ],
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(String::from).collect())
        .collect()
}

#[test]
fn write_run_writes_every_file_and_pngs_are_real() {
    let tmp = TempDir::new("files");
    write_run(&tmp.0, &sample()).unwrap();
    for f in [
        RUN_JSON,
        TIMELINE_CSV,
        SUMMARY_CSV,
        TIMELINE_PNG,
        SERVERS_PNG,
    ] {
        assert!(tmp.0.join(f).is_file(), "{f} missing");
    }
    for f in [TIMELINE_PNG, SERVERS_PNG] {
        let png = read(&tmp.0.join(f));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{f} is not a PNG");
        assert!(png.len() > 20_000, "{f} is only {} bytes", png.len());
    }
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        write_run(Path::new(&dir), &sample()).unwrap();
    }
}

#[test]
fn timeline_csv_has_one_row_per_interval_and_the_documented_header() {
    let tmp = TempDir::new("timeline");
    let run = sample();
    write_run(&tmp.0, &run).unwrap();
    let rows = csv_rows(&tmp.0.join(TIMELINE_CSV));
    let header = "t_ms,ok,failed,failed_refused,failed_reset,failed_timeout,req_per_s,\
                  resp_mbit_per_s,new_conns,p50_ms,p90_ms,p99_ms,max_ms,director_packets,\
                  director_bytes,master,req_rs1,newconn_rs1,req_rs2,newconn_rs2,req_rs3,newconn_rs3";
    assert_eq!(rows[0].join(","), header);
    assert_eq!(rows.len(), 1 + run.timeline.len());
    // Interval 20: the spike, with its error kinds, rates and per-server counts.
    let r = &rows[21];
    let col = |name: &str| &r[rows[0].iter().position(|h| h == name).unwrap()];
    assert_eq!(col("t_ms"), "20000");
    assert_eq!(col("failed"), "37");
    assert_eq!(col("failed_reset"), "25");
    assert_eq!(col("failed_refused"), "0");
    assert_eq!(col("req_per_s"), "363.000");
    assert_eq!(col("resp_mbit_per_s"), "3.485");
    assert_eq!(col("p99_ms"), "800.200");
    assert_eq!(col("master"), "d1");
    assert_eq!(col("req_rs2"), "0");
    let per_server: u64 = ["req_rs1", "req_rs2", "req_rs3"]
        .iter()
        .map(|c| col(c).parse::<u64>().unwrap())
        .sum();
    assert_eq!(per_server, 363);
}

#[test]
fn summary_csv_values_parse_back() {
    let tmp = TempDir::new("summary");
    let run = sample();
    write_run(&tmp.0, &run).unwrap();
    let rows = csv_rows(&tmp.0.join(SUMMARY_CSV));
    assert_eq!(rows.len(), 2, "one header row and one value row");
    let (head, vals) = (&rows[0], &rows[1]);
    assert_eq!(head.len(), vals.len());
    assert_eq!(
        head[..6],
        [
            "scenario",
            "engine",
            "seed",
            "revision",
            "mode",
            "scheduler"
        ]
    );
    assert_eq!(vals[0], run.scenario);
    assert_eq!(vals[1], run.engine);
    assert_eq!(vals[3], run.revision);
    let get = |name: &str| &vals[head.iter().position(|h| h == name).unwrap()];
    for (k, v) in &run.metrics {
        let back: f64 = get(k).parse().unwrap();
        assert!(
            back == *v || (back.is_nan() && v.is_nan()),
            "{k}: {back} != {v}"
        );
    }
    assert_eq!(get("expect:failed_requests"), "fail");
    assert_eq!(get("expect:outage_ms"), "pass");
    assert_eq!(head.len(), 6 + run.metrics.len() + run.expectations.len());
}

#[test]
fn redraw_reproduces_the_same_csv_bytes_and_the_plots() {
    let tmp = TempDir::new("redraw");
    write_run(&tmp.0, &sample()).unwrap();
    let before: Vec<Vec<u8>> = [TIMELINE_CSV, SUMMARY_CSV]
        .iter()
        .map(|f| read(&tmp.0.join(f)))
        .collect();
    for f in [TIMELINE_CSV, SUMMARY_CSV, TIMELINE_PNG, SERVERS_PNG] {
        std::fs::remove_file(tmp.0.join(f)).unwrap();
    }
    redraw(&tmp.0).unwrap();
    assert_eq!(read(&tmp.0.join(TIMELINE_CSV)), before[0]);
    assert_eq!(read(&tmp.0.join(SUMMARY_CSV)), before[1]);
    assert!(tmp.0.join(TIMELINE_PNG).is_file() && tmp.0.join(SERVERS_PNG).is_file());
}

#[test]
fn run_json_round_trips_with_non_finite_metrics() {
    let tmp = TempDir::new("json");
    let run = sample();
    write_run(&tmp.0, &run).unwrap();
    let back = read_run(&tmp.0).unwrap();
    assert!(back.metrics["takeover_ms"].is_nan());
    let finite = |r: &RunRecord| {
        let mut r = r.clone();
        r.metrics.retain(|_, v| v.is_finite());
        r
    };
    assert_eq!(finite(&back), finite(&run));
}

#[test]
fn summary_table_marks_each_expectation() {
    let table = summary_table(&sample());
    let line = |metric: &str| {
        table
            .lines()
            .find(|l| l.contains(metric) && (l.contains("PASS") || l.contains("FAIL")))
            .unwrap_or_else(|| panic!("no expectation line for {metric} in\n{table}"))
    };
    let failed = line("failed_requests");
    assert!(failed.contains("FAIL") && failed.contains("<= 0") && failed.contains("value 48"));
    assert!(line("outage_ms").contains("PASS"));
    assert!(table.contains("1 of 2 expectations met"), "{table}");
    assert!(
        table.contains("failed 48 (refused 9, reset 25, timeout 14)"),
        "{table}"
    );
    // rs3 has weight 2 of 4: half the requests expected.
    let rs3 = table.lines().find(|l| l.starts_with("rs3")).unwrap();
    assert!(rs3.trim_end().ends_with("50.0%"), "{rs3}");
}

#[test]
fn aligned_rows_are_padded_two_spaces_apart_left_then_right() {
    let rows: Vec<Vec<String>> = [["run", "x", "ok"], ["long-run", "rr", "7"]]
        .iter()
        .map(|r| r.map(String::from).to_vec())
        .collect();
    assert_eq!(
        super::table::aligned(&rows, 1),
        "run        x  ok\nlong-run  rr   7\n"
    );
    assert_eq!(
        super::table::aligned(&rows, 3),
        "run       x   ok\nlong-run  rr  7\n"
    );
    assert_eq!(super::table::aligned(&[], 0), "");
}

#[test]
fn errors_name_the_path_that_failed() {
    let tmp = TempDir::new("errors");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let file = tmp.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = write_run(&file.join("run"), &sample()).unwrap_err();
    assert!(matches!(err, ResultsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
    let err = redraw(&tmp.0).unwrap_err();
    assert!(err.to_string().contains(RUN_JSON), "{err}");
}

#[test]
fn shares_follow_weights_and_masters_come_from_the_timeline() {
    let mut run = sample();
    let shares = derive::shares(&run);
    let expected: Vec<Option<f64>> = shares.iter().map(|s| s.expected).collect();
    assert_eq!(expected, [Some(0.25), Some(0.25), Some(0.5)]);
    let measured: f64 = shares.iter().map(|s| s.measured).sum();
    assert!((measured - 1.0).abs() < 1e-9);
    // One master all along, then a takeover at 25 s.
    assert_eq!(derive::master_spans(&run).len(), 1);
    for row in &mut run.timeline[25..] {
        row.master = "d2".into();
    }
    let spans = derive::master_spans(&run);
    let got: Vec<(u64, u64, &str)> = spans
        .iter()
        .map(|s| (s.from_ms, s.to_ms, s.director.as_str()))
        .collect();
    assert_eq!(got, [(0, 25_000, "d1"), (25_000, 40_000, "d2")]);
}

#[test]
fn close_event_labels_take_separate_rows() {
    use plotters::prelude::*;
    super::font::ensure().unwrap();
    let mut buf = vec![0u8; 400 * 100 * 3];
    let root = super::canvas::Canvas::Png(BitMapBackend::with_buffer(&mut buf, (400, 100)))
        .into_drawing_area();
    let ev = |at_ms, label: &str| EventMark {
        at_ms,
        label: label.into(),
    };
    let to_px = |ms: u64| (ms / 100) as i32;
    let rows = |events: &[EventMark]| marks::event_rows(&root, events, to_px, &(0..400)).unwrap();
    assert_eq!(rows(&[ev(1_000, "kill rs2"), ev(30_000, "drain rs3")]), 1);
    assert_eq!(rows(&[ev(1_000, "kill rs2"), ev(1_500, "drain rs3")]), 2);
    // Near the right edge the label goes left of its line and stays inside the plot.
    let near_edge = [ev(39_900, "stop load")];
    let placed = marks::layout_events(&root, &near_edge, to_px, &(0..400)).unwrap();
    assert_eq!((placed[0].x, placed[0].row), (399, 0));
    assert!(
        placed[0].left + placed[0].w < placed[0].x,
        "label crosses the right edge"
    );
}

#[test]
fn empty_and_crowded_runs_still_draw() {
    let tmp = TempDir::new("edge");
    write_run(&tmp.0.join("empty"), &RunRecord::default()).unwrap();
    let rows = csv_rows(&tmp.0.join("empty").join(TIMELINE_CSV));
    assert_eq!(rows.len(), 1, "header only");

    // Failover: master bands, four events within two seconds, labels near the right edge.
    let mut run = sample();
    run.masters = vec![
        MasterSpan {
            from_ms: 0,
            to_ms: 20_500,
            director: "d1".into(),
        },
        MasterSpan {
            from_ms: 20_500,
            to_ms: 40_000,
            director: "d2".into(),
        },
    ];
    for (at_ms, label) in [
        (19_800, "freeze d1"),
        (20_500, "d2 takes over"),
        (21_000, "thaw d1"),
        (39_500, "stop load"),
    ] {
        run.events.push(EventMark {
            at_ms,
            label: label.into(),
        });
    }
    write_run(&tmp.0.join("crowded"), &run).unwrap();
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        write_run(&Path::new(&dir).join("crowded"), &run).unwrap();
    }
}

#[test]
fn a_flood_run_gets_flood_png_and_redraw_keeps_it() {
    let tmp = TempDir::new("flood");
    let mut run = sample();
    write_run(&tmp.0, &run).unwrap();
    assert!(!tmp.0.join(FLOOD_PNG).exists(), "no flood, no flood chart");
    run.flood = Some(FloodRecord {
        from_ms: 4000,
        to_ms: 9000,
        capacity: 65536,
        samples: (0..40u64)
            .map(|i| FloodSample {
                t_ms: i * 250,
                new_ok: 50 - (i % 3),
                new_failed: i % 3,
                table: (i * 3000).min(65536),
                flood_sent: if (16..36).contains(&i) { 25_000 } else { 0 },
            })
            .collect(),
    });
    write_run(&tmp.0, &run).unwrap();
    std::fs::remove_file(tmp.0.join(FLOOD_PNG)).unwrap();
    redraw(&tmp.0).unwrap();
    let png = read(&tmp.0.join(FLOOD_PNG));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    assert!(png.len() > 20_000, "flood.png is only {} bytes", png.len());
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        write_run(Path::new(&dir), &run).unwrap();
    }
}
