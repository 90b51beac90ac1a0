//! Pure tests: prefixes, the topology rules, the script environment, parsers, script syntax.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;

use crate::lab::script::{self, LAB_DOWN, LAB_UP};
use crate::lab::{
    KnatProtocol, KnatService, LabError, Layout, LinkStats, RealServerHost, Topology, plan,
};

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
    let env = plan::script_env("tv1a2b", &topo, &[]);
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
        &[],
    );
    assert!(env.contains(&("RS_COUNT", "0".into())));
}

#[test]
fn layouts_have_names_defaults_and_address_plans() {
    assert_eq!(Layout::default(), Layout::DirectRouting);
    let names = ["dr", "nat2", "nat1", "knat"];
    assert_eq!(Layout::ALL.len(), names.len());
    for (layout, name) in Layout::ALL.into_iter().zip(names) {
        assert_eq!(layout.name(), name);
        assert_eq!(layout.to_string(), name);
        assert_eq!(name.parse::<Layout>().expect("parses"), layout);
    }
    match "nat".parse::<Layout>() {
        Err(LabError::Topology(msg)) => assert!(msg.contains("dr, nat2, nat1 or knat"), "{msg}"),
        other => panic!("expected a topology error, got {other:?}"),
    }
    assert!(!Layout::DirectRouting.is_nat());
    assert!(Layout::NatTwoArmed.is_nat() && Layout::NatOneArmed.is_nat());
    assert!(Layout::KernelNat.is_nat() && !Layout::KernelNat.has_directors());
    assert_eq!(Layout::NatTwoArmed.default_nat_gateway(), ip(1));
    assert_eq!(Layout::NatOneArmed.default_nat_gateway(), lan(2));
    assert_eq!(Layout::NatTwoArmed.real_server_address(2), ip(12));
    assert_eq!(Layout::NatOneArmed.real_server_address(2), lan(12));
    assert_eq!(Layout::DirectRouting.real_server_address(2), lan(12));
    assert_eq!(
        RealServerHost::numbered(3),
        RealServerHost::numbered_in(Layout::DirectRouting, 3)
    );

    // The default is today's lab, so `..Topology::default()` keeps a literal working.
    assert_eq!(Topology::default(), Topology::standard(2));
    assert_eq!(Topology::standard(2).layout, Layout::DirectRouting);
    assert!(Topology::standard(2).arp_suppression);
    assert_eq!(Topology::standard(2).inside_tap("d1"), None);

    let two = Topology::with_layout(Layout::NatTwoArmed, 3);
    plan::validate(&two).expect("the usual two-armed lab is valid");
    assert_eq!(two.layout, Layout::NatTwoArmed);
    assert_eq!(two.nat_gateway, ip(1));
    assert_eq!(two.real_servers[2].address, ip(13));
    assert_eq!(two.directors, ["d1", "d2"]);
    assert_eq!(two.vips, [lan(100)]);
    assert!(!two.arp_suppression);
    assert_eq!(two.inside_tap("d1").as_deref(), Some("d1i"));
    assert_eq!(plan::hosts(&two), ["sw", "rt", "cl", "rs1", "rs2", "rs3"]);

    let one = Topology::with_layout(Layout::NatOneArmed, 2);
    plan::validate(&one).expect("the usual one-armed lab is valid");
    assert_eq!(one.nat_gateway, lan(2));
    assert_eq!(one.real_servers[1].address, lan(12));
    assert_eq!(one.inside_tap("d1"), None);

    // Other gateways the plan allows: a director's own address, any free host address.
    for (layout, gateway) in [
        (Layout::NatTwoArmed, ip(2)),
        (Layout::NatTwoArmed, ip(200)),
        (Layout::NatOneArmed, lan(3)),
        (Layout::NatOneArmed, lan(200)),
    ] {
        let topo = Topology {
            nat_gateway: gateway,
            ..Topology::with_layout(layout, 2)
        };
        plan::validate(&topo).unwrap_or_else(|e| panic!("{layout} via {gateway}: {e}"));
    }
}

/// 198.18.1.`d`, on the inside segment of two-armed NAT.
fn ip(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 1, d)
}

/// 198.18.0.`d`, on the LAN.
fn lan(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, d)
}

