//! The registry against itself and against README.md's "Metrics" table.

use super::*;
use crate::metrics::catalogue;
use std::collections::HashSet;

/// The table lines under README.md's `### Metrics` heading.
fn readme_table() -> String {
    let readme = include_str!("../../../README.md");
    let from = readme
        .find("### Metrics")
        .expect("README.md has a `### Metrics` section");
    readme[from..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn readme_metrics_table_is_the_registry() {
    let expected = markdown_table();
    assert!(
        readme_table() == expected,
        "README.md's \"Metrics\" table differs from the registry (src/metrics/catalogue.rs); \
         replace it with this (also printed by `tapvs metrics`):\n\n{expected}"
    );
}

#[test]
fn names_are_unique_and_well_formed() {
    let mut seen = HashSet::new();
    for name in METRICS.iter().map(|m| m.name) {
        assert!(seen.insert(name), "`{name}` twice");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "`{name}`"
        );
    }
    let mut families = HashSet::new();
    for f in FAMILIES {
        assert!(families.insert(f.name), "family `{}` twice", f.name);
    }
    for m in METRICS
        .iter()
        .map(|m| m.meaning)
        .chain(FAMILIES.iter().map(|f| f.meaning))
    {
        assert!(!m.contains('|') && !m.contains('\n'), "{m}");
        assert!(m.ends_with('.'), "one sentence, with its full stop: {m}");
    }
}

#[test]
fn lookup_finds_metrics_and_family_members() {
    assert_eq!(
        lookup("takeover_ms"),
        Some(Entry::Metric(
            &METRICS[METRICS
                .iter()
                .position(|m| m.name == "takeover_ms")
                .unwrap()]
        ))
    );
    assert_eq!(
        lookup("share:rs1"),
        Some(Entry::Member(&catalogue::SHARE, "rs1"))
    );
    // `detection_ms` is both a metric and a family.
    assert!(matches!(lookup("detection_ms"), Some(Entry::Metric(m)) if m.name == "detection_ms"));
    assert!(matches!(
        lookup("detection_ms:rs2"),
        Some(Entry::Member(f, "rs2")) if f.name == "detection_ms"
    ));
    for bad in ["share:", "share", "shares:rs1", "takeover", "", ":rs1"] {
        assert_eq!(lookup(bad), None, "{bad}");
    }
}

#[test]
fn closest_suggests_the_intended_name() {
    assert_eq!(closest("takover_ms"), "takeover_ms");
    assert_eq!(closest("failed_request"), "failed_requests");
    assert_eq!(closest("shares:rs1"), "share:<server>");
    assert_eq!(closest("detection:rs1"), "detection_ms:<server>");
    assert_eq!(closest("split_brain"), "split_brain_ms");
}

#[test]
fn values_are_keyed_by_entries() {
    let mut v = Values::default();
    v.set(&catalogue::TAKEOVER_MS, 312.0);
    v.set_for(&catalogue::SHARE, "rs2", 0.5);
    assert_eq!(v.get(&catalogue::TAKEOVER_MS), Some(312.0));
    assert_eq!(v.get(&catalogue::OUTAGE_MS), None);
    let map = v.into_map();
    assert_eq!(map["share:rs2"], 0.5);
    assert_eq!(map.len(), 2);
}

#[test]
fn repeated_runs_combine_without_the_unmeasured() {
    let v = [1.0, f64::NAN, 3.0];
    assert_eq!(Across::Sum.combine(&v), 4.0);
    assert_eq!(Across::Mean.combine(&v), 2.0);
    assert_eq!(Across::Max.combine(&v), 3.0);
    assert!(Across::Max.combine(&[f64::NAN]).is_nan());
    assert!(Across::Mean.combine(&[]).is_nan());
}
