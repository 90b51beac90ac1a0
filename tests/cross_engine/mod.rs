//! The cross-engine table: once a scenario has run in both engines, each metric of each of its
//! runs side by side, judged against stated tolerances, in `results/cross-engine/<run>.csv` and
//! the whole table in `results/cross-engine.md`. A metric outside its tolerance is marked
//! OUTSIDE there and printed, with the explanation from `tests/cross_engine/explained.toml` when
//! it has one. It does not fail the scenario's test: a lab run on this shared machine drifts
//! (±20 %), and a scenario's own expectations are what pass or fail it.
//!
//! Tolerances: a server's share (`share:*`, `max_server_share`) ±0.02; the director's byte
//! share ±0.01; `takeover_ms` within one advert interval; `broken_connections` and
//! `failed_requests`, where the scenario bounds them, equal when the bound is 0 and both within
//! the bound otherwise. Other metrics are shown, not judged.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

type Metrics = BTreeMap<String, f64>;

/// Each run's metrics by engine, as they come in.
static SEEN: Mutex<BTreeMap<String, BTreeMap<String, Metrics>>> = Mutex::new(BTreeMap::new());

/// One metric of one run in both engines.
struct Row {
    metric: String,
    netns: f64,
    emulated: f64,
    tolerance: String,
    within: Option<bool>,
}

/// Takes the runs of `scenario` in `engine`; once both engines have run it, writes its rows and
/// the table, and prints every unexplained difference outside tolerance.
pub fn record(engine: &str, scenario: &Path, runs: &[PathBuf]) {
    let text = std::fs::read_to_string(scenario).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let mut complete = Vec::new();
    {
        let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
        for dir in runs {
            let (run, metrics) = summary(&dir.join("summary.csv"));
            let engines = seen.entry(run.clone()).or_default();
            engines.insert(engine.to_string(), metrics);
            if let (Some(n), Some(e)) = (engines.get("netns"), engines.get("emulated")) {
                complete.push((run, rows(&value, n, e)));
            }
        }
    }
    let explained = explained();
    let mut unexplained = Vec::new();
    for (run, rows) in &complete {
        write_rows(run, rows, &explained);
        for r in rows.iter().filter(|r| r.within == Some(false)) {
            if !explained.contains_key(&(run.clone(), r.metric.clone())) {
                unexplained.push(format!(
                    "{run}: {} netns {} emulated {} (tolerance {})",
                    r.metric, r.netns, r.emulated, r.tolerance
                ));
            }
        }
    }
    if !complete.is_empty() {
        write_table();
    }
    for line in &unexplained {
        eprintln!("CROSS-ENGINE OUTSIDE TOLERANCE (unexplained): {line}");
    }
}

/// A run's name and metrics from its `summary.csv`.
fn summary(path: &Path) -> (String, Metrics) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut lines = text.lines();
    let head: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let values: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut run = String::new();
    let mut metrics = Metrics::new();
    for (h, v) in head.iter().zip(&values) {
        if *h == "scenario" {
            run = v.to_string();
        } else if let Ok(x) = v.parse::<f64>()
            && !["seed", "revision"].contains(h)
            && !h.starts_with("expect:")
        {
            metrics.insert(h.to_string(), x);
        }
    }
    (run, metrics)
}

/// The scenario's bound on `metric` (its `max`), if an expectation gives one.
fn bound(scenario: &toml::Value, metric: &str) -> Option<f64> {
    let expects = scenario.get("expect")?.as_array()?;
    expects
        .iter()
        .filter(|x| x.get("metric").and_then(|m| m.as_str()) == Some(metric))
        .find_map(|x| {
            x.get("max")
                .and_then(|m| m.as_float().or(m.as_integer().map(|i| i as f64)))
        })
}

