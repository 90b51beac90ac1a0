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
        // The first line says what to expect (the rest may be anything, even not UTF-8).
        let bytes = std::fs::read(&file).unwrap();
        let first = bytes.split(|&b| b == b'\n').next().unwrap();
        let expected = std::str::from_utf8(first)
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
    // Scenarios only: scenarios/heartbeat/ holds the Heartbeat files one of them names.
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
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

/// A 1 MB name is echoed cut, not whole: the error stays a readable line.
#[test]
fn a_huge_value_is_echoed_cut_to_a_readable_length() {
    let dir = std::env::temp_dir().join(format!("tapvs-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let huge = "a".repeat(1 << 20);
    let cases = [
        (
            "name.toml",
            format!("name = \"{huge}\"\n"),
            "… (1048576 bytes)`: use 1 to 40",
        ),
        (
            "scheduler.toml",
            format!("[service]\nscheduler = \"{huge}\"\n"),
            "… (1048576 bytes)`, expected one of",
        ),
    ];
    for (file, head, expected) in cases {
        let path = dir.join(file);
        let tail = "[[real_server]]\nname = \"rs1\"\n[[load]]\nname = \"web\"\nmode = \"open\"\n\
                    rate = 1\nconnection = \"new\"\nduration = \"2s\"\n";
        let service = if head.contains("[service]") {
            ""
        } else {
            "[service]\nscheduler = \"rr\"\n"
        };
        std::fs::write(&path, format!("{head}{service}{tail}")).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}");
        assert!(
            stderr.contains(expected),
            "{file}: expected `{expected}` in: {stderr}"
        );
        assert!(
            stderr.len() < 1500,
            "{file}: {} bytes of error: {stderr}",
            stderr.len()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
