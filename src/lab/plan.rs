//! The naming and address plan, as pure functions: prefix syntax, topology checks, and the
//! environment handed to `lab-up.sh` (which checks the same rules again for people running it by hand).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{LabError, Layout, Topology};

/// Names a host or director may not take: the fixed hosts and the switch's own interfaces.
const RESERVED: [&str; 7] = ["sw", "rt", "cl", "br0", "br1", "lo", "eth0"];

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

/// Checks `topo` against the plan: short unique names (a director's inside TAP included), VIPs
/// on the LAN 198.18.0.4-254, real servers in their layout's subnet (198.18.1.4-254 for two-armed
/// NAT, the LAN otherwise), the NAT gateway in its range, and no address used twice.
pub(crate) fn validate(topo: &Topology) -> Result<(), LabError> {
    let bad = |msg: String| Err(LabError::Topology(msg));
    let mut names: HashSet<String> = RESERVED.into_iter().map(String::from).collect();
    let mut addresses = HashSet::new();
    let directors = topo.directors.iter().map(|d| ("director", d));
    let servers = topo.real_servers.iter().map(|rs| ("real server", &rs.name));
    for (what, name) in directors.chain(servers) {
        if !is_short_name(name) {
            return bad(format!(
                "{what} name {name:?} must match [a-z][a-z0-9]{{0,9}}"
            ));
        }
        if !names.insert(name.clone()) {
            return bad(format!("{what} name {name:?} is used twice or reserved"));
        }
    }
    // Two-armed NAT: `d1` also has `d1i`, a port of `br1` beside the real servers' ports.
    for tap in topo.directors.iter().filter_map(|d| topo.inside_tap(d)) {
        if !names.insert(tap.clone()) {
            return bad(format!(
                "director inside TAP name {tap:?} is used twice or reserved"
            ));
        }
    }
    let lan = [198, 18, 0];
    let subnet = topo.layout.real_server_subnet();
    let vips = topo.vips.iter().map(|vip| ("VIP".to_owned(), *vip, lan, 4));
    let servers = topo.real_servers.iter().map(|rs| {
        let what = format!("real server {}", rs.name);
        (what, rs.address, subnet, 4)
    });
    // The gateway comes last, so a clash names it. One-armed, 198.18.0.1 (the router) is refused:
    // replies must go back through the directors, never around them.
    let gateway = match topo.layout {
        Layout::DirectRouting => None,
        Layout::NatTwoArmed => Some((subnet, 1)),
        Layout::NatOneArmed => Some((subnet, 2)),
    };
    let gateway =
        gateway.map(|(net, first)| ("NAT gateway".to_owned(), topo.nat_gateway, net, first));
    for (what, address, net, first) in vips.chain(servers).chain(gateway) {
        let [a, b, c, d] = address.octets();
        if [a, b, c] != net || !(first..=254).contains(&d) {
            let [x, y, z] = net;
            return bad(format!(
                "{what}: {address} is not a host address in {x}.{y}.{z}.{first}-254 ({} layout)",
                topo.layout
            ));
        }
        if !addresses.insert(address) {
            return bad(format!("{what}: address {address} is used twice"));
        }
    }
    Ok(())
}

/// The environment `lab-up.sh` reads (see the top of the script). `NAT_GATEWAY` only for the NAT
/// layouts; `ARP_SUPPRESSION` is 0 there (their real servers keep the kernel defaults).
pub(crate) fn script_env(prefix: &str, topo: &Topology) -> Vec<(&'static str, String)> {
    let join = |items: Vec<String>| items.join(" ");
    let servers = topo.real_servers.iter();
    let arp_suppression = topo.arp_suppression && !topo.layout.is_nat();
    let mut env = vec![
        ("PREFIX", prefix.to_owned()),
        ("LAYOUT", topo.layout.name().to_owned()),
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
        ("ARP_SUPPRESSION", u8::from(arp_suppression).to_string()),
    ];
    if topo.layout.is_nat() {
        env.push(("NAT_GATEWAY", topo.nat_gateway.to_string()));
    }
    env
}

fn is_short_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 10
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}
