//! The one metric registry: every metric a run reports, with its unit, what it means, how one
//! run forms it and how repeated runs combine it. Scenario validation, the runner, the charts,
//! compare and sweep name metrics only through it, and README.md's "Metrics" table is
//! [`markdown_table`]'s text (a test compares them; `tapvs metrics` prints it).
//!
//! A plain metric has one value per run ([`Metric`]); a family has one per real server or per
//! impaired link ([`Family`], keyed `<name>:<server>` or `<name>:<link>`). The entries themselves are in `catalogue.rs`.
//! Pure data and lookups: no I/O.

pub use super::catalogue::{FAMILIES, METRICS};
use std::collections::BTreeMap;

/// What a metric's value counts or measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A number of things (requests, connections, messages, faults...).
    Count,
    /// A part of a whole, 0 to 1.
    Share,
    /// One quantity divided by another of the same kind (may exceed 1).
    Ratio,
    /// Milliseconds.
    Ms,
    /// Events per second.
    PerSecond,
    /// Gigabits per second.
    Gbps,
    /// Megabytes (MiB).
    Mb,
    /// Bytes.
    Bytes,
    /// Packets (frames).
    Packets,
    /// Per cent.
    Percent,
}

impl Unit {
    pub fn label(self) -> &'static str {
        match self {
            Unit::Count => "count",
            Unit::Share => "share",
            Unit::Ratio => "ratio",
            Unit::Ms => "ms",
            Unit::PerSecond => "1/s",
            Unit::Gbps => "Gbit/s",
            Unit::Mb => "MB",
            Unit::Bytes => "bytes",
            Unit::Packets => "packets",
            Unit::Percent => "%",
        }
    }
}

/// How one run's value is formed from what its processes measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agg {
    /// Summed over the loads (client reports).
    SumLoads,
    /// The worst (largest) of the loads' values.
    WorstLoad,
    /// One count divided by another, each summed first.
    Ratio,
    /// One value per real server.
    PerServer,
    /// One value per impaired link (`[[link]]`), measured on its wire.
    PerLink,
    /// The largest over the real servers.
    MaxServers,
    /// Summed over the directors (each director's last report).
    SumDirectors,
    /// The largest over the directors (or their samples).
    MaxDirectors,
    /// The first director's own counter.
    FirstDirector,
    /// Measured once, on one link or process.
    Once,
    /// Measured at the first director fault.
    FirstFault,
    /// Summed over the faults (or drains, or spoofing windows) of the run.
    SumFaults,
    /// The latest (largest) over the faults of the run.
    LatestFault,
    /// Sampled intervals that matched, times the interval.
    Sampled,
    /// The longest run of matching intervals.
    Longest,
    /// Computed from the scenario's settings, not measured.
    Formula,
}

impl Agg {
    pub fn label(self) -> &'static str {
        match self {
            Agg::SumLoads => "sum over loads",
            Agg::WorstLoad => "worst load",
            Agg::Ratio => "ratio of sums",
            Agg::PerServer => "per server",
            Agg::PerLink => "per link",
            Agg::MaxServers => "max over servers",
            Agg::SumDirectors => "sum over directors",
            Agg::MaxDirectors => "max over directors",
            Agg::FirstDirector => "first director",
            Agg::Once => "one measurement",
            Agg::FirstFault => "first director fault",
            Agg::SumFaults => "sum over faults",
            Agg::LatestFault => "latest over faults",
            Agg::Sampled => "sampled intervals",
            Agg::Longest => "longest run",
            Agg::Formula => "formula",
        }
    }
}

/// How the values of repeated runs of one scenario combine (`tapvs run A A A`: see
/// `results::compare`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Across {
    /// Summed: counts of things that went wrong.
    Sum,
    /// Averaged: rates, shares, typical times.
    Mean,
    /// The worst (largest): bounds such as the longest outage.
    Max,
}

