//! Tests of the comparison of runs on synthetic records: direct routing (the director sees ~5 % of
//! the bytes) against NAT (~100 %).
//!
//! Set `TAPVS_RESULTS_SAMPLE_DIR=/some/dir` to keep `comparison/` there and look at the plot.

use super::plot_common::{OK, SIZE};
use super::temp_dir::TempDir;
use super::*;
use plotters::prelude::*;

fn record(mode: &str, run_id: &str, metrics: &[(&str, f64)]) -> RunRecord {
    RunRecord {
        scenario: "web-60s".into(),
        run_id: run_id.into(),
        revision: "4ed0a7d".into(),
        seed: 0,
        engine: "netns".into(),
        mode: mode.into(),
        scheduler: "wlc".into(),
        interval_ms: 1000,
        metrics: metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        ..RunRecord::default()
    }
}

/// 60 s at 2000 req/s of 12 kB pages: DR forwards the requests and ACKs only.
fn dr() -> RunRecord {
    record(
        "dr",
        "20261125-021500-ab12",
        &[
            ("requests_ok", 120_000.0),
            ("failed_requests", 0.0),
            ("throughput_rps", 2000.0),
            ("director_packets", 612_000.0),
            ("director_bytes", 71_300_000.0),
            ("wire_packets", 1_324_000.0),
            ("wire_bytes", 1_550_000_000.0),
            ("director_byte_share", 71_300_000.0 / 1_550_000_000.0),
            ("director_packet_share", 612_000.0 / 1_324_000.0),
        ],
    )
}

/// The same load through NAT: the director carries the replies too.
fn nat() -> RunRecord {
    record(
        "nat",
        "20261125-021700-cd34",
        &[
            ("requests_ok", 119_870.0),
            ("failed_requests", 130.0),
            ("throughput_rps", 1997.8),
            ("director_packets", 1_305_000.0),
            ("director_bytes", 1_521_000_000.0),
            ("wire_packets", 1_331_000.0),
            ("wire_bytes", 1_552_000_000.0),
            ("director_byte_share", 1_521_000_000.0 / 1_552_000_000.0),
            ("director_packet_share", 1_305_000.0 / 1_331_000.0),
        ],
    )
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

const HEADER: &str = "scenario,run_id,mode,scheduler,requests_ok,failed_requests,throughput_rps,\
                      director_packets,director_bytes,wire_packets,wire_bytes,\
                      director_byte_share,director_packet_share";

#[test]
fn csv_has_one_row_per_run_and_values_parse_back() {
    let tmp = TempDir::new("csv");
    let runs = [dr(), nat()];
    write_comparison(&tmp.0, &runs).unwrap();
    let rows = csv_rows(&tmp.0.join(COMPARISON_CSV));
    assert_eq!(rows[0].join(","), HEADER);
    assert_eq!(rows.len(), 1 + runs.len());
    for (row, run) in rows[1..].iter().zip(&runs) {
        assert_eq!(
            row[..4],
            [
                run.scenario.as_str(),
                &run.run_id,
                &run.mode,
                &run.scheduler
            ]
        );
        for (name, cell) in COMPARISON_METRICS.iter().zip(&row[4..]) {
            let back: f64 = cell
                .parse()
                .unwrap_or_else(|e| panic!("{name} {cell:?}: {e}"));
            assert_eq!(back, run.metrics[*name], "{name} of {}", run.mode);
        }
    }
}

#[test]
fn repeated_runs_get_a_line_combined_as_the_registry_says() {
    let mut again = dr();
    again.run_id = "20261125-021900-ef56".into();
    again.metrics.insert("failed_requests".into(), 10.0);
    again.metrics.insert("throughput_rps".into(), 1000.0);
    let table = comparison_table(&[dr(), nat(), again]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let combined: Vec<&str> = lines[4].split_whitespace().collect();
    assert_eq!(
        combined[..5],
        ["web-60s", "(dr)", "x", "2", "runs"],
        "{table}"
    );
    // Counts and bytes: summed; req/s and the shares: averaged.
    assert_eq!(combined[6..9], ["240000", "10", "1500.0"], "{table}");
    assert_eq!(combined[9..11], ["143", "MB"], "{table}");
    assert_eq!(combined[13..15], ["4.6", "%"], "{table}");
    // Runs of one scenario in two modes are not combined.
    assert_eq!(comparison_table(&[dr(), nat()]).lines().count(), 3);
}

#[test]
fn png_is_a_real_plot_of_the_right_size() {
    let tmp = TempDir::new("png");
    write_comparison(&tmp.0, &[dr(), nat()]).unwrap();
    let png = std::fs::read(tmp.0.join(COMPARISON_PNG)).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 20_000, "only {} bytes", png.len());
    // IHDR: width and height, big-endian, right after the signature and chunk header.
    let dim = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    assert_eq!((dim(16), dim(20)), SIZE);
    if let Some(dir) = std::env::var_os("TAPVS_RESULTS_SAMPLE_DIR") {
        write_comparison(&Path::new(&dir).join("comparison"), &[dr(), nat()]).unwrap();
    }
}

/// Pixels of the director's colour in `x` columns of an RGB buffer, below the panel headers.
fn director_pixels(buf: &[u8], x: std::ops::Range<u32>) -> usize {
    let (w, h) = SIZE;
    (120..h)
        .flat_map(|y| x.clone().map(move |x| ((y * w + x) * 3) as usize))
        .filter(|&i| buf[i..i + 3] == [OK.0, OK.1, OK.2])
        .count()
}

#[test]
fn director_bars_are_as_tall_as_their_byte_counts() {
    super::font::ensure().unwrap();
    let (w, h) = SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = super::canvas::Canvas::Png(BitMapBackend::with_buffer(&mut buf, SIZE))
            .into_drawing_area();
        root.fill(&WHITE).unwrap();
        compare::draw(&root, &[dr(), nat()]).unwrap();
        root.present().unwrap();
    }
    // Bytes panel: the right half; DR's bars left of its middle, NAT's right of it.
    let mid = w / 2 + (w / 2 + 72 - 24) / 2;
    let (dr_px, nat_px) = (
        director_pixels(&buf, w / 2..mid),
        director_pixels(&buf, mid..w),
    );
    let ratio = nat_px as f64 / dr_px as f64;
    let want = 1_521_000_000.0 / 71_300_000.0;
    assert!(
        (ratio / want - 1.0).abs() < 0.1,
        "NAT/DR bar area {nat_px}/{dr_px} = {ratio:.1}, bytes say {want:.1}"
    );
}

