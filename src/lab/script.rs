//! Runs the embedded `netns/` scripts with `bash -s`: script on stdin, parameters in the environment.

use std::ffi::OsString;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::LabError;

/// `netns/lab-up.sh`, embedded: the binary needs no checkout, and the script stays the only source.
pub(crate) const LAB_UP: &str = include_str!("../../netns/lab-up.sh");
/// `netns/lab-down.sh`, embedded.
pub(crate) const LAB_DOWN: &str = include_str!("../../netns/lab-down.sh");

/// The marker the scripts print before the name of the step that failed.
const FAILED_AT: &str = "FAILED at step: ";

/// Runs `script` (called `name` in errors) with exactly the variables `env` (plus PATH and LC_ALL)
/// and returns its stdout. A failure becomes [`LabError::Script`] naming the failed step.
///
/// The script runs in its own process group, so a Ctrl-C on the terminal does not cut a build or a
/// teardown in half; the runner sees the interrupt and tears down afterwards.
pub(crate) fn run(
    name: &'static str,
    script: &str,
    env: &[(&str, String)],
) -> Result<String, LabError> {
    let command_error = |detail: String| LabError::Command {
        command: format!("bash -s < {name}"),
        detail,
    };
    let mut child = Command::new("bash")
        .arg("-s")
        .env_clear()
        .env("PATH", search_path())
        .env("LC_ALL", "C")
        .envs(env.iter().map(|(key, value)| (*key, value)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| command_error(format!("cannot start bash: {e}")))?;
    // Feed the script from a thread: bash reads it as it runs, while we collect its output.
    let writer = child.stdin.take().map(|mut stdin| {
        let text = script.to_owned();
        // A write error means bash exited early; its status and stderr tell why.
        std::thread::spawn(move || {
            let _ = stdin.write_all(text.as_bytes());
        })
    });
    let output = child
        .wait_with_output()
        .map_err(|e| command_error(format!("waiting for bash: {e}")))?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    if !output.status.success() {
        return Err(LabError::Script {
            script: name,
            step: failed_step(&stderr)
                .unwrap_or("(before the first step)")
                .to_owned(),
            status: output.status,
            stderr,
        });
    }
    if !stderr.is_empty() {
        // Warnings (e.g. processes left in a lab being removed) must not vanish.
        let _ = std::io::stderr().write_all(stderr.as_bytes());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs `lab-down.sh` for `prefix` (already validated).
pub(crate) fn down(prefix: &str) -> Result<(), LabError> {
    run("lab-down.sh", LAB_DOWN, &[("PREFIX", prefix.to_owned())]).map(drop)
}

/// The step named on the last "FAILED at step: " line of a script's stderr.
pub(crate) fn failed_step(stderr: &str) -> Option<&str> {
    stderr
        .lines()
        .rev()
        .find_map(|line| line.split_once(FAILED_AT).map(|(_, step)| step.trim()))
}

/// The caller's PATH, plus the sbin directories where `ip` lives.
fn search_path() -> OsString {
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if !path.is_empty() {
        path.push(":");
    }
    path.push("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    path
}
