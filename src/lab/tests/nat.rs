//! Root-only tests of the NAT layouts: the bridges and TAPs, where the real servers sit, their
//! addresses and routes (the directors' gateway, nothing else), no VIP, and teardown. Each touches
//! only the prefixes it created.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use super::support::{
    assert_gone, assert_nothing_in_the_root_namespace, connect_from, in_netns, ip_json,
    lab_tests_can_run, namespaces_of, root_links, sysctl, text,
};
use crate::lab::{Lab, LabError, Layout, Topology, script, state};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 7);

#[test]
fn a_two_armed_nat_lab_puts_the_real_servers_behind_the_directors() {
    if !lab_tests_can_run("a_two_armed_nat_lab_puts_the_real_servers_behind_the_directors") {
        return;
    }
    let before = root_links();
    let lab = Lab::up(&Topology::with_layout(Layout::NatTwoArmed, 2)).expect("lab up");
    let prefix = lab.prefix().to_owned();
    assert_eq!(
        namespaces_of(&prefix),
        ["cl", "rs1", "rs2", "rt", "sw"].map(|h| lab.netns(h))
    );

    // Two bridges: the LAN with the router and the directors' TAPs, the inside segment with the
    // directors' inside TAPs and the real servers.
    for bridge in ["br0", "br1"] {
        let info = &ip_json(&lab, "sw", &["-d", "link", "show", "dev", bridge])[0]["linkinfo"];
        assert_eq!(info["info_kind"].as_str(), Some("bridge"), "{bridge}");
        assert_eq!(info["info_data"]["stp_state"].as_u64(), Some(0), "{bridge}");
    }
    assert_eq!(ports(&lab, "br0"), ["d1", "d2", "rt"]);
    assert_eq!(ports(&lab, "br1"), ["d1i", "d2i", "rs1", "rs2"]);
    for tap in ["d1i", "d2i"] {
        let info = &ip_json(&lab, "sw", &["-d", "link", "show", "dev", tap])[0]["linkinfo"];
        assert_eq!(
            (
                info["info_kind"].as_str(),
                info["info_data"]["type"].as_str()
            ),
            (Some("tun"), Some("tap")),
            "{tap} is a TAP"
        );
    }

    let gateway = Ipv4Addr::new(198, 18, 1, 1);
    for (rs, address) in [("rs1", "198.18.1.11"), ("rs2", "198.18.1.12")] {
        assert_nat_real_server(&lab, rs, address, "198.18.1.0/24", gateway);
    }

    // The router knows the LAN and the clients only: the inside segment is out of its reach.
    assert_eq!(
        route_destinations(&lab, "rt"),
        ["198.18.0.0/24", "198.18.3.0/24", "198.19.0.0/16"]
    );
    let to_rs1 = in_netns(&lab.netns("rt"), || {
        TcpStream::connect_timeout(&(Ipv4Addr::new(198, 18, 1, 11), 9).into(), SHORT)
    });
    assert_eq!(to_rs1.unwrap_err().kind(), ErrorKind::NetworkUnreachable);

    assert_nothing_in_the_root_namespace(&before, &lab);
    drop(lab);
    assert_gone(&prefix);
}

