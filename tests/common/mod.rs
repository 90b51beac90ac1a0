//! Shared by the root-only lab tests: whether a lab can be built here.

use std::process::Command;

/// True when the lab can run (root and iproute2). Otherwise prints why and returns false, or
/// panics under CI (`CI` set), where a skipped lab test is a failure.
pub fn lab_can_run(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    let why = if unsafe { libc::geteuid() } != 0 {
        "not root"
    } else if !Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        "iproute2's `ip` is missing"
    } else {
        return true;
    };
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but the lab test {test} cannot run: {why}");
    }
    eprintln!("SKIPPED {test}: {why} (run as root to include it)");
    false
}