#[test]
fn nat_topologies_outside_the_plan_are_rejected_with_the_reason() {
    let cases: [(Layout, &str, Breaker); 12] = [
        // Two-armed: real servers and the gateway on the inside segment, names free on br1.
        (
            Layout::NatTwoArmed,
            "198.18.0.11 is not a host address in 198.18.1.4-254",
            |t| t.real_servers[0].address = lan(11),
        ),
        (
            Layout::NatTwoArmed,
            "198.18.1.1 is not a host address in 198.18.1.4-254",
            |t| t.real_servers[0].address = ip(1),
        ),
        (
            Layout::NatTwoArmed,
            "NAT gateway: 198.18.0.2 is not a host address in 198.18.1.1-254",
            |t| t.nat_gateway = lan(2),
        ),
        (
            Layout::NatTwoArmed,
            "NAT gateway: address 198.18.1.12 is used twice",
            |t| t.nat_gateway = ip(12),
        ),
        (
            Layout::NatTwoArmed,
            "inside TAP name \"d1i\" is used twice",
            |t| t.real_servers[0].name = "d1i".into(),
        ),
        (
            Layout::NatTwoArmed,
            "\"br1\" is used twice or reserved",
            |t| t.directors = vec!["br1".into()],
        ),
        (
            Layout::NatTwoArmed,
            "VIP: 198.18.1.100 is not a host address in 198.18.0.4-254",
            |t| t.vips = vec![ip(100)],
        ),
        // One-armed: on the LAN, and the gateway is never the router.
        (
            Layout::NatOneArmed,
            "198.18.1.11 is not a host address in 198.18.0.4-254",
            |t| t.real_servers[0].address = ip(11),
        ),
        (
            Layout::NatOneArmed,
            "NAT gateway: 198.18.0.1 is not a host address in 198.18.0.2-254",
            |t| t.nat_gateway = lan(1),
        ),
        (Layout::NatOneArmed, "NAT gateway: 198.18.1.1 is not", |t| {
            // What switching the layout of a direct-routing topology, gateway unset, gives.
            *t = Topology {
                layout: Layout::NatOneArmed,
                ..Topology::standard(2)
            }
        }),
        (
            Layout::NatOneArmed,
            "NAT gateway: address 198.18.0.100 is used twice",
            |t| t.nat_gateway = lan(100),
        ),
        (
            Layout::NatOneArmed,
            "NAT gateway: address 198.18.0.11 is used twice",
            |t| t.nat_gateway = lan(11),
        ),
    ];
    for (layout, expected, break_it) in cases {
        let mut topo = Topology::with_layout(layout, 2);
        break_it(&mut topo);
        match plan::validate(&topo) {
            Err(LabError::Topology(msg)) => {
                assert!(
                    msg.contains(expected),
                    "{layout}: {msg:?} lacks {expected:?}"
                )
            }
            other => panic!("{layout}: expected a topology error with {expected:?}, got {other:?}"),
        }
    }
    // Direct routing keeps its rules and ignores the NAT gateway and inside names.
    let mut dr = Topology::standard(2);
    dr.nat_gateway = Ipv4Addr::new(10, 0, 0, 1);
    dr.real_servers[0].name = "d1i".into();
    plan::validate(&dr).expect("direct routing does not use the NAT gateway");
}

#[test]
fn the_script_environment_carries_the_layout() {
    let env_of = |topo: &Topology| plan::script_env("tv1a2b", topo, &[]);
    let get = |env: &[(&str, String)], key: &str| {
        env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.clone())
    };
    let dr = env_of(&Topology::standard(2));
    assert_eq!(get(&dr, "LAYOUT").as_deref(), Some("dr"));
    assert_eq!(get(&dr, "NAT_GATEWAY"), None, "dr takes no NAT_GATEWAY");
    assert_eq!(get(&dr, "ARP_SUPPRESSION").as_deref(), Some("1"));

    let mut two = Topology::with_layout(Layout::NatTwoArmed, 2);
    two.arp_suppression = true; // does not apply to NAT
    let env = env_of(&two);
    assert_eq!(get(&env, "LAYOUT").as_deref(), Some("nat2"));
    assert_eq!(get(&env, "NAT_GATEWAY").as_deref(), Some("198.18.1.1"));
    assert_eq!(get(&env, "ARP_SUPPRESSION").as_deref(), Some("0"));
    assert_eq!(
        get(&env, "REAL_SERVERS").as_deref(),
        Some("rs1=198.18.1.11 rs2=198.18.1.12")
    );

    let one = Topology {
        nat_gateway: Ipv4Addr::new(198, 18, 0, 3),
        ..Topology::with_layout(Layout::NatOneArmed, 1)
    };
    let env = env_of(&one);
    assert_eq!(get(&env, "LAYOUT").as_deref(), Some("nat1"));
    assert_eq!(get(&env, "NAT_GATEWAY").as_deref(), Some("198.18.0.3"));
    assert_eq!(
        get(&env, "REAL_SERVERS").as_deref(),
        Some("rs1=198.18.0.11")
    );
}

