//! The naming and address plan, as pure functions: prefix syntax, topology checks, and the
//! environment handed to `lab-up.sh` (which checks the same rules again for people running it by hand).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{LabError, Topology};

/// Names a host or director may not take: the fixed hosts and the switch's own interfaces.
const RESERVED: [&str; 6] = ["sw", "rt", "cl", "br0", "lo", "eth0"];

/// Is `s` a lab prefix: `tv` + 4 lowercase hex digits?
pub(crate) fn is_prefix(s: &str) -> bool {
    s.len() == 6
        && s.starts_with("tv")
        && s[2..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The prefix of a lab namespace name (`tv1a2b-rs1` → `tv1a2b`), if it is one.
pub(crate) fn prefix_of_namespace(name: &str) -> Option<&str> {
    let (prefix, host) = name.split_once('-')?;
    (is_prefix(prefix) && !host.is_empty()).then_some(prefix)
}

/// The namespace names in `ip netns list` output (first word of each line).
pub(crate) fn parse_netns_list(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Host names of a lab built from `topo`: the switch, router, clients, then the real servers.
pub(crate) fn hosts(topo: &Topology) -> Vec<String> {
    let fixed = ["sw", "rt", "cl"].map(String::from);
    let servers = topo.real_servers.iter().map(|rs| rs.name.clone());
    fixed.into_iter().chain(servers).collect()
}

/// Checks `topo` against the plan: short unique names, LAN host addresses 198.18.0.4-254, unique.
pub(crate) fn validate(topo: &Topology) -> Result<(), LabError> {
    let bad = |msg: String| Err(LabError::Topology(msg));
    let mut names: HashSet<&str> = RESERVED.into_iter().collect();
    let mut addresses = HashSet::new();
    let named = topo.directors.iter().map(|d| ("director", d.as_str()));
    let servers = topo
        .real_servers
        .iter()
        .map(|rs| ("real server", rs.name.as_str()));
    for (what, name) in named.chain(servers) {
        if !is_short_name(name) {
            return bad(format!(
                "{what} name {name:?} must match [a-z][a-z0-9]{{0,9}}"
            ));
        }
        if !names.insert(name) {
            return bad(format!("{what} name {name:?} is used twice or reserved"));
        }
    }
    let vips = topo.vips.iter().map(|vip| ("VIP".to_owned(), *vip));
    let servers = topo
        .real_servers
        .iter()
        .map(|rs| (format!("real server {}", rs.name), rs.address));
    for (what, address) in vips.chain(servers) {
        if !is_lan_host(address) {
            return bad(format!(
                "{what}: {address} is not a host address in 198.18.0.4-254"
            ));
        }
        if !addresses.insert(address) {
            return bad(format!("{what}: address {address} is used twice"));
        }
    }
    Ok(())
}

/// The environment `lab-up.sh` reads (see the top of the script).
pub(crate) fn script_env(prefix: &str, topo: &Topology) -> Vec<(&'static str, String)> {
    let join = |items: Vec<String>| items.join(" ");
    let servers = topo.real_servers.iter();
    vec![
        ("PREFIX", prefix.to_owned()),
        ("RS_COUNT", topo.real_servers.len().to_string()),
        (
            "REAL_SERVERS",
            join(
                servers
                    .map(|rs| format!("{}={}", rs.name, rs.address))
                    .collect(),
            ),
        ),
        (
            "VIPS",
            join(topo.vips.iter().map(Ipv4Addr::to_string).collect()),
        ),
        ("DIRECTORS", topo.directors.join(" ")),
        (
            "ARP_SUPPRESSION",
            u8::from(topo.arp_suppression).to_string(),
        ),
    ]
}

fn is_short_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 10
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn is_lan_host(address: Ipv4Addr) -> bool {
    let [a, b, c, d] = address.octets();
    [a, b, c] == [198, 18, 0] && (4..=254).contains(&d)
}
