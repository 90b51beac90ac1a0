//! The emulated engine as a user meets it, without root: the same scenario with the same seed
//! writes byte-identical `timeline.csv` and `summary.csv`; another seed draws another fault
//! time; `--seeds N` writes the distribution.

use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenarios/{name}.toml"))
}

/// Runs `tapvs run --engine emulated ARGS SCENARIO` into `results`; returns the run folders.
fn run(results: &Path, args: &[&str], scenario: &Path) -> Vec<PathBuf> {
    let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
        .args(["run", "--engine", "emulated", "--results"])
        .arg(results)
        .args(args)
        .arg(scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}\n{}",
        scenario.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("results: "))
        .map(PathBuf::from)
        .collect()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tapvs-emu-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let results = temp("same");
    let file = scenario("failover-sync-seeds");
    let a = run(&results, &["--seed", "5"], &file);
    let b = run(&results, &["--seed", "5"], &file);
    for name in ["timeline.csv", "summary.csv"] {
        let read = |d: &PathBuf| std::fs::read(d.join(name)).unwrap();
        assert!(
            read(&a[0]) == read(&b[0]),
            "{name} differs between two runs of seed 5"
        );
    }
    let _ = std::fs::remove_dir_all(&results);
}

#[test]
fn another_seed_draws_another_kill_time() {
    let results = temp("seeds");
    let file = scenario("failover-sync-seeds");
    let _ = run(&results, &["--seeds", "3", "--seed", "10"], &file);
    let dir = std::fs::read_dir(results.join("failover-sync-seeds"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seeds-")
        })
        .expect("a seeds-<run-id> folder");
    let csv = std::fs::read_to_string(dir.join("seeds.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    // Column 2 is the drawn kill time, in ms, within the range.
    let kills: Vec<f64> = rows
        .iter()
        .map(|r| r.split(',').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(
        kills.iter().all(|k| (5000.0..=5100.0).contains(k)),
        "{kills:?}"
    );
    assert!(kills[0] != kills[1] || kills[1] != kills[2], "{kills:?}");
    for chart in [
        "seeds-takeover_ms.png",
        "seeds-takeover_ms.svg",
        "seeds-summary.csv",
    ] {
        assert!(dir.join(chart).exists(), "{chart} missing");
    }
    let _ = std::fs::remove_dir_all(&results);
}

#[test]
fn a_seed_outside_an_over_bound_keeps_its_folder() {
    let results = temp("over");
    std::fs::create_dir_all(&results).unwrap();
    // Every takeover takes over 250 ms: a bound of 100 over the seeds fails in each seed.
    let text = std::fs::read_to_string(scenario("failover-sync-seeds"))
        .unwrap()
        .replace("max = 460", "max = 100");
    let file = results.join("tight.toml");
    std::fs::write(&file, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
        .args(["run", "--engine", "emulated", "--results"])
        .arg(&results)
        .args(["--seeds", "2", "--seed", "10"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the bound over the seeds failed");
    let kept = std::fs::read_dir(results.join("failover-sync-seeds"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with("seeds-"))
        .count();
    assert_eq!(kept, 2, "both seeds' folders are kept for a look");
    let _ = std::fs::remove_dir_all(&results);
}