#[test]
fn a_one_armed_nat_lab_routes_the_real_servers_via_the_gateway() {
    if !lab_tests_can_run("a_one_armed_nat_lab_routes_the_real_servers_via_the_gateway") {
        return;
    }
    let before = root_links();
    // A gateway other than the default (d2's address) shows NAT_GATEWAY reaches the script.
    let gateway = Ipv4Addr::new(198, 18, 0, 3);
    let topo = Topology {
        nat_gateway: gateway,
        ..Topology::with_layout(Layout::NatOneArmed, 2)
    };
    let lab = Lab::up(&topo).expect("lab up");
    let prefix = lab.prefix().to_owned();
    assert_eq!(
        namespaces_of(&prefix),
        ["cl", "rs1", "rs2", "rt", "sw"].map(|h| lab.netns(h))
    );

    // One bridge: everybody on the LAN, no inside segment and no inside TAPs.
    assert_eq!(ports(&lab, "br0"), ["d1", "d2", "rs1", "rs2", "rt"]);
    for absent in ["br1", "d1i"] {
        let status = Command::new("ip")
            .args(["-n", &lab.netns("sw"), "link", "show", "dev", absent])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("ip runs");
        assert!(!status.success(), "{absent} exists in a one-armed lab");
    }

    for (rs, address) in [("rs1", "198.18.0.11"), ("rs2", "198.18.0.12")] {
        assert_nat_real_server(&lab, rs, address, "198.18.0.0/24", gateway);
    }

    // The router shares the LAN and reaches a real server (nothing listens: refused)...
    let rs1 = Ipv4Addr::new(198, 18, 0, 11);
    let to_rs1 = in_netns(&lab.netns("rt"), move || {
        TcpStream::connect_timeout(&(rs1, 9).into(), Duration::from_secs(3))
    });
    assert_eq!(to_rs1.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    // ...but a client does not: rs1's answer (a reset) goes to the gateway, where no director
    // runs, never straight to the router. In direct routing the same connection is refused.
    let from_client = in_netns(&lab.netns("cl"), move || {
        connect_from(CLIENT, SocketAddrV4::new(rs1, 9), SHORT)
    });
    assert_eq!(from_client.unwrap_err().kind(), ErrorKind::TimedOut);
    let asked = neighbours(&lab, "rs1");
    assert!(
        asked.contains(&gateway.to_string()),
        "rs1 never looked for the gateway: {asked:?}"
    );

    assert_nothing_in_the_root_namespace(&before, &lab);
    lab.down().expect("lab down");
    assert_gone(&prefix);
}

#[test]
fn lab_up_checks_the_layout_rules_too() {
    if !lab_tests_can_run("lab_up_checks_the_layout_rules_too") {
        return;
    }
    // People run the script by hand: it must refuse what `plan::validate` refuses, before it
    // builds anything.
    let prefix = state::claim_prefix(std::process::id()).expect("claim a prefix");
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("LAYOUT", "nat3")],
            "LAYOUT must be dr, nat2, nat1 or knat",
        ),
        (
            &[("LAYOUT", "nat2"), ("REAL_SERVERS", "rs1=198.18.0.11")],
            "198.18.0.11 is not a host address in 198.18.1.4-254",
        ),
        (
            &[("LAYOUT", "nat1"), ("REAL_SERVERS", "rs1=198.18.1.11")],
            "198.18.1.11 is not a host address in 198.18.0.4-254",
        ),
        (
            &[("LAYOUT", "nat1"), ("NAT_GATEWAY", "198.18.0.1")],
            "NAT_GATEWAY 198.18.0.1 is not a host address in 198.18.0.2-254",
        ),
        (
            &[("LAYOUT", "nat2"), ("NAT_GATEWAY", "198.18.1.12")],
            "NAT_GATEWAY 198.18.1.12 is used twice",
        ),
        (
            &[("LAYOUT", "nat2"), ("REAL_SERVERS", "d1i=198.18.1.20")],
            "name 'd1i' is used twice",
        ),
    ];
    let mut outcomes = Vec::new();
    for (vars, expected) in cases {
        let mut env = vec![("PREFIX", prefix.clone())];
        env.extend(vars.iter().map(|(k, v)| (*k, (*v).to_owned())));
        outcomes.push((
            vars,
            expected,
            script::run("lab-up.sh", script::LAB_UP, &env),
        ));
    }
    // Removed before asserting, in case a case wrongly built a lab.
    script::down(&prefix).expect("lab down");
    assert_gone(&prefix);
    for (vars, expected, outcome) in outcomes {
        match outcome {
            Err(LabError::Script { step, stderr, .. }) => {
                assert_eq!(step, "checking parameters", "{vars:?}");
                assert!(stderr.contains(expected), "{vars:?}: {stderr:?}");
            }
            other => panic!("{vars:?}: expected a refusal with {expected:?}, got {other:?}"),
        }
    }
}

