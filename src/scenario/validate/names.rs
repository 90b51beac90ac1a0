//! The rules for the names a scenario gives: real servers (they name namespaces and
//! interfaces) and plain names.

use super::{Check, bad};
use crate::scenario::echo::shown;

/// Names a real server cannot take: the lab's hosts (`kn`: the kernel NAT box), the directors
/// and their inside TAPs (two-armed NAT), the kernel NAT box's inside port, a wired director's
/// bridge and TAPs, and the interfaces of the switch namespace, where each server's port is
/// named after it (see `lab::plan`).
const RESERVED_HOSTS: [&str; 19] = [
    "sw", "rt", "cl", "kn", "kni", "d1", "d2", "d1i", "d2i", "d1br", "d1wa", "d1wb", "d2br",
    "d2wa", "d2wb", "br0", "br1", "lo", "eth0",
];

/// A real server's name: it names a namespace and an interface, so `[a-z][a-z0-9]*`, 1 to 8
/// characters (the lab's own rule is the same with 10).
pub(super) fn server_name(field: &str, name: &str) -> Check {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 8
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        return bad(
            field,
            format!(
                "`{}`: use 1 to 8 characters from a-z and 0-9, starting with a letter \
                 (it names the server's namespace and interface)",
                shown(name)
            ),
        );
    }
    if RESERVED_HOSTS.contains(&name) {
        return bad(
            field,
            format!(
                "`{name}` is a lab host or interface name (reserved: {})",
                RESERVED_HOSTS.join(", ")
            ),
        );
    }
    Ok(())
}

pub(super) fn plain_name(field: &str, name: &str, max: usize) -> Check {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return bad(
            field,
            format!(
                "`{}`: use 1 to {max} characters from a-z, 0-9, - and _",
                shown(name)
            ),
        );
    }
    Ok(())
}