/// The advert interval of the scenario's failover, in ms (1000 unless it says otherwise).
fn advert_ms(scenario: &toml::Value) -> f64 {
    let text = scenario
        .get("failover")
        .and_then(|f| f.get("advert_interval"))
        .and_then(|a| a.as_str())
        .unwrap_or("1s");
    match text.strip_suffix("ms") {
        Some(ms) => ms.parse().unwrap_or(1000.0),
        None => text.trim_end_matches('s').parse::<f64>().unwrap_or(1.0) * 1000.0,
    }
}

fn rows(scenario: &toml::Value, netns: &Metrics, emulated: &Metrics) -> Vec<Row> {
    let mut out = Vec::new();
    for (metric, &n) in netns {
        let Some(&e) = emulated.get(metric) else {
            continue;
        };
        let close = |tol: f64| Some((n - e).abs() <= tol || (n.is_nan() && e.is_nan()));
        let (tolerance, within) = if metric.starts_with("share:") || metric == "max_server_share" {
            ("±0.02".to_string(), close(0.02))
        } else if metric == "director_byte_share" {
            ("±0.01".to_string(), close(0.01))
        } else if metric == "takeover_ms" {
            let advert = advert_ms(scenario);
            (format!("±{advert} (one advert)"), close(advert))
        } else if let Some(max) = (["broken_connections", "failed_requests"]
            .contains(&metric.as_str()))
        .then(|| bound(scenario, metric))
        .flatten()
        {
            if max == 0.0 {
                ("equal (bound 0)".to_string(), Some(n == e))
            } else {
                (format!("both <= {max}"), Some(n <= max && e <= max))
            }
        } else {
            ("-".to_string(), None)
        };
        out.push(Row {
            metric: metric.clone(),
            netns: n,
            emulated: e,
            tolerance,
            within,
        });
    }
    out
}

fn table_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/cross-engine")
}

/// (run, metric) → why the engines differ there.
fn explained() -> BTreeMap<(String, String), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cross_engine/explained.toml");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let mut out = BTreeMap::new();
    for x in value
        .get("explained")
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
    {
        let field = |k: &str| {
            x.get(k)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        out.insert((field("run"), field("metric")), field("why"));
    }
    out
}

fn verdict(r: &Row, why: Option<&String>) -> String {
    match (r.within, why) {
        (Some(true), _) => "within".into(),
        (Some(false), Some(why)) => format!("outside, explained: {why}"),
        (Some(false), None) => "OUTSIDE".into(),
        (None, _) => String::new(),
    }
}

fn write_rows(run: &str, rows: &[Row], explained: &BTreeMap<(String, String), String>) {
    let dir = table_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = String::from("metric,netns,emulated,tolerance,verdict\n");
    for r in rows {
        let why = explained.get(&(run.to_string(), r.metric.clone()));
        text += &format!(
            "{},{},{},{},\"{}\"\n",
            r.metric,
            r.netns,
            r.emulated,
            r.tolerance,
            verdict(r, why).replace('"', "'")
        );
    }
    std::fs::write(dir.join(format!("{run}.csv")), text).unwrap();
}

/// `results/cross-engine.md`: the judged rows of every run compared so far (this test run's
/// and earlier ones' files), one table.
fn write_table() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(table_dir())
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.sort();
    let mut md = String::from(
        "# The two engines side by side\n\nWritten by `tests/lab_scenarios.rs` (see its \
         `cross_engine` module for the tolerances). Only the judged metrics are listed here; \
         every metric is in `cross-engine/<run>.csv`.\n\n\
         | run | metric | netns | emulated | tolerance | verdict |\n|---|---|---|---|---|---|\n",
    );
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "csv"))
    {
        let run = f.file_stem().unwrap().to_string_lossy();
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.splitn(5, ',').collect();
            if cols.len() == 5 && cols[3] != "-" {
                md += &format!(
                    "| {run} | {} | {} | {} | {} | {} |\n",
                    cols[0],
                    cols[1],
                    cols[2],
                    cols[3],
                    cols[4].trim_matches('"')
                );
            }
        }
    }
    std::fs::write(table_dir().join("../cross-engine.md"), md).unwrap();
}