#[test]
fn lab_up_by_hand_gives_each_nat_layout_its_defaults() {
    if !lab_tests_can_run("lab_up_by_hand_gives_each_nat_layout_its_defaults") {
        return;
    }
    // `tapvs` always passes every parameter; a person passes only LAYOUT (and keeps the default
    // ARP_SUPPRESSION=1, which NAT real servers must ignore).
    for (layout, address, gateway, inside_tap) in [
        ("nat2", "198.18.1.11/24", "198.18.1.1", true),
        ("nat1", "198.18.0.11/24", "198.18.0.2", false),
    ] {
        let prefix = state::claim_prefix(std::process::id()).expect("claim a prefix");
        let env = [
            ("PREFIX", prefix.clone()),
            ("LAYOUT", layout.to_owned()),
            ("RS_COUNT", "1".to_owned()),
        ];
        let built = script::run("lab-up.sh", script::LAB_UP, &env);
        let rs1 = format!("{prefix}-rs1");
        let looked = built.map(|_| {
            let eth0 = ns_json(&rs1, &["-4", "addr", "show", "dev", "eth0"]);
            let default = ns_json(&rs1, &["route", "show", "default"]);
            let arp = ["all.arp_ignore", "all.arp_announce", "eth0.arp_ignore"].map(|key| {
                let output = Command::new("ip")
                    .args(["netns", "exec", &rs1, "sysctl", "-n"])
                    .arg(format!("net.ipv4.conf.{key}"))
                    .output()
                    .expect("sysctl runs");
                String::from_utf8_lossy(&output.stdout).trim().to_owned()
            });
            let d1i = Command::new("ip")
                .args(["-n", &format!("{prefix}-sw"), "link", "show", "dev", "d1i"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("ip runs")
                .success();
            (eth0, default, arp, d1i)
        });
        script::down(&prefix).expect("lab down");
        assert_gone(&prefix);
        let (eth0, default, arp, d1i) = looked.unwrap_or_else(|e| panic!("{layout}: {e}"));
        let info = &eth0[0]["addr_info"][0];
        assert_eq!(
            format!("{}/{}", text(&info["local"]), info["prefixlen"]),
            address,
            "{layout}"
        );
        assert_eq!(text(&default[0]["gateway"]), gateway, "{layout}");
        assert_eq!(arp, ["0", "0", "0"], "{layout}: ARP sysctls");
        assert_eq!(d1i, inside_tap, "{layout}: inside TAP d1i");
    }
}

/// How long to wait for an answer that must not come.
const SHORT: Duration = Duration::from_millis(1200);

/// What a NAT real server must look like: `address`/24 on `eth0` and nothing else but `lo`'s
/// loopback, routes to its own `subnet` and the default via `gateway` and nothing else (so only a
/// director carries its replies to the clients), ARP at the kernel defaults, rp_filter off.
pub(super) fn assert_nat_real_server(
    lab: &Lab,
    rs: &str,
    address: &str,
    subnet: &str,
    gateway: Ipv4Addr,
) {
    assert_eq!(
        addresses(lab, rs, "eth0"),
        [format!("{address}/24")],
        "{rs}"
    );
    assert_eq!(
        addresses(lab, rs, "lo"),
        ["127.0.0.1/8"],
        "{rs}: a VIP on lo?"
    );
    let routes = ip_json(lab, rs, &["route", "show"]);
    let mut routes: Vec<(String, String)> = routes
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| (text(&r["dst"]), text(&r["gateway"])))
        .collect();
    routes.sort();
    let mut expected = vec![
        (subnet.to_owned(), String::new()),
        ("default".to_owned(), gateway.to_string()),
    ];
    expected.sort();
    assert_eq!(routes, expected, "routes of {rs}");
    let to_client = &ip_json(lab, rs, &["route", "get", &CLIENT.to_string()])[0];
    assert_eq!(
        to_client["gateway"].as_str(),
        Some(gateway.to_string().as_str()),
        "{rs} reaches a client via {to_client}"
    );
    for (key, value) in [
        ("net.ipv4.conf.all.arp_ignore", "0"),
        ("net.ipv4.conf.eth0.arp_ignore", "0"),
        ("net.ipv4.conf.all.arp_announce", "0"),
        ("net.ipv4.conf.eth0.arp_announce", "0"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.eth0.rp_filter", "0"),
    ] {
        assert_eq!(sysctl(lab, rs, key), value, "{key} in {rs}");
    }
}

/// The ports of `bridge` in the switch namespace, sorted.
pub(super) fn ports(lab: &Lab, bridge: &str) -> Vec<String> {
    let ports = ip_json(lab, "sw", &["link", "show", "master", bridge]);
    let mut ports: Vec<String> = ports
        .as_array()
        .expect("ports")
        .iter()
        .map(|p| text(&p["ifname"]))
        .collect();
    ports.sort();
    ports
}

/// The IPv4 addresses (`a.b.c.d/len`) on `ifname` in `host`'s namespace.
pub(super) fn addresses(lab: &Lab, host: &str, ifname: &str) -> Vec<String> {
    let link = &ip_json(lab, host, &["-4", "addr", "show", "dev", ifname])[0];
    link["addr_info"]
        .as_array()
        .expect("addr_info")
        .iter()
        .map(|a| format!("{}/{}", text(&a["local"]), a["prefixlen"]))
        .collect()
}

/// The destinations of `host`'s main routing table, sorted.
pub(super) fn route_destinations(lab: &Lab, host: &str) -> Vec<String> {
    let routes = ip_json(lab, host, &["route", "show"]);
    let mut destinations: Vec<String> = routes
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| text(&r["dst"]))
        .collect();
    destinations.sort();
    destinations
}

/// The addresses in `host`'s neighbour table (any state, failed lookups included).
fn neighbours(lab: &Lab, host: &str) -> Vec<String> {
    let neigh = ip_json(lab, host, &["neigh", "show"]);
    neigh
        .as_array()
        .expect("neighbours")
        .iter()
        .map(|n| text(&n["dst"]))
        .collect()
}

/// `ip -n <ns> -j ARGS...`, parsed (for labs built without a [`Lab`]).
pub(super) fn ns_json(ns: &str, args: &[&str]) -> Value {
    let output = Command::new("ip")
        .args(["-n", ns, "-j"])
        .args(args)
        .output()
        .expect("ip runs");
    assert!(output.status.success(), "ip {args:?} in {ns}: {output:?}");
    serde_json::from_slice(&output.stdout).expect("ip -j prints JSON")
}
