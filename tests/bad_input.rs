//! Broken scenario files: each is refused with an error naming the file, the field and the
//! reason, before any lab exists (no namespace is created).

use std::path::Path;
use std::process::Command;

fn lab_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output();
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("tv"))
        .map(str::to_string)
        .collect()
}

#[test]
fn every_broken_scenario_is_refused_with_file_field_and_reason() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the broken files are there");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected = text
            .lines()
            .next()
            .unwrap()
            .strip_prefix("# expect: ")
            .expect("first line says what to expect");
        let before = lab_namespaces();
        let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
            .arg("run")
            .arg(&file)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(
            stderr.contains(&file.display().to_string()),
            "names the file: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{}: expected `{expected}` in: {stderr}",
            file.display()
        );
        let after = lab_namespaces();
        let new: Vec<_> = after.iter().filter(|n| !before.contains(n)).collect();
        assert!(
            new.is_empty(),
            "no namespace may be created for a bad scenario: {new:?}"
        );
    }
}

#[test]
fn shipped_scenarios_all_pass_the_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
        .arg("check")
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
