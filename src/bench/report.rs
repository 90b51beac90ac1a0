//! What `tapvs bench` writes: `bench.csv` (one row per repetition × path × test), and the
//! summary: median [min–max] per path and test, the medians of per-repetition ratios against the
//! raw TAP wire and against no balancer, and the target ratios, met or not.

use super::plan::{Path, Test};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One repetition of one test on one path. Figures a test does not measure are empty.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub repetition: u32,
    pub path: Path,
    pub test: Test,
    /// The test's headline figure, in `unit`.
    pub value: Option<f64>,
    pub unit: &'static str,
    pub frames_sent: Option<u64>,
    pub frames_per_s: Option<f64>,
    /// The middle box's own CPU time per frame delivered (a kernel path: its core's busy time).
    pub box_cpu_us_per_frame: Option<f64>,
    /// The middle box's core's busy time per frame delivered.
    pub core_us_per_frame: Option<f64>,
    pub gbit_per_s: Option<f64>,
    pub req_per_s: Option<f64>,
    pub requests_ok: Option<u64>,
    pub requests_failed: Option<u64>,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    /// The host's one-minute load average when the test began (the machine's background).
    pub load_1m: f64,
    pub note: String,
}

impl Row {
    pub fn new(path: Path, test: Test) -> Row {
        Row {
            repetition: 0,
            path,
            test,
            value: None,
            unit: test.unit().0,
            frames_sent: None,
            frames_per_s: None,
            box_cpu_us_per_frame: None,
            core_us_per_frame: None,
            gbit_per_s: None,
            req_per_s: None,
            requests_ok: None,
            requests_failed: None,
            p50_ms: None,
            p99_ms: None,
            p999_ms: None,
            load_1m: f64::NAN,
            note: String::new(),
        }
    }

    /// A cell that could not be measured, with the reason.
    pub fn failed(path: Path, test: Test, why: String) -> Row {
        Row {
            note: why,
            ..Row::new(path, test)
        }
    }

    /// Sets `value` from the figure the test is about.
    pub fn set_value(&mut self) {
        self.value = match self.test {
            Test::UdpFrames => self.frames_per_s,
            Test::BulkTcp => self.gbit_per_s,
            Test::KeepAlive | Test::NewConn => self.req_per_s,
            Test::Latency => self.p99_ms,
        }
        .filter(|_| self.note.is_empty());
    }
}

/// Which figure of a row a ratio compares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Figure {
    Value,
    BoxCpu,
}

impl Figure {
    fn of(self, row: &Row) -> Option<f64> {
        match self {
            Figure::Value => row.value,
            Figure::BoxCpu => row.box_cpu_us_per_frame,
        }
    }
}

/// The rows by (path, test, repetition).
pub struct Table<'a> {
    rows: BTreeMap<(Path, Test, u32), &'a Row>,
    pub repetitions: u32,
}

impl<'a> Table<'a> {
    pub fn new(rows: &'a [Row]) -> Table<'a> {
        let mut map = BTreeMap::new();
        let mut repetitions = 0;
        for r in rows {
            map.insert((r.path, r.test, r.repetition), r);
            repetitions = repetitions.max(r.repetition);
        }
        Table {
            rows: map,
            repetitions,
        }
    }

    /// The figure in every repetition that measured it.
    pub fn values(&self, path: Path, test: Test, figure: Figure) -> Vec<f64> {
        (1..=self.repetitions)
            .filter_map(|r| {
                self.rows
                    .get(&(path, test, r))
                    .and_then(|row| figure.of(row))
            })
            .collect()
    }

    /// `path ÷ against` per repetition (both measured in it).
    pub fn ratios(&self, path: Path, against: Path, test: Test, figure: Figure) -> Vec<f64> {
        (1..=self.repetitions)
            .filter_map(|r| {
                let a = figure.of(self.rows.get(&(path, test, r))?)?;
                let b = figure.of(self.rows.get(&(against, test, r))?)?;
                (b > 0.0).then(|| a / b)
            })
            .collect()
    }
}

/// Median, min and max.
pub type Spread = (f64, f64, f64);

/// Median, min and max (`None` for no value).
pub fn spread(values: &[f64]) -> Option<Spread> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((median, v[0], v[n - 1]))
}

/// One of the target ratios.
pub struct Target {
    pub what: &'static str,
    pub test: Test,
    pub figure: Figure,
    pub path: Path,
    pub against: Path,
    /// `(bound, at_most)`: the ratio must be ≤ bound when `at_most`, else ≥ bound.
    pub bound: f64,
    pub at_most: bool,
}

