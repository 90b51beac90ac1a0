//! Root-only tests that build real labs and look inside: addresses, routes, sysctls, ARP, TCP.
//! Each touches only the prefixes it created.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::time::Duration;

use super::support::{
    assert_gone, connect_from, in_netns, ip_json, lab_tests_can_run, mac, namespaces_of, sysctl,
};
use crate::lab::{Lab, Topology};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const RS1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
const RS2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 12);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 7);

#[test]
fn a_lab_is_built_as_planned_and_removed_on_drop() {
    if !lab_tests_can_run("a_lab_is_built_as_planned_and_removed_on_drop") {
        return;
    }
    let lab = Lab::up(&Topology::standard(2)).expect("lab up");
    let prefix = lab.prefix().to_owned();
    let hosts = ["cl", "rs1", "rs2", "rt", "sw"].map(|h| lab.netns(h));
    assert_eq!(namespaces_of(&prefix), hosts);
    let owner = std::fs::read_to_string(lab.state_dir().join("owner.pid")).expect("owner.pid");
    assert_eq!(owner.trim(), std::process::id().to_string());

    // The switch: br0 with STP off, one port per host, and the directors' TAPs.
    let br0 =
        &ip_json(&lab, "sw", &["-d", "link", "show", "dev", "br0"])[0]["linkinfo"]["info_data"];
    assert_eq!(
        (br0["stp_state"].as_u64(), br0["mcast_snooping"].as_u64()),
        (Some(0), Some(0))
    );
    let ports = ip_json(&lab, "sw", &["link", "show", "master", "br0"]);
    let mut ports: Vec<&str> = ports
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["ifname"].as_str().unwrap())
        .collect();
    ports.sort_unstable();
    assert_eq!(ports, ["d1", "d2", "rs1", "rs2", "rt"]);
    let d1 = &ip_json(&lab, "sw", &["-d", "link", "show", "dev", "d1"])[0]["linkinfo"];
    assert_eq!(
        (d1["info_kind"].as_str(), d1["info_data"]["type"].as_str()),
        (Some("tun"), Some("tap"))
    );

    // Real servers: the VIP on lo, ARP suppressed, rp_filter off; the router forwards.
    for rs in ["rs1", "rs2"] {
        let lo = ip_json(&lab, rs, &["addr", "show", "dev", "lo"]);
        let has_vip = lo[0]["addr_info"].as_array().unwrap().iter().any(|a| {
            a["local"].as_str() == Some("198.18.0.100") && a["prefixlen"].as_u64() == Some(32)
        });
        assert!(has_vip, "{rs} lacks the VIP on lo: {lo}");
        for (key, value) in [
            ("net.ipv4.conf.all.arp_ignore", "1"),
            ("net.ipv4.conf.eth0.arp_ignore", "1"),
            ("net.ipv4.conf.all.arp_announce", "2"),
            ("net.ipv4.conf.eth0.arp_announce", "2"),
            ("net.ipv4.conf.all.rp_filter", "0"),
            ("net.ipv4.conf.eth0.rp_filter", "0"),
        ] {
            assert_eq!(sysctl(&lab, rs, key), value, "{key} in {rs}");
        }
    }
    assert_eq!(sysctl(&lab, "rt", "net.ipv4.ip_forward"), "1");

    // End to end: a client address from 198.19/16 reaches rs1 through the router, and back.
    let listener = in_netns(&lab.netns("rs1"), || TcpListener::bind((RS1, 8080))).expect("listen");
    let server = std::thread::spawn(move || {
        let (mut stream, peer) = listener.accept().expect("accept");
        let mut buf = [0; 5];
        stream.read_exact(&mut buf).expect("read");
        stream.write_all(&buf).expect("echo");
        peer
    });
    let mut stream = in_netns(&lab.netns("cl"), || {
        connect_from(CLIENT, SocketAddrV4::new(RS1, 8080), Duration::from_secs(3))
    })
    .expect("client reaches rs1");
    stream.write_all(b"hello").unwrap();
    let mut echo = [0; 5];
    stream.read_exact(&mut echo).expect("echo comes back");
    assert_eq!(&echo, b"hello");
    assert_eq!(server.join().unwrap().ip(), std::net::IpAddr::V4(CLIENT));

    // The router reaches rs2 (nothing listens: refused proves the round trip).
    let to_rs2 = in_netns(&lab.netns("rt"), || {
        TcpStream::connect_timeout(&(RS2, 9).into(), Duration::from_secs(3))
    });
    assert_eq!(to_rs2.unwrap_err().kind(), ErrorKind::ConnectionRefused);

    // With ARP suppressed and no director running, nobody answers ARP for the VIP.
    let to_vip = in_netns(&lab.netns("rt"), || {
        TcpStream::connect_timeout(&(VIP, 80).into(), Duration::from_millis(1200))
    });
    assert_eq!(to_vip.unwrap_err().kind(), ErrorKind::TimedOut);
    let neigh = ip_json(&lab, "rt", &["neigh", "show", "198.18.0.100"]);
    assert!(
        neigh[0].get("lladdr").is_none(),
        "a host answered ARP for the VIP: {neigh}"
    );

    let eth0 = lab.link_stats("rs1", "eth0").expect("link stats");
    assert!(
        eth0.rx_packets >= 3 && eth0.tx_packets >= 3 && eth0.rx_bytes > 0,
        "{eth0:?}"
    );
    assert!(lab.link_stats("rs1", "nosuch0").is_err());

    drop(lab);
    assert_gone(&prefix);
}

#[test]
fn without_arp_suppression_real_servers_answer_arp_for_the_vip() {
    if !lab_tests_can_run("without_arp_suppression_real_servers_answer_arp_for_the_vip") {
        return;
    }
    let topo = Topology {
        arp_suppression: false,
        directors: vec!["d1".into()],
        ..Topology::standard(2)
    };
    let lab = Lab::up(&topo).expect("lab up");
    let prefix = lab.prefix().to_owned();
    for key in [
        "all.arp_ignore",
        "eth0.arp_ignore",
        "all.arp_announce",
        "eth0.arp_announce",
    ] {
        assert_eq!(
            sysctl(&lab, "rs2", &format!("net.ipv4.conf.{key}")),
            "0",
            "{key}"
        );
    }
    // The "ARP problem": a real server claims the VIP, so the router sends VIP traffic past the
    // directors, straight to it (nothing listens on port 80 there: refused).
    let to_vip = in_netns(&lab.netns("rt"), || {
        TcpStream::connect_timeout(&(VIP, 80).into(), Duration::from_secs(3))
    });
    assert_eq!(to_vip.unwrap_err().kind(), ErrorKind::ConnectionRefused);
    let neigh = ip_json(&lab, "rt", &["neigh", "show", "198.18.0.100"]);
    let answered = neigh[0]["lladdr"]
        .as_str()
        .expect("VIP resolved")
        .to_owned();
    assert!([mac(&lab, "rs1", "eth0"), mac(&lab, "rs2", "eth0")].contains(&answered));
    lab.down().expect("lab down");
    assert_gone(&prefix);
}
