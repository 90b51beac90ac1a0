//! Tying a child process's life to the runner's: the kernel sends it SIGKILL when the runner
//! dies, even by `kill -9` (`PR_SET_PDEATHSIG`).
//!
//! Two kernel facts shape this (prctl(2)):
//! - The signal is sent when the *thread* that forked the child exits, not the process. So a
//!   tethered child must be spawned from a thread that lives as long as the child should (the
//!   runner spawns from its main thread).
//! - The setting survives `execve` (but a set-user-ID binary's) and is cleared in the children of
//!   the child: what a tethered process forks is not tethered. Those are found by namespace
//!   instead (`super::reap`, run by the guardian or `tapvs lab clean`).
//!
//! The runner may die between `fork` and `prctl`; the hook then sees another parent and fails,
//! so the program never starts.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Makes `command`'s process die (SIGKILL) when the calling thread exits.
pub(crate) fn tie_to_caller(command: &mut Command) {
    let runner = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the hook runs between fork and exec and calls only async-signal-safe functions
    // (prctl, getppid); it allocates nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::getppid() != runner {
                // The runner died before the prctl: nobody would end this process.
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}
