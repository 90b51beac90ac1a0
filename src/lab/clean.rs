//! Removing labs by prefix: `tapvs lab down PREFIX` and `tapvs lab clean` (leftovers of dead runs).

use std::collections::BTreeSet;

use super::{LabError, check_privileges, plan, reap, script, state};

/// Removes the lab `prefix` (`tapvs lab down PREFIX`): its namespaces `<prefix>-*` and its state
/// dir, whoever owns it; when its owner is gone, the processes left in it are ended first (as
/// [`clean`] does). Removing a lab that does not exist is not an error.
pub fn down_prefix(prefix: &str) -> Result<(), LabError> {
    if !plan::is_prefix(prefix) {
        return Err(LabError::BadPrefix(prefix.to_owned()));
    }
    check_privileges()?;
    if !state::read_owner(prefix).is_some_and(state::pid_alive) {
        reap::end_processes(prefix)?;
    }
    script::down(prefix)
}

/// Removes every lab whose owner is gone (`tapvs lab clean`) and returns their prefixes.
///
/// A lab is a prefix `tv` + 4 hex digits seen in a namespace name (`^tv[0-9a-f]{4}-`) or as a
/// state dir `/run/tapvs/<prefix>`. It is removed when its `owner.pid` names no live process:
/// the owner died, the state dir or `owner.pid` is missing, or the owner is 0 (a lab left up by
/// hand or by `tapvs lab up`, which `lab clean` therefore removes too). Labs with a live owner,
/// e.g. runs in progress in other processes, are kept.
///
/// Before a lab's namespaces go, its processes are ended (SIGKILL): the PIDs it recorded, each
/// only if it still runs in one of the lab's namespaces, and any other process inside them
/// (see `reap`). Nothing is ever ended by name.
pub fn clean() -> Result<Vec<String>, LabError> {
    check_privileges()?;
    let mut prefixes: BTreeSet<String> = state::namespaces()?
        .iter()
        .filter_map(|ns| plan::prefix_of_namespace(ns))
        .map(str::to_owned)
        .collect();
    prefixes.extend(state::state_dir_prefixes());
    state::remove_dead_claims();
    let mut removed = Vec::new();
    let mut failures = Vec::new();
    for prefix in prefixes {
        if state::read_owner(&prefix).is_some_and(state::pid_alive) {
            continue;
        }
        match reap::end_processes(&prefix).and_then(|_| script::down(&prefix)) {
            Ok(()) => removed.push(prefix),
            Err(e) => failures.push(format!("{prefix}: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(removed)
    } else {
        Err(LabError::CleanIncomplete { removed, failures })
    }
}
