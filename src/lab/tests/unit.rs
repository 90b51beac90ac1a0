//! Pure tests: prefixes, the topology rules, the script environment, parsers, script syntax.

use std::net::Ipv4Addr;
use std::process::Command;

use crate::lab::script::{self, LAB_DOWN, LAB_UP};
use crate::lab::{LabError, LinkStats, RealServerHost, Topology, plan};

#[test]
fn prefixes_are_tv_and_four_lowercase_hex_digits() {
    assert!(plan::is_prefix("tv1a2b"));
    assert!(plan::is_prefix("tv0000"));
    for bad in [
        "tv1A2b", "tv1a2", "tv1a2b3", "tx1a2b", "tv1g2b", "", "tv-1a2",
    ] {
        assert!(!plan::is_prefix(bad), "{bad:?} accepted");
    }
    assert_eq!(plan::prefix_of_namespace("tv1a2b-rs1"), Some("tv1a2b"));
    assert_eq!(plan::prefix_of_namespace("tv1a2b-"), None);
    assert_eq!(plan::prefix_of_namespace("tv1a2bc-sw"), None);
    assert_eq!(plan::prefix_of_namespace("docker-1"), None);
}

#[test]
fn netns_list_is_parsed_with_or_without_ids() {
    let listing = "tv1a2b-sw (id: 3)\ntv1a2b-rt\n\nother (id: 0)\n";
    assert_eq!(
        plan::parse_netns_list(listing),
        ["tv1a2b-sw", "tv1a2b-rt", "other"]
    );
}

#[test]
fn the_standard_topology_follows_the_plan() {
    let topo = Topology::standard(3);
    plan::validate(&topo).expect("standard topology is valid");
    assert_eq!(topo.real_servers[2].name, "rs3");
    assert_eq!(topo.real_servers[2].address, Ipv4Addr::new(198, 18, 0, 13));
    assert_eq!(plan::hosts(&topo), ["sw", "rt", "cl", "rs1", "rs2", "rs3"]);
}

/// Turns a valid topology into an invalid one.
type Breaker = fn(&mut Topology);

#[test]
fn topologies_outside_the_plan_are_rejected_with_the_reason() {
    let cases: [(&str, Breaker); 8] = [
        ("10.0.0.1", |t| t.vips = vec![Ipv4Addr::new(10, 0, 0, 1)]),
        ("198.18.0.1", |t| {
            t.real_servers[0].address = Ipv4Addr::new(198, 18, 0, 1)
        }),
        ("198.18.1.5", |t| {
            t.real_servers[0].address = Ipv4Addr::new(198, 18, 1, 5)
        }),
        ("used twice", |t| {
            t.vips = vec![Ipv4Addr::new(198, 18, 0, 11)]
        }),
        ("\"rs1\" is used twice", |t| {
            t.real_servers[1].name = "rs1".into()
        }),
        ("\"rt\" is used twice or reserved", |t| {
            t.real_servers[0].name = "rt".into()
        }),
        ("\"br0\"", |t| t.directors = vec!["br0".into()]),
        ("must match", |t| t.real_servers[0].name = "RS1".into()),
    ];
    for (expected, break_it) in cases {
        let mut topo = Topology::standard(2);
        break_it(&mut topo);
        match plan::validate(&topo) {
            Err(LabError::Topology(msg)) => {
                assert!(msg.contains(expected), "{msg:?} lacks {expected:?}")
            }
            other => panic!("expected a topology error with {expected:?}, got {other:?}"),
        }
    }
}

#[test]
fn the_script_environment_lists_every_parameter() {
    let mut topo = Topology::standard(2);
    topo.arp_suppression = false;
    topo.real_servers.push(RealServerHost {
        name: "web".into(),
        address: Ipv4Addr::new(198, 18, 0, 40),
    });
    let env = plan::script_env("tv1a2b", &topo);
    let get = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("PREFIX"), Some("tv1a2b"));
    assert_eq!(get("RS_COUNT"), Some("3"));
    assert_eq!(
        get("REAL_SERVERS"),
        Some("rs1=198.18.0.11 rs2=198.18.0.12 web=198.18.0.40")
    );
    assert_eq!(get("VIPS"), Some("198.18.0.100"));
    assert_eq!(get("DIRECTORS"), Some("d1 d2"));
    assert_eq!(get("ARP_SUPPRESSION"), Some("0"));
    // No real servers must mean none, not the script's default of two.
    let env = plan::script_env(
        "tv1a2b",
        &Topology {
            real_servers: vec![],
            ..topo
        },
    );
    assert!(env.contains(&("RS_COUNT", "0".into())));
}

#[test]
fn the_failed_step_is_taken_from_the_last_marker() {
    let stderr =
        "noise\nlab-up: FAILED at step: router tv1a2b-rt: eth0\nlab-up:   line 9: ip ...\n";
    assert_eq!(script::failed_step(stderr), Some("router tv1a2b-rt: eth0"));
    assert_eq!(
        script::failed_step("RTNETLINK answers: File exists\n"),
        None
    );
}

#[test]
fn link_stats_are_read_from_ip_json() {
    let json = r#"[{"ifindex":3,"ifname":"rt","stats64":{
        "rx":{"bytes":116,"packets":2,"errors":0,"dropped":1,"over_errors":0,"multicast":0},
        "tx":{"bytes":96,"packets":3,"errors":0,"dropped":4,"carrier_errors":0,"collisions":0}}}]"#;
    let stats = LinkStats::from_ip_json(json).expect("parses");
    let expected = LinkStats {
        rx_bytes: 116,
        rx_packets: 2,
        rx_dropped: 1,
        tx_bytes: 96,
        tx_packets: 3,
        tx_dropped: 4,
    };
    assert_eq!(stats, expected);
    assert!(LinkStats::from_ip_json("[]").is_err());
    assert!(
        LinkStats::from_ip_json(r#"[{"ifname":"rt"}]"#)
            .unwrap_err()
            .contains("stats64")
    );
}

#[test]
fn the_embedded_scripts_are_valid_bash() {
    for (name, text) in [("lab-up.sh", LAB_UP), ("lab-down.sh", LAB_DOWN)] {
        let mut child = Command::new("bash")
            .args(["-n", "/dev/stdin"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("bash runs");
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), text.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "{name} has a syntax error");
    }
}

#[test]
fn lab_down_refuses_anything_but_a_prefix() {
    for bad in ["", "tv", "tv1a2b-sw", "*", "tv1a2b/.."] {
        match crate::lab::down_prefix(bad) {
            Err(LabError::BadPrefix(p)) => assert_eq!(p, bad),
            other => panic!("{bad:?}: expected BadPrefix, got {other:?}"),
        }
    }
}
