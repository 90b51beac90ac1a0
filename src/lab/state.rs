//! The per-run state dir `/run/tapvs/<prefix>/` and its `owner.pid`: claiming a prefix, recording
//! and reading the owner, and telling whether the owner is still alive.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{LabError, plan};

/// Where every lab's state dir lives: `/run/tapvs/<prefix>/`.
pub const STATE_ROOT: &str = "/run/tapvs";
/// The file in a state dir holding the owner's PID (0: brought up by hand or kept, no owner).
const OWNER_FILE: &str = "owner.pid";
/// How many random prefixes to try before giving up.
const CLAIM_TRIES: u32 = 64;

/// `/run/tapvs/<prefix>`.
pub(crate) fn state_dir(prefix: &str) -> PathBuf {
    Path::new(STATE_ROOT).join(prefix)
}

/// Picks a random prefix that no namespace and no state dir uses, and claims it for `owner` by
/// creating its state dir with `owner.pid` already inside, atomically (a directory built under a
/// temporary name, then renamed without replacing). Two processes can never claim the same prefix,
/// and `clean` never sees a state dir without an owner.
pub(crate) fn claim_prefix(owner: u32) -> Result<String, LabError> {
    fs::create_dir_all(STATE_ROOT).map_err(|e| LabError::io(STATE_ROOT, e))?;
    let used: HashSet<String> = namespaces()?
        .iter()
        .filter_map(|ns| plan::prefix_of_namespace(ns))
        .map(str::to_owned)
        .collect();
    for _ in 0..CLAIM_TRIES {
        let prefix = format!("tv{:04x}", rand::random::<u16>());
        if used.contains(&prefix) {
            continue;
        }
        let nonce = rand::random::<u32>();
        let temporary = Path::new(STATE_ROOT).join(format!(".claim-{owner}-{prefix}-{nonce:08x}"));
        fs::create_dir(&temporary).map_err(|e| LabError::io(&temporary, e))?;
        let owner_file = temporary.join(OWNER_FILE);
        if let Err(e) = fs::write(&owner_file, format!("{owner}\n")) {
            let _ = fs::remove_dir_all(&temporary);
            return Err(LabError::io(owner_file, e));
        }
        let target = state_dir(&prefix);
        match rename_noreplace(&temporary, &target) {
            Ok(()) => return Ok(prefix),
            Err(e) => {
                let _ = fs::remove_dir_all(&temporary);
                if !matches!(e.raw_os_error(), Some(libc::EEXIST | libc::ENOTEMPTY)) {
                    return Err(LabError::io(target, e));
                }
            }
        }
    }
    Err(LabError::NoFreePrefix(CLAIM_TRIES))
}

/// Records `owner` (0 = no owner process) in the lab's `owner.pid`, atomically.
pub(crate) fn write_owner(prefix: &str, owner: u32) -> Result<(), LabError> {
    let dir = state_dir(prefix);
    let temporary = dir.join(format!("{OWNER_FILE}.new"));
    fs::write(&temporary, format!("{owner}\n")).map_err(|e| LabError::io(&temporary, e))?;
    fs::rename(&temporary, dir.join(OWNER_FILE)).map_err(|e| LabError::io(&dir, e))
}

/// The owner recorded for `prefix`: `None` if there is no state dir or no readable PID in it.
pub(crate) fn read_owner(prefix: &str) -> Option<u32> {
    let text = fs::read_to_string(state_dir(prefix).join(OWNER_FILE)).ok()?;
    text.trim().parse().ok()
}

/// Is process `pid` alive? PID 0 (manual) never is. A process we may not signal still exists.
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Prefixes of the state dirs under `/run/tapvs` (missing root: none).
pub(crate) fn state_dir_prefixes() -> Vec<String> {
    let Ok(entries) = fs::read_dir(STATE_ROOT) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| plan::is_prefix(name))
        .collect()
}

/// Removes `.claim-<pid>-*` directories left by a process that died while claiming a prefix.
pub(crate) fn remove_dead_claims() {
    let Ok(entries) = fs::read_dir(STATE_ROOT) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(".claim-")) else {
            continue;
        };
        let pid = rest.split('-').next().and_then(|pid| pid.parse().ok());
        if pid.is_some_and(|pid| !pid_alive(pid)) {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// All namespace names, from `ip netns list`.
pub(crate) fn namespaces() -> Result<Vec<String>, LabError> {
    let listing = super::command::stdout_of(Command::new("ip").args(["netns", "list"]))?;
    Ok(plan::parse_netns_list(&listing))
}

/// `rename(2)` that fails with EEXIST/ENOTEMPTY instead of replacing an existing `to`.
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let c_path = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other);
    let (from, to) = (c_path(from)?, c_path(to)?);
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