impl Across {
    pub fn label(self) -> &'static str {
        match self {
            Across::Sum => "sum",
            Across::Mean => "mean",
            Across::Max => "max",
        }
    }

    /// The runs' values combined; NaN ones (not measured) are left out, and none left is NaN.
    pub fn combine(self, values: &[f64]) -> f64 {
        let known: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        if known.is_empty() {
            return f64::NAN;
        }
        match self {
            Across::Sum => known.iter().sum(),
            Across::Mean => known.iter().sum::<f64>() / known.len() as f64,
            Across::Max => known.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// A metric with one value per run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub agg: Agg,
    pub across: Across,
    /// One sentence: what it is and where it comes from.
    pub meaning: &'static str,
}

/// A metric with one value per real server (`<name>:<server>`) or per impaired link
/// (`<name>:<link>`): its `agg` is [`Agg::PerServer`] or [`Agg::PerLink`].
pub type Family = Metric;

impl Metric {
    /// The key of `server`'s value: `share:rs1`.
    pub fn key(&self, server: &str) -> String {
        format!("{}:{server}", self.name)
    }

    /// `share:<server>` (or `link_loss_pct:<link>`), as the README and error messages write
    /// it.
    pub fn pattern(&self) -> String {
        format!("{}:<{}>", self.name, self.part())
    }

    /// What the part after the `:` names: `server` or `link`.
    pub fn part(&self) -> &'static str {
        if self.agg == Agg::PerLink {
            "link"
        } else {
            "server"
        }
    }

    /// The server of `key` when `key` belongs to this family.
    pub fn member<'a>(&self, key: &'a str) -> Option<&'a str> {
        key.strip_prefix(self.name)?
            .strip_prefix(':')
            .filter(|s| !s.is_empty())
    }
}

/// What a metric name refers to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Entry<'a> {
    Metric(&'static Metric),
    /// A family and the server named in the key.
    Member(&'static Family, &'a str),
}

/// The registry entry of a metric key (`requests`, `share:rs1`), if any.
pub fn lookup(key: &str) -> Option<Entry<'_>> {
    if let Some(m) = METRICS.iter().find(|m| m.name == key) {
        return Some(Entry::Metric(m));
    }
    FAMILIES
        .iter()
        .find_map(|f| f.member(key).map(|s| Entry::Member(f, s)))
}

/// The known name (or family pattern, `share:<server>`) closest to `key` by edit distance; a
/// key with a `:` is a family member, so only families are compared with its prefix.
pub fn closest(key: &str) -> String {
    let family = key.split(':').next().unwrap_or(key);
    let plain = METRICS
        .iter()
        .filter(|_| !key.contains(':'))
        .map(|m| (edit_distance(key, m.name), m.name.to_string()));
    let families = FAMILIES
        .iter()
        .map(|f| (edit_distance(family, f.name), f.pattern()));
    plain
        .chain(families)
        .min_by_key(|(d, _)| *d)
        .map_or_else(String::new, |(_, n)| n)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// A run's metric values, set only through registry entries; read back as a map by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values(BTreeMap<String, f64>);

impl Values {
    pub fn set(&mut self, m: &Metric, value: f64) {
        self.0.insert(m.name.to_string(), value);
    }

    /// `server`'s value of family `f`.
    pub fn set_for(&mut self, f: &Family, server: &str, value: f64) {
        self.0.insert(f.key(server), value);
    }

    pub fn get(&self, m: &Metric) -> Option<f64> {
        self.0.get(m.name).copied()
    }

    pub fn into_map(self) -> BTreeMap<String, f64> {
        self.0
    }
}

/// README.md's "Metrics" table: one row per metric, families as `name:<server>`.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| metric | unit | one run | repeated runs | meaning |\n|---|---|---|---|---|\n",
    );
    let rows = METRICS
        .iter()
        .map(|m| (format!("`{}`", m.name), m.unit, m.agg, m.across, m.meaning))
        .chain(FAMILIES.iter().map(|f| {
            (
                format!("`{}`", f.pattern()),
                f.unit,
                f.agg,
                f.across,
                f.meaning,
            )
        }));
    for (name, unit, agg, across, meaning) in rows {
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {meaning} |\n",
            unit.label(),
            agg.label(),
            across.label()
        ));
    }
    out
}

#[cfg(test)]
mod tests;
