//! The check every lab command makes first: root, and the tools the scripts run.

use std::process::{Command, Stdio};

use super::LabError;

/// Fails with a clear message unless the process runs as root (effective UID 0) and can run
/// iproute2's `ip` and `bash`.
pub fn check_privileges() -> Result<(), LabError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(LabError::Privileges(format!("running as uid {euid}")));
    }
    for (program, arg) in [("ip", "-V"), ("bash", "--version")] {
        let status = Command::new(program)
            .arg(arg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        match status {
            Ok(status) if status.success() => {}
            Ok(status) => {
                return Err(LabError::Privileges(format!(
                    "`{program} {arg}` failed: {status}"
                )));
            }
            Err(e) => return Err(LabError::Privileges(format!("cannot run `{program}`: {e}"))),
        }
    }
    Ok(())
}
