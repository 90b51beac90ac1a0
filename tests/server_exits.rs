//! A real server whose command exits at once (or cannot start inside the lab) fails the run with
//! exit 2 and a message naming the server and what went wrong, and the lab is still removed.
//! Root only; skipped with a message otherwise (a failure under CI).

mod common;

use std::process::Command;

const SCENARIO: &str = r#"
name = "server-exits"
[lab]
settle = "0s"
[service]
scheduler = "rr"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
command = ["sh", "-c", "echo rs2 cannot bind >&2; exit 3"]
[[load]]
name = "web"
mode = "open"
rate = 10
connection = "new"
duration = "2s"
"#;

fn lab_namespaces() -> Vec<String> {
    let out = Command::new("ip").args(["netns", "list"]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("tv"))
        .map(str::to_string)
        .collect()
}

#[test]
fn a_server_that_exits_at_once_fails_the_run_by_name() {
    if !common::lab_can_run("a_server_that_exits_at_once_fails_the_run_by_name") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("tapvs-server-exits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("server-exits.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let before = lab_namespaces();
    let out = Command::new(env!("CARGO_BIN_EXE_tapvs"))
        .arg("run")
        .arg("--results")
        .arg(dir.join("results"))
        .arg(&scenario)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let expected = "real server `rs2` (sh -c echo rs2 cannot bind >&2; exit 3) exited at once \
                    (exit status: 3): rs2 cannot bind";
    assert!(
        stderr.contains(expected),
        "expected `{expected}` in: {stderr}"
    );
    let leaked: Vec<_> = lab_namespaces()
        .into_iter()
        .filter(|n| !before.contains(n))
        .collect();
    assert!(leaked.is_empty(), "the lab is removed: {leaked:?}");
}