/// The ratios tapvs must reach (issue 14).
pub const TARGETS: [Target; 8] = [
    Target {
        what: "DR director CPU per frame ÷ raw wire (DR, vnet)",
        test: Test::UdpFrames,
        figure: Figure::BoxCpu,
        path: Path::TapvsDr,
        against: Path::WireDrVnet,
        bound: 1.1,
        at_most: true,
    },
    Target {
        what: "NAT director CPU per frame ÷ raw wire (NAT, vnet)",
        test: Test::UdpFrames,
        figure: Figure::BoxCpu,
        path: Path::TapvsNat,
        against: Path::WireNatVnet,
        bound: 1.1,
        at_most: true,
    },
    Target {
        what: "DR HTTP new connections ÷ no balancer",
        test: Test::NewConn,
        figure: Figure::Value,
        path: Path::TapvsDr,
        against: Path::Direct,
        bound: 0.9,
        at_most: false,
    },
    Target {
        what: "DR HTTP new connections ÷ HAProxy",
        test: Test::NewConn,
        figure: Figure::Value,
        path: Path::TapvsDr,
        against: Path::Haproxy,
        bound: 1.5,
        at_most: false,
    },
    Target {
        what: "NAT HTTP new connections ÷ kernel DNAT",
        test: Test::NewConn,
        figure: Figure::Value,
        path: Path::TapvsNat,
        against: Path::KernelDnat,
        bound: 1.1,
        at_most: false,
    },
    Target {
        what: "NAT UDP frames/s ÷ kernel DNAT",
        test: Test::UdpFrames,
        figure: Figure::Value,
        path: Path::TapvsNat,
        against: Path::KernelDnat,
        bound: 1.1,
        at_most: false,
    },
    Target {
        what: "NAT bulk TCP ÷ kernel DNAT",
        test: Test::BulkTcp,
        figure: Figure::Value,
        path: Path::TapvsNat,
        against: Path::KernelDnat,
        bound: 0.95,
        at_most: false,
    },
    Target {
        what: "NAT p99 latency at a fixed rate ÷ DR's",
        test: Test::Latency,
        figure: Figure::Value,
        path: Path::TapvsNat,
        against: Path::TapvsDr,
        bound: 1.5,
        at_most: true,
    },
];