#[test]
fn the_kernel_nat_layout_has_a_box_instead_of_directors() {
    let knat = Topology::with_layout(Layout::KernelNat, 2);
    plan::validate(&knat).expect("the usual kernel NAT lab is valid");
    assert_eq!(knat.layout, Layout::KernelNat);
    assert_eq!(knat.nat_gateway, ip(1));
    assert_eq!(knat.real_servers[1].address, ip(12));
    assert_eq!(knat.directors, Vec::<String>::new());
    assert!(!knat.arp_suppression);
    assert_eq!(knat.inside_tap("d1"), None);
    assert_eq!(plan::hosts(&knat), ["sw", "rt", "cl", "kn", "rs1", "rs2"]);
    assert_eq!(
        plan::hosts(&Topology::standard(1)),
        ["sw", "rt", "cl", "rs1"]
    );

    // Directors named anyway (as `run` does) are ignored: no TAP, no name taken.
    let with_d1 = Topology {
        directors: vec!["d1".into()],
        ..knat.clone()
    };
    assert_eq!(with_d1.lab_directors(), Vec::<String>::new());
    assert_eq!(Topology::standard(1).lab_directors(), ["d1", "d2"]);
    let mut named_d1 = with_d1.clone();
    named_d1.real_servers[0].name = "d1".into();
    plan::validate(&named_d1).expect("kernel NAT has no director d1");

    let cases: [(&str, Breaker); 5] = [
        ("real server name \"kn\" is used twice or reserved", |t| {
            t.real_servers[0].name = "kn".into()
        }),
        ("real server name \"kni\" is used twice or reserved", |t| {
            t.real_servers[0].name = "kni".into()
        }),
        ("198.18.0.11 is not a host address in 198.18.1.4-254", |t| {
            t.real_servers[0].address = lan(11)
        }),
        (
            "NAT gateway: 198.18.0.2 is not a host address in 198.18.1.1-254",
            |t| t.nat_gateway = lan(2),
        ),
        ("NAT gateway: address 198.18.1.11 is used twice", |t| {
            t.nat_gateway = ip(11)
        }),
    ];
    for (expected, break_it) in cases {
        let mut topo = knat.clone();
        break_it(&mut topo);
        match plan::validate(&topo) {
            Err(LabError::Topology(msg)) => assert!(msg.contains(expected), "{msg:?}"),
            other => panic!("expected a topology error with {expected:?}, got {other:?}"),
        }
    }
    // `kn` is the box's namespace in every layout.
    let mut dr = Topology::standard(2);
    dr.real_servers[0].name = "kn".into();
    assert!(plan::validate(&dr).is_err());
}

/// VIP:80/tcp to rs1:8080 and rs2:8081 of a kernel NAT lab, and VIP:53/udp to rs2:53.
fn knat_services() -> Vec<KnatService> {
    let vip = lan(100);
    vec![
        KnatService::new(
            KnatProtocol::Tcp,
            vip,
            80,
            [
                SocketAddrV4::new(ip(11), 8080),
                SocketAddrV4::new(ip(12), 8081),
            ],
        ),
        KnatService::new(KnatProtocol::Udp, vip, 53, [SocketAddrV4::new(ip(12), 53)]),
    ]
}

#[test]
fn kernel_nat_services_reach_the_script_as_knat_services() {
    let knat = Topology {
        directors: vec!["d1".into()],
        ..Topology::with_layout(Layout::KernelNat, 2)
    };
    let services = knat_services();
    plan::validate_services(&knat, &services).expect("valid services");
    assert_eq!(
        services[0].env_word(),
        "tcp:198.18.0.100:80=198.18.1.11:8080,198.18.1.12:8081"
    );
    let env = plan::script_env("tv1a2b", &knat, &services);
    let get = |key: &str| env.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    assert_eq!(get("LAYOUT"), Some("knat"));
    assert_eq!(get("DIRECTORS"), Some(""), "kernel NAT has no directors");
    assert_eq!(get("NAT_GATEWAY"), Some("198.18.1.1"));
    assert_eq!(get("ARP_SUPPRESSION"), Some("0"));
    assert_eq!(
        get("KNAT_SERVICES"),
        Some(
            "tcp:198.18.0.100:80=198.18.1.11:8080,198.18.1.12:8081 udp:198.18.0.100:53=198.18.1.12:53"
        )
    );
    // None for the other layouts, which take no services.
    let nat2 = plan::script_env(
        "tv1a2b",
        &Topology::with_layout(Layout::NatTwoArmed, 2),
        &[],
    );
    assert!(nat2.iter().all(|(k, _)| *k != "KNAT_SERVICES"));
    // A box with no services is allowed (it forwards nothing).
    plan::validate_services(&knat, &[]).expect("no services");
    let env = plan::script_env("tv1a2b", &knat, &[]);
    assert!(env.contains(&("KNAT_SERVICES", String::new())));
}

