//! Ending the processes of a dead lab, before its namespaces are removed: the PIDs the lab
//! recorded, each only after checking that it still runs in one of the lab's namespaces, then any
//! other process found inside those namespaces (children of what the lab started: keepalived's
//! VRRP child, a shell's background jobs). Never by name, and never outside the lab.
//!
//! A process is signalled through a pidfd opened *before* its namespace is checked, so a PID
//! reused by another process in between can never be hit.

use std::collections::HashSet;
use std::fs;
use std::time::{Duration, Instant};

use super::{LabError, plan, record, state};

/// How long the namespaces may take to empty after SIGKILL before giving up.
const EMPTY_WITHIN: Duration = Duration::from_secs(5);

/// The namespaces of `prefix`: those it recorded (named or not any more) and those named
/// `<prefix>-*` now. Never the root namespace nor the caller's own, and never one that another
/// name points to: a freed namespace's inode number can be reused by a new namespace (another
/// lab's, which has a name of its own).
pub(crate) fn lab_inodes(prefix: &str) -> Result<HashSet<u64>, LabError> {
    let mut inodes: HashSet<u64> = record::recorded_inodes(prefix).into_iter().collect();
    let mut foreign = Vec::new();
    for name in state::namespaces()? {
        let Some(inode) = record::namespace_inode(&name) else {
            continue;
        };
        if plan::prefix_of_namespace(&name) == Some(prefix) {
            inodes.insert(inode);
        } else {
            foreign.push(inode);
        }
    }
    let outside = [1, std::process::id()].map(record::process_netns);
    for inode in foreign.into_iter().chain(outside.into_iter().flatten()) {
        inodes.remove(&inode);
    }
    Ok(inodes)
}

/// The processes running in one of `inodes` (zombies hold no namespace and are left out).
pub(crate) fn processes_in(inodes: &HashSet<u64>) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| record::process_netns(pid).is_some_and(|ino| inodes.contains(&ino)))
        .collect()
}

/// Ends every process of the dead lab `prefix` with SIGKILL: the recorded PIDs first (each
/// checked), then whatever else runs in the lab's namespaces, until none is left. Returns how
/// many processes were signalled.
pub(crate) fn end_processes(prefix: &str) -> Result<usize, LabError> {
    let inodes = lab_inodes(prefix)?;
    if inodes.is_empty() {
        return Ok(0);
    }
    // SIGKILL takes a moment: a process signalled once may still be seen in the next scan.
    let mut ended = HashSet::new();
    for pid in record::recorded_pids(prefix) {
        if kill_if_inside(pid, &inodes) {
            ended.insert(pid);
        }
    }
    let start = Instant::now();
    loop {
        let left = processes_in(&inodes);
        if left.is_empty() {
            return Ok(ended.len());
        }
        if start.elapsed() > EMPTY_WITHIN {
            return Err(LabError::Command {
                command: format!("ending the processes of lab {prefix}"),
                detail: format!("still running after SIGKILL: {left:?}"),
            });
        }
        for pid in left {
            if !ended.contains(&pid) && kill_if_inside(pid, &inodes) {
                ended.insert(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends SIGKILL to `pid` if it runs in one of `inodes`; true if it was signalled.
fn kill_if_inside(pid: u32, inodes: &HashSet<u64>) -> bool {
    let Ok(pid_t) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: pidfd_open takes a PID and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid_t, 0) };
    let Ok(fd) = libc::c_int::try_from(fd) else {
        return false;
    };
    if fd < 0 {
        return false;
    }
    // The descriptor pins the process: checked now, it is the one that gets the signal.
    let inside = record::process_netns(pid).is_some_and(|ino| inodes.contains(&ino));
    // SAFETY: `fd` is the pidfd opened above; a null siginfo means "as kill(2)".
    let sent = inside
        && unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        } == 0;
    // SAFETY: closing the descriptor we own.
    unsafe { libc::close(fd) };
    sent
}