#[test]
fn missing_metrics_and_no_runs_still_write() {
    let tmp = TempDir::new("missing");
    let mut partial = nat();
    partial.metrics.remove("wire_bytes");
    partial.metrics.remove("director_byte_share");
    partial.metrics.insert("director_packets".into(), f64::NAN);
    partial.metrics.insert("wire_packets".into(), f64::INFINITY);
    let bare = record("dr", "bare", &[]);
    write_comparison(&tmp.0.join("some"), &[dr(), partial, bare]).unwrap();
    let rows = csv_rows(&tmp.0.join("some").join(COMPARISON_CSV));
    assert_eq!(rows.len(), 4);
    let col = |name: &str| rows[0].iter().position(|h| h == name).unwrap();
    assert_eq!(rows[2][col("wire_bytes")], "");
    assert_eq!(rows[2][col("director_packets")], "", "NaN is written empty");
    assert_eq!(rows[2][col("director_bytes")], "1521000000");
    assert_eq!(rows[2][col("wire_packets")], "inf");
    assert!(rows[3][4..].iter().all(String::is_empty), "{:?}", rows[3]);
    assert!(tmp.0.join("some").join(COMPARISON_PNG).is_file());

    write_comparison(&tmp.0.join("none"), &[]).unwrap();
    assert_eq!(csv_rows(&tmp.0.join("none").join(COMPARISON_CSV)).len(), 1);
    assert!(tmp.0.join("none").join(COMPARISON_PNG).is_file());

    let table = comparison_table(&[record("nat", "bare", &[])]);
    assert!(table.lines().nth(1).unwrap().contains("n/a"), "{table}");
}

#[test]
fn table_aligns_one_line_per_run_with_shares() {
    // Without the share metrics the table computes them from director and wire.
    let mut dr = dr();
    dr.metrics.remove("director_byte_share");
    let table = comparison_table(&[dr, nat()]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[0].starts_with("run") && lines[0].ends_with("packet share"));
    let (d, n) = (lines[1], lines[2]);
    assert!(d.starts_with("web-60s (dr) ") && n.starts_with("web-60s (nat)"));
    // Numbers are right-aligned: each ends where its column's header ends.
    let cell = |line: &str, column: &str| {
        let end = lines[0].find(column).unwrap() + column.len();
        let cell = line[..end]
            .rsplit("  ")
            .next()
            .unwrap()
            .trim_start()
            .to_string();
        assert!(
            line[end..].starts_with("  ") || line.len() == end,
            "{table}"
        );
        cell
    };
    let want = [
        ("ok", "120000", "119870"),
        ("failed", "0", "130"),
        ("req/s", "2000.0", "1997.8"),
        ("director bytes", "71.3 MB", "1.52 GB"),
        ("wire bytes", "1.55 GB", "1.55 GB"),
        ("byte share", "4.6 %", "98 %"),
        ("packet share", "46 %", "98 %"),
    ];
    for (column, in_dr, in_nat) in want {
        assert_eq!(cell(d, column), in_dr, "{column} of dr in\n{table}");
        assert_eq!(cell(n, column), in_nat, "{column} of nat in\n{table}");
    }
}

#[test]
fn errors_name_the_path() {
    let tmp = TempDir::new("errors");
    std::fs::create_dir_all(&tmp.0).unwrap();
    let file = tmp.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let err = write_comparison(&file.join("cmp"), &[dr()]).unwrap_err();
    assert!(matches!(err, ResultsError::Io { .. }), "{err:?}");
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}