/// Turns valid kernel NAT services into invalid ones.
type ServiceBreaker = fn(&mut Vec<KnatService>);

#[test]
fn kernel_nat_services_outside_the_plan_are_rejected_with_the_reason() {
    let knat = Topology::with_layout(Layout::KernelNat, 2);
    let cases: [(&str, ServiceBreaker); 6] = [
        ("198.18.0.101 is not one of the VIPs", |s| {
            s[0].vip = lan(101)
        }),
        ("tcp:198.18.0.100:0: port 0", |s| s[0].port = 0),
        ("udp:198.18.0.100:53: no target", |s| s[1].targets.clear()),
        (
            "target 198.18.1.13:80 is not a real server's address",
            |s| s[1].targets.push(SocketAddrV4::new(ip(13), 80)),
        ),
        ("target 198.18.1.11:0 has port 0", |s| {
            s[1].targets = vec![SocketAddrV4::new(ip(11), 0)]
        }),
        ("tcp:198.18.0.100:80: listed twice", |s| {
            s.push(s[0].clone())
        }),
    ];
    for (expected, break_it) in cases {
        let mut services = knat_services();
        break_it(&mut services);
        match plan::validate_services(&knat, &services) {
            Err(LabError::Topology(msg)) => assert!(msg.contains(expected), "{msg:?}"),
            other => panic!("expected a topology error with {expected:?}, got {other:?}"),
        }
    }
    // The same protocol and port on another VIP, or another protocol, is another service.
    let mut two_vips = knat.clone();
    two_vips.vips.push(lan(101));
    let mut services = knat_services();
    services.push(KnatService {
        vip: lan(101),
        ..services[0].clone()
    });
    services.push(KnatService {
        protocol: KnatProtocol::Udp,
        ..services[0].clone()
    });
    plan::validate_services(&two_vips, &services).expect("distinct services");
    // Services need the kernel NAT layout.
    match plan::validate_services(
        &Topology::with_layout(Layout::NatTwoArmed, 2),
        &knat_services(),
    ) {
        Err(LabError::Topology(msg)) => assert!(msg.contains("need the knat layout"), "{msg}"),
        other => panic!("expected a topology error, got {other:?}"),
    }
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

#[test]
fn inside_legs_belong_to_peers_of_a_two_armed_lab() {
    let peer = |name: &str, address| RealServerHost {
        name: name.into(),
        address,
    };
    let mut topo = Topology::with_layout(Layout::NatTwoArmed, 2);
    topo.peers = vec![peer("d1hb", lan(7))];
    topo.inside_legs = vec![peer("d1hb", ip(7))];
    plan::validate(&topo).expect("a peer's leg on br1");
    let env = plan::script_env("tv1a2b", &topo, &[]);
    assert!(env.contains(&("INSIDE_LEGS", "d1hb=198.18.1.7".into())));
    let cases: [(&str, Breaker); 4] = [
        ("not a peer", |t| t.inside_legs[0].name = "rs1".into()),
        ("198.18.0.7 is not a host address in 198.18.1.2-254", |t| {
            t.inside_legs[0].address = lan(7)
        }),
        ("address 198.18.1.11 is used twice", |t| {
            t.inside_legs[0].address = ip(11)
        }),
        ("only two-armed NAT", |t| t.layout = Layout::DirectRouting),
    ];
    for (expected, break_it) in cases {
        let mut t = topo.clone();
        break_it(&mut t);
        match plan::validate(&t) {
            Err(LabError::Topology(msg)) => assert!(msg.contains(expected), "{msg:?}"),
            other => panic!("expected {expected:?}, got {other:?}"),
        }
    }
}
