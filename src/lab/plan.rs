//! The naming and address plan, as pure functions: prefix syntax, topology checks, and the
//! environment handed to `lab-up.sh` (which checks the same rules again for people running it by hand).

use std::collections::HashSet;
use std::net::Ipv4Addr;

use super::{KnatService, LabError, Layout, Topology};

/// Names a host or director may not take: the fixed hosts (`kn`: the kernel NAT box) and the
/// switch's own interfaces.
const RESERVED: [&str; 8] = ["sw", "rt", "cl", "kn", "br0", "br1", "lo", "eth0"];
/// The kernel NAT box's port on `br1` (its port on `br0` is `kn`), reserved in that layout.
const KNAT_INSIDE_PORT: &str = "kni";

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

/// Host names of a lab built from `topo`: the switch, router, clients, the kernel NAT box `kn`
/// (kernel NAT only), then the real servers.
pub(crate) fn hosts(topo: &Topology) -> Vec<String> {
    let fixed = ["sw", "rt", "cl"].map(String::from);
    let box_ = (topo.layout == Layout::KernelNat).then(|| "kn".to_owned());
    let servers = topo.real_servers.iter().map(|rs| rs.name.clone());
    let peers = topo.peers.iter().map(|p| p.name.clone());
    fixed
        .into_iter()
        .chain(box_)
        .chain(servers)
        .chain(peers)
        .collect()
}

/// Checks `topo` against the plan: short unique names (a director's inside TAP included), VIPs
/// on the LAN 198.18.0.4-254, real servers in their layout's subnet (198.18.1.4-254 for two-armed
/// and kernel NAT, the LAN otherwise), the NAT gateway in its range, and no address used twice.
/// Kernel NAT ignores the directors.
pub(crate) fn validate(topo: &Topology) -> Result<(), LabError> {
    let bad = |msg: String| Err(LabError::Topology(msg));
    let mut names: HashSet<String> = RESERVED.into_iter().map(String::from).collect();
    if topo.layout == Layout::KernelNat {
        names.insert(KNAT_INSIDE_PORT.to_owned());
    }
    let mut addresses = HashSet::new();
    let directors = topo.lab_directors().iter().map(|d| ("director", d));
    let servers = topo.real_servers.iter().map(|rs| ("real server", &rs.name));
    let peers = topo.peers.iter().map(|p| ("peer", &p.name));
    for (what, name) in directors.chain(servers).chain(peers) {
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
    // An inside leg belongs to a peer and is a port `<peer>i` of `br1`.
    for leg in &topo.inside_legs {
        if topo.layout != Layout::NatTwoArmed {
            return bad(format!(
                "inside leg of {:?}: only two-armed NAT has an inside segment",
                leg.name
            ));
        }
        if !topo.peers.iter().any(|p| p.name == leg.name) {
            return bad(format!("inside leg of {:?}: not a peer", leg.name));
        }
        let port = format!("{}i", leg.name);
        if !is_short_name(&port) || !names.insert(port.clone()) {
            return bad(format!(
                "inside leg port name {port:?} is too long, used twice or reserved"
            ));
        }
    }
    // A wired director also has a bridge and two TAPs on the switch.
    for link in &topo.wired {
        let director = topo.lab_directors().contains(link);
        if !(link == "cl" || director || topo.real_servers.iter().any(|rs| &rs.name == link)) {
            return bad(format!(
                "wired link {link:?} is not cl, a director or a real server"
            ));
        }
        for name in ["br", "wa", "wb"].map(|s| format!("{link}{s}")) {
            if director && !names.insert(name.clone()) {
                return bad(format!("wire name {name:?} is used twice or reserved"));
            }
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
        Layout::NatTwoArmed | Layout::KernelNat => Some((subnet, 1)),
        Layout::NatOneArmed => Some((subnet, 2)),
    };
    let gateway =
        gateway.map(|(net, first)| ("NAT gateway".to_owned(), topo.nat_gateway, net, first));
    let peers = topo.peers.iter().map(|p| {
        let what = format!("peer {}", p.name);
        (what, p.address, lan, 2)
    });
    let legs = topo.inside_legs.iter().map(|p| {
        let what = format!("inside leg of peer {}", p.name);
        (what, p.address, [198, 18, 1], 2)
    });
    let all = vips.chain(servers).chain(peers).chain(legs).chain(gateway);
    for (what, address, net, first) in all {
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

/// Checks the kernel NAT box's `services` against `topo` (already valid): only in kernel NAT; each
/// on one of the VIPs, ports 1-65535, at least one target and every target a real server's
/// address; no protocol, VIP and port twice.
pub(crate) fn validate_services(topo: &Topology, services: &[KnatService]) -> Result<(), LabError> {
    let bad = |msg: String| Err(LabError::Topology(msg));
    if !services.is_empty() && topo.layout != Layout::KernelNat {
        return bad(format!(
            "kernel NAT services need the knat layout, not {}",
            topo.layout
        ));
    }
    let mut seen = HashSet::new();
    for service in services {
        let what = format!(
            "kernel NAT service {}:{}:{}",
            service.protocol, service.vip, service.port
        );
        if !topo.vips.contains(&service.vip) {
            return bad(format!("{what}: {} is not one of the VIPs", service.vip));
        }
        if service.port == 0 {
            return bad(format!("{what}: port 0"));
        }
        if !seen.insert((service.protocol, service.vip, service.port)) {
            return bad(format!("{what}: listed twice"));
        }
        if service.targets.is_empty() {
            return bad(format!("{what}: no target"));
        }
        for target in &service.targets {
            if !topo
                .real_servers
                .iter()
                .any(|rs| rs.address == *target.ip())
            {
                return bad(format!(
                    "{what}: target {target} is not a real server's address"
                ));
            }
            if target.port() == 0 {
                return bad(format!("{what}: target {target} has port 0"));
            }
        }
    }
    Ok(())
}

/// The environment `lab-up.sh` reads (see the top of the script). `NAT_GATEWAY` only for the NAT
/// layouts; `ARP_SUPPRESSION` is 0 there (their real servers keep the kernel defaults). Kernel
/// NAT: no `DIRECTORS`, and `KNAT_SERVICES` from `services` (empty elsewhere, where
/// [`validate_services`] allows none).
pub(crate) fn script_env(
    prefix: &str,
    topo: &Topology,
    services: &[KnatService],
) -> Vec<(&'static str, String)> {
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
        ("DIRECTORS", topo.lab_directors().join(" ")),
        (
            "PEERS",
            join(
                topo.peers
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.address))
                    .collect(),
            ),
        ),
        (
            "INSIDE_LEGS",
            join(
                topo.inside_legs
                    .iter()
                    .map(|p| format!("{}={}", p.name, p.address))
                    .collect(),
            ),
        ),
        ("ARP_SUPPRESSION", u8::from(arp_suppression).to_string()),
        ("WIRED", topo.wired.join(" ")),
    ];
    if topo.layout.is_nat() {
        env.push(("NAT_GATEWAY", topo.nat_gateway.to_string()));
    }
    if topo.layout == Layout::KernelNat {
        let words: Vec<String> = services.iter().map(KnatService::env_word).collect();
        env.push(("KNAT_SERVICES", words.join(" ")));
    }
    env
}

fn is_short_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && name.len() <= 10
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}
