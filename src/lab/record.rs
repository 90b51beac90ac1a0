//! What a lab records in its state dir so that the processes of a dead lab can be found again:
//! `netns` (the inode of each lab namespace, which stays valid once the namespace has lost its
//! name) and `pids` (every process the runner started in it). Only [`super::reap`] reads them.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::{LabError, state};

/// `<state dir>/netns`: one `<inode> <namespace>` line per lab namespace.
const NETNS_FILE: &str = "netns";
/// `<state dir>/pids`: one `<pid> <name>` line per process started in the lab.
const PIDS_FILE: &str = "pids";

/// The inode of network namespace `name` (its bind mount `/run/netns/<name>`), if it exists.
pub(crate) fn namespace_inode(name: &str) -> Option<u64> {
    fs::metadata(Path::new("/run/netns").join(name))
        .ok()
        .map(|m| m.ino())
}

/// The inode of the network namespace process `pid` runs in (`/proc/<pid>/ns/net`, which reads
/// `net:[<inode>]`); `None` for a process that is gone or a zombie (it holds no namespace).
pub(crate) fn process_netns(pid: u32) -> Option<u64> {
    let link = fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
    let text = link.to_str()?;
    text.strip_prefix("net:[")?.strip_suffix(']')?.parse().ok()
}

/// Records the inode of every namespace of `prefix` (`<prefix>-*`) in its state dir.
pub(crate) fn record_namespaces(prefix: &str) -> Result<(), LabError> {
    let mut text = String::new();
    for name in state::namespaces()? {
        if super::plan::prefix_of_namespace(&name) == Some(prefix)
            && let Some(inode) = namespace_inode(&name)
        {
            text.push_str(&format!("{inode} {name}\n"));
        }
    }
    let path = state::state_dir(prefix).join(NETNS_FILE);
    fs::write(&path, text).map_err(|e| LabError::io(path, e))
}

/// Appends process `pid` (called `name`) to the lab's `pids`.
pub(crate) fn record_pid(prefix: &str, pid: u32, name: &str) -> Result<(), LabError> {
    let path = state::state_dir(prefix).join(PIDS_FILE);
    let line = format!("{pid} {}\n", name.replace(char::is_whitespace, "_"));
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(line.as_bytes()))
        .map_err(|e| LabError::io(path, e))
}

/// The namespace inodes recorded for `prefix` (none if it recorded nothing).
pub(crate) fn recorded_inodes(prefix: &str) -> Vec<u64> {
    first_numbers(&state::state_dir(prefix).join(NETNS_FILE))
}

/// The PIDs recorded for `prefix` (none if it recorded nothing).
pub(crate) fn recorded_pids(prefix: &str) -> Vec<u32> {
    first_numbers(&state::state_dir(prefix).join(PIDS_FILE))
}

/// The first word of every line of `path` that is a number.
fn first_numbers<T: std::str::FromStr>(path: &Path) -> Vec<T> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}
