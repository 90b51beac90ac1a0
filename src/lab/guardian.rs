//! The guardian: a small process (`tapvs lab guard PREFIX --owner PID`, started by the runner
//! with [`super::Lab::guard`]) that removes a lab whose runner died without removing it (`kill
//! -9`, a crash): it ends the lab's processes ([`super::reap`]) and deletes its namespaces and
//! state dir, within a fraction of a second, without anyone calling `tapvs lab clean`.
//!
//! It is the runner's child in a session of its own (a Ctrl-C on the terminal does not reach it)
//! and is not tethered, so it outlives the runner; it notices the runner's death when its parent
//! changes. It exits by itself once the lab is gone or kept (`owner.pid` no longer names the
//! runner), and the runner ends it after a clean teardown.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{LabError, plan, reap, script, state};

/// How often the guardian looks at its parent and at the lab.
const POLL: Duration = Duration::from_millis(100);

/// A running guardian, owned by the runner.
#[derive(Debug)]
pub(crate) struct Guardian {
    child: Child,
}

impl Guardian {
    /// Starts `exe lab guard <prefix> --owner <this process>`, its stderr in the state dir's
    /// `guardian.err` (kept only when the guardian could not remove the lab).
    pub(crate) fn spawn(exe: &Path, prefix: &str) -> Result<Guardian, LabError> {
        let err_path = state::state_dir(prefix).join("guardian.err");
        let stderr = std::fs::File::create(&err_path).map_err(|e| LabError::io(&err_path, e))?;
        let mut command = Command::new(exe);
        command
            .args(["lab", "guard", prefix, "--owner"])
            .arg(std::process::id().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: setsid is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                if libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().map_err(|e| LabError::Command {
            command: format!("{} lab guard {prefix}", exe.display()),
            detail: e.to_string(),
        })?;
        let pid_path = state::state_dir(prefix).join("guardian.pid");
        std::fs::write(&pid_path, format!("{}\n", child.id()))
            .map_err(|e| LabError::io(pid_path, e))?;
        Ok(Guardian { child })
    }

    /// Ends the guardian (SIGKILL; it is our unreaped child, so the PID is still its own) and
    /// reaps it.
    pub(crate) fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the guardian did.
#[derive(Debug, PartialEq, Eq)]
pub enum Guarded {
    /// The lab was removed or kept while its runner lived: nothing to do.
    LabLeft,
    /// The runner died with the lab up: this many processes ended, and the lab removed.
    Removed { processes: usize },
}

/// The guardian's loop (`tapvs lab guard`): waits until process `owner` (its parent) dies, then
/// removes lab `prefix` if `owner` still owns it.
pub fn guard(prefix: &str, owner: u32) -> Result<Guarded, LabError> {
    if !plan::is_prefix(prefix) {
        return Err(LabError::BadPrefix(prefix.to_owned()));
    }
    let still_owned = || state::read_owner(prefix) == Some(owner);
    // SAFETY: getppid has no preconditions. Our parent changes only when it dies.
    while u32::try_from(unsafe { libc::getppid() }) == Ok(owner) {
        if !still_owned() {
            return Ok(Guarded::LabLeft);
        }
        std::thread::sleep(POLL);
    }
    if !still_owned() {
        return Ok(Guarded::LabLeft);
    }
    if state::pid_alive(owner) {
        return Err(LabError::Command {
            command: format!("tapvs lab guard {prefix} --owner {owner}"),
            detail: "the owner runs but is not this guardian's parent".into(),
        });
    }
    let processes = reap::end_processes(prefix)?;
    script::down(prefix)?;
    Ok(Guarded::Removed { processes })
}