/// A figure for people: 3 significant digits, thousands grouped.
pub fn shown(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        let n = v.round() as i64;
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        if n < 0 { format!("-{out}") } else { out }
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn spread_text(values: &[f64]) -> String {
    match spread(values) {
        None => "–".into(),
        Some((m, lo, hi)) if values.len() == 1 || lo == hi => shown(m),
        Some((m, lo, hi)) => format!("{} [{}–{}]", shown(m), shown(lo), shown(hi)),
    }
}

fn ratio_text(ratios: &[f64]) -> String {
    match spread(ratios) {
        None => "–".into(),
        Some((m, lo, hi)) if ratios.len() == 1 || lo == hi => format!("{m:.2}×"),
        Some((m, lo, hi)) => format!("{m:.2}× [{lo:.2}–{hi:.2}]"),
    }
}

/// The summary as Markdown: one table per test, then the target ratios.
pub fn summary(rows: &[Row], paths: &[Path], tests: &[Test], header: &str) -> String {
    let table = Table::new(rows);
    let mut out = String::new();
    let _ = writeln!(out, "{header}\n");
    let _ = writeln!(
        out,
        "Medians [min–max] over {} repetition(s); ratios are medians of per-repetition ratios \
         (each repetition ran every path, so a busy minute hits them alike).\n",
        table.repetitions
    );
    for &test in tests {
        let (unit, _) = test.unit();
        let _ = writeln!(out, "### {} ({unit})\n", test.name());
        if test == Test::UdpFrames {
            let _ = writeln!(
                out,
                "| path | frames/s | × raw wire | × no balancer | box CPU µs/frame | × raw wire |\n|---|---|---|---|---|---|"
            );
        } else {
            let _ = writeln!(
                out,
                "| path | {unit} | × raw wire | × no balancer |\n|---|---|---|---|"
            );
        }
        for &path in paths.iter().filter(|p| p.runs(test)) {
            let wire = path.raw_wire().filter(|&w| w != path && paths.contains(&w));
            let vs = |against: Option<Path>, figure| {
                against.map_or("–".into(), |a| {
                    ratio_text(&table.ratios(path, a, test, figure))
                })
            };
            let direct = Some(Path::Direct).filter(|&d| d != path && paths.contains(&d));
            let _ = write!(
                out,
                "| {} | {} | {} | {} |",
                path.name(),
                spread_text(&table.values(path, test, Figure::Value)),
                vs(wire, Figure::Value),
                vs(direct, Figure::Value)
            );
            if test == Test::UdpFrames {
                let _ = write!(
                    out,
                    " {} | {} |",
                    spread_text(&table.values(path, test, Figure::BoxCpu)),
                    vs(wire, Figure::BoxCpu)
                );
            }
            out.push('\n');
        }
        out.push('\n');
    }
    let _ = writeln!(out, "### Target ratios\n");
    let _ = writeln!(
        out,
        "| ratio | target | measured | met |\n|---|---|---|---|"
    );
    for t in &TARGETS {
        if !paths.contains(&t.path) || !paths.contains(&t.against) || !tests.contains(&t.test) {
            continue;
        }
        let ratios = table.ratios(t.path, t.against, t.test, t.figure);
        let met = match spread(&ratios) {
            None => "not measured",
            Some((m, _, _)) if (t.at_most && m <= t.bound) || (!t.at_most && m >= t.bound) => "yes",
            Some(_) => "**no**",
        };
        let _ = writeln!(
            out,
            "| {} | {} {:.2} | {} | {met} |",
            t.what,
            if t.at_most { "≤" } else { "≥" },
            t.bound,
            ratio_text(&ratios)
        );
    }
    out
}

/// A measured row of repetition `rep` whose every figure is `value` (the CPU per frame
/// 10^6 ÷ `value`), for the tests of the summary and the charts.
#[cfg(test)]
pub(crate) fn sample_row(rep: u32, path: Path, test: Test, value: f64) -> Row {
    let mut r = Row::new(path, test);
    r.repetition = rep;
    r.frames_per_s = Some(value);
    r.box_cpu_us_per_frame = Some(1e6 / value);
    r.gbit_per_s = Some(value);
    r.req_per_s = Some(value);
    r.p99_ms = Some(value);
    r.set_value();
    r
}

/// Writes `bench.csv`.
pub fn write_csv(path: &std::path::Path, rows: &[Row]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    for r in rows {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::sample_row as row;

    #[test]
    fn spread_gives_the_median_of_odd_and_even_counts() {
        assert_eq!(spread(&[3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(spread(&[4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(spread(&[f64::NAN]), None);
        assert_eq!(spread(&[]), None);
    }

    #[test]
    fn ratios_pair_the_same_repetition_only() {
        let rows = vec![
            row(1, Path::TapvsDr, Test::NewConn, 900.0),
            row(1, Path::Direct, Test::NewConn, 1000.0),
            row(2, Path::TapvsDr, Test::NewConn, 500.0),
            row(2, Path::Direct, Test::NewConn, 400.0),
            row(3, Path::TapvsDr, Test::NewConn, 800.0),
        ];
        let t = Table::new(&rows);
        assert_eq!(t.repetitions, 3);
        let r = t.ratios(Path::TapvsDr, Path::Direct, Test::NewConn, Figure::Value);
        assert_eq!(r, vec![0.9, 1.25]);
    }

    #[test]
    fn a_failed_cell_has_no_value_and_is_left_out() {
        let mut r = Row::failed(Path::Haproxy, Test::NewConn, "no request answered".into());
        r.req_per_s = Some(5.0);
        r.set_value();
        assert_eq!(r.value, None);
    }

    #[test]
    fn the_summary_judges_targets_in_their_direction() {
        let rows = vec![
            row(1, Path::TapvsNat, Test::Latency, 3.0),
            row(1, Path::TapvsDr, Test::Latency, 1.0),
            row(1, Path::TapvsDr, Test::NewConn, 1000.0),
            row(1, Path::Direct, Test::NewConn, 1000.0),
        ];
        let paths = [Path::Direct, Path::TapvsDr, Path::TapvsNat];
        let s = summary(&rows, &paths, &[Test::NewConn, Test::Latency], "# t");
        assert!(
            s.contains("| NAT p99 latency at a fixed rate ÷ DR's | ≤ 1.50 | 3.00× | **no** |"),
            "{s}"
        );
        assert!(
            s.contains("| DR HTTP new connections ÷ no balancer | ≥ 0.90 | 1.00× | yes |"),
            "{s}"
        );
        assert!(
            !s.contains("HAProxy"),
            "a target without its paths is left out: {s}"
        );
    }

    #[test]
    fn figures_are_shown_with_three_digits_and_grouped_thousands() {
        assert_eq!(shown(1_234_567.4), "1,234,567");
        assert_eq!(shown(123.4), "123");
        assert_eq!(shown(12.34), "12.3");
        assert_eq!(shown(1.234), "1.23");
    }
}
