//! Root-only tests of the kernel NAT layout (`knat`), the reference tapvs's NAT is measured
//! against: the NAT box `kn`, its nftables ruleset, round robin through the kernel's DNAT over TCP
//! and UDP with port mapping and without SNAT, and teardown. They need `nft` (nftables) too. Each
//! touches only the prefixes it created; the real servers are sockets of this test process, made
//! inside their namespaces, so no program has to be installed or ended.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::nat::{addresses, assert_nat_real_server, ns_json, ports, route_destinations};
use super::support::{
    assert_gone, assert_nothing_in_the_root_namespace, connect_from, in_netns, ip_json,
    knat_tests_can_run, mac, namespaces_of, root_links, sysctl, text,
};
use crate::lab::{KnatProtocol, KnatService, Lab, LabError, Layout, Topology, script, state};

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
/// The real servers of the usual two-server kernel NAT lab.
const RS: [(&str, Ipv4Addr); 2] = [
    ("rs1", Ipv4Addr::new(198, 18, 1, 11)),
    ("rs2", Ipv4Addr::new(198, 18, 1, 12)),
];
/// Each real server's own port for VIP:80/tcp and VIP:53/udp (port mapping).
const TCP_PORTS: [u16; 2] = [8080, 8081];
const UDP_PORTS: [u16; 2] = [5353, 5354];
/// Connections (TCP) and flows (UDP) the client opens: an even number, so round robin over two
/// servers gives each half.
const TCP_CONNECTIONS: u8 = 6;
const UDP_FLOWS: u8 = 4;
const TIMEOUT: Duration = Duration::from_secs(3);

/// VIP:80/tcp to rs1:8080 and rs2:8081, VIP:53/udp to rs1:5353 and rs2:5354.
fn services() -> Vec<KnatService> {
    let targets = |ports: [u16; 2]| {
        RS.iter()
            .zip(ports)
            .map(|(&(_, address), port)| SocketAddrV4::new(address, port))
    };
    vec![
        KnatService::new(KnatProtocol::Tcp, VIP, 80, targets(TCP_PORTS)),
        KnatService::new(KnatProtocol::Udp, VIP, 53, targets(UDP_PORTS)),
    ]
}

#[test]
fn a_kernel_nat_lab_balances_tcp_and_udp_round_robin() {
    if !knat_tests_can_run("a_kernel_nat_lab_balances_tcp_and_udp_round_robin") {
        return;
    }
    let before = root_links();
    // A director named as `run` names it: kernel NAT ignores it (no TAP).
    let topo = Topology {
        directors: vec!["d1".into()],
        ..Topology::with_layout(Layout::KernelNat, 2)
    };
    let lab = Lab::up_kernel_nat(&topo, &services()).expect("lab up");
    let prefix = lab.prefix().to_owned();
    assert_eq!(
        namespaces_of(&prefix),
        ["cl", "kn", "rs1", "rs2", "rt", "sw"].map(|h| lab.netns(h))
    );
    assert_eq!(lab.hosts(), ["sw", "rt", "cl", "kn", "rs1", "rs2"]);
    assert_eq!(lab.knat_services(), services());

    // The box in the directors' place: no TAP anywhere, one arm on each bridge.
    assert_eq!(ports(&lab, "br0"), ["kn", "rt"]);
    assert_eq!(ports(&lab, "br1"), ["kni", "rs1", "rs2"]);
    assert_eq!(
        addresses(&lab, "kn", "eth0"),
        ["198.18.0.2/24", "198.18.0.100/32"]
    );
    assert_eq!(addresses(&lab, "kn", "eth1"), ["198.18.1.1/24"]);
    assert_eq!(
        route_destinations(&lab, "kn"),
        [
            "198.18.0.0/24",
            "198.18.1.0/24",
            "198.18.3.0/24",
            "198.19.0.0/16"
        ],
        "the box routes nowhere else"
    );
    for (key, value) in [
        ("net.ipv4.ip_forward", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.eth0.rp_filter", "0"),
        ("net.ipv4.conf.eth1.rp_filter", "0"),
    ] {
        assert_eq!(sysctl(&lab, "kn", key), value, "{key} in kn");
    }
    let gateway = Ipv4Addr::new(198, 18, 1, 1);
    for (rs, address) in RS {
        let address = address.to_string();
        assert_nat_real_server(&lab, rs, &address, "198.18.1.0/24", gateway);
    }
    let ruleset = nft_list(&lab);
    for rule in [
        "ip daddr 198.18.0.100 tcp dport 80 dnat ip to numgen inc mod 2 map { 0 : 198.18.1.11 . 8080, 1 : 198.18.1.12 . 8081 }",
        "ip daddr 198.18.0.100 udp dport 53 dnat ip to numgen inc mod 2 map { 0 : 198.18.1.11 . 5353, 1 : 198.18.1.12 . 5354 }",
    ] {
        assert!(ruleset.contains(rule), "{rule:?} not in\n{ruleset}");
    }

    // The real servers: sockets of this process, in their namespaces, answering their names.
    let stop = Arc::new(AtomicBool::new(false));
    let _stop_on_panic = StopOnDrop(stop.clone());
    let mut servers = Vec::new();
    for (i, (rs, address)) in RS.into_iter().enumerate() {
        let ns = lab.netns(rs);
        let tcp = SocketAddrV4::new(address, TCP_PORTS[i]);
        let udp = SocketAddrV4::new(address, UDP_PORTS[i]);
        let listener = in_netns(&ns, move || TcpListener::bind(tcp)).expect("listen");
        let socket = in_netns(&ns, move || UdpSocket::bind(udp)).expect("bind");
        servers.push((
            rs,
            tcp_server(listener, rs, stop.clone()),
            udp_server(socket, rs, stop.clone()),
        ));
    }

    // The clients: every connection and flow from its own address, to the VIP.
    let tcp_sources: Vec<Ipv4Addr> = (1..=TCP_CONNECTIONS).map(client).collect();
    let udp_sources: Vec<Ipv4Addr> = (1..=UDP_FLOWS).map(|n| client(100 + n)).collect();
    let (tcp_answers, udp_answers) = {
        let (tcp_sources, udp_sources) = (tcp_sources.clone(), udp_sources.clone());
        in_netns(&lab.netns("cl"), move || {
            let tcp: Vec<String> = tcp_sources.into_iter().map(ask_tcp).collect();
            let udp: Vec<String> = udp_sources.into_iter().map(ask_udp).collect();
            (tcp, udp)
        })
    };
    stop.store(true, Ordering::SeqCst);
    let mut seen = Vec::new();
    for (rs, tcp, udp) in servers {
        let tcp = tcp.join().expect("TCP server thread");
        let udp = udp.join().expect("UDP server thread");
        seen.push((rs, tcp, udp));
    }
    // The router's ARP for the VIP was answered by the box's eth0.
    let neigh = ip_json(&lab, "rt", &["neigh", "show", &VIP.to_string()]);
    let answered = text(&neigh[0]["lladdr"]);
    let kn_eth0 = mac(&lab, "kn", "eth0");

    assert_nothing_in_the_root_namespace(&before, &lab);
    lab.down().expect("lab down");
    assert_gone(&prefix);

    // Round robin, connection by connection (flow by flow): numgen counts from 0 in a new lab.
    let expected = |count: u8| -> Vec<String> {
        (0..count)
            .map(|n| RS[usize::from(n % 2)].0.to_owned())
            .collect()
    };
    assert_eq!(tcp_answers, expected(TCP_CONNECTIONS), "TCP answers");
    assert_eq!(udp_answers, expected(UDP_FLOWS), "UDP answers");
    // No SNAT: each server saw the clients' own addresses, every other one.
    for (i, (rs, tcp, udp)) in seen.into_iter().enumerate() {
        let every_other = |sources: &[Ipv4Addr]| -> Vec<Ipv4Addr> {
            sources.iter().skip(i).step_by(2).copied().collect()
        };
        assert_eq!(tcp, every_other(&tcp_sources), "TCP peers of {rs}");
        assert_eq!(udp, every_other(&udp_sources), "UDP peers of {rs}");
    }
    assert_eq!(
        answered, kn_eth0,
        "who answered the router's ARP for the VIP"
    );
}

#[test]
fn lab_up_by_hand_writes_the_knat_ruleset_and_checks_its_services() {
    if !knat_tests_can_run("lab_up_by_hand_writes_the_knat_ruleset_and_checks_its_services") {
        return;
    }
    // A person gives only the layout, the servers and the services; a service without targets
    // goes to every real server on its own port.
    let prefix = state::claim_prefix(std::process::id()).expect("claim a prefix");
    let env = [
        ("PREFIX", prefix.clone()),
        ("LAYOUT", "knat".to_owned()),
        ("RS_COUNT", "2".to_owned()),
        (
            "KNAT_SERVICES",
            "tcp:198.18.0.100:80 udp:198.18.0.100:53=198.18.1.12:5353,198.18.1.11:5300".to_owned(),
        ),
    ];
    let built = script::run("lab-up.sh", script::LAB_UP, &env);
    let file = std::fs::read_to_string(state::state_dir(&prefix).join("knat.nft"));
    let kn = format!("{prefix}-kn");
    let listed = built.as_ref().ok().map(|_| {
        let output = std::process::Command::new("ip")
            .args(["netns", "exec", &kn, "nft", "list", "ruleset"])
            .output()
            .expect("nft runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    });
    let eth1 = built
        .as_ref()
        .ok()
        .map(|_| ns_json(&kn, &["-4", "addr", "show", "dev", "eth1"]));
    script::down(&prefix).expect("lab down");
    assert_gone(&prefix);
    built.expect("lab up");
    let expected = "\
table ip tapvs_knat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.18.0.100 tcp dport 80 dnat ip to numgen inc mod 2 map { 0 : 198.18.1.11 . 80, 1 : 198.18.1.12 . 80 }
		ip daddr 198.18.0.100 udp dport 53 dnat ip to numgen inc mod 2 map { 0 : 198.18.1.12 . 5353, 1 : 198.18.1.11 . 5300 }
	}
}
";
    assert_eq!(file.expect("knat.nft in the state dir"), expected);
    let listed = listed.expect("listed");
    assert!(
        listed.contains("table ip tapvs_knat") && listed.contains("0 : 198.18.1.12 . 5353"),
        "{listed}"
    );
    assert_eq!(
        text(&eth1.expect("eth1")[0]["addr_info"][0]["local"]),
        "198.18.1.1",
        "the default gateway"
    );

    // And it refuses what `plan` refuses, before it builds anything.
    let prefix = state::claim_prefix(std::process::id()).expect("claim a prefix");
    let vip80 = "tcp:198.18.0.100:80";
    let cases: [(&[(&str, &str)], &str); 13] = [
        (
            &[("LAYOUT", "knat"), ("DIRECTORS", "d1")],
            "LAYOUT=knat has no directors",
        ),
        (
            &[("LAYOUT", "nat2"), ("KNAT_SERVICES", vip80)],
            "KNAT_SERVICES is for LAYOUT=knat, not nat2",
        ),
        (
            &[("LAYOUT", "knat"), ("KNAT_SERVICES", "tcp:198.18.0.101:80")],
            "198.18.0.101 in 'tcp:198.18.0.101:80' is not one of VIPS",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("KNAT_SERVICES", "sctp:198.18.0.100:80"),
            ],
            "is not PROTO:VIP:PORT[=ADDR:PORT,...]",
        ),
        (
            &[("LAYOUT", "knat"), ("KNAT_SERVICES", "tcp:198.18.0.100:0")],
            "port 0 in 'tcp:198.18.0.100:0' is not 1-65535",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("KNAT_SERVICES", "tcp:198.18.0.100:80=198.18.1.13:80"),
            ],
            "'198.18.1.13:80' in 'tcp:198.18.0.100:80=198.18.1.13:80' is not ADDR:PORT",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("KNAT_SERVICES", "tcp:198.18.0.100:80=198.18.1.11:65536"),
            ],
            "port 65536 in",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("KNAT_SERVICES", "tcp:198.18.0.100:80="),
            ],
            "has no target",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("KNAT_SERVICES", "tcp:198.18.0.100:80 tcp:198.18.0.100:80"),
            ],
            "tcp:198.18.0.100:80 is listed twice",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("RS_COUNT", "0"),
                ("KNAT_SERVICES", vip80),
            ],
            "has no real server to go to",
        ),
        (
            &[
                ("LAYOUT", "knat"),
                ("RS_COUNT", "0"),
                ("KNAT_SERVICES", "tcp:198.18.0.100:80=198.18.1.11:80"),
            ],
            "ADDR a real server's (none)",
        ),
        (
            &[("LAYOUT", "knat"), ("REAL_SERVERS", "kni=198.18.1.20")],
            "name 'kni' is used twice or reserved",
        ),
        (
            &[("LAYOUT", "dr"), ("REAL_SERVERS", "kn=198.18.0.20")],
            "name 'kn' is used twice or reserved",
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

/// Stops the server threads when dropped (on a panic too, so they do not hold the lab's
/// namespaces alive).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Client address 198.19.0.`n`.
fn client(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 19, 0, n)
}

/// `nft list ruleset` in the box.
fn nft_list(lab: &Lab) -> String {
    let output = lab
        .command("kn", "nft")
        .args(["list", "ruleset"])
        .output()
        .expect("nft runs");
    assert!(output.status.success(), "nft list ruleset: {output:?}");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// One TCP connection from `source` to VIP:80: the name the server answered, or what went wrong.
fn ask_tcp(source: Ipv4Addr) -> String {
    let answer = || -> io::Result<String> {
        let mut stream = connect_from(source, SocketAddrV4::new(VIP, 80), TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        let mut name = String::new();
        stream.read_to_string(&mut name)?;
        Ok(name.trim().to_owned())
    };
    answer().unwrap_or_else(|e| format!("from {source}: {e}"))
}

/// One UDP flow from `source` to VIP:53: the name the server answered, or what went wrong. The
/// socket is connected to VIP:53, so only an answer from there (un-NATed) is taken.
fn ask_udp(source: Ipv4Addr) -> String {
    let answer = || -> io::Result<String> {
        let socket = UdpSocket::bind((source, 0))?;
        socket.connect((VIP, 53))?;
        socket.set_read_timeout(Some(TIMEOUT))?;
        socket.send(b"who?")?;
        let mut buf = [0; 64];
        let n = socket.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).trim().to_owned())
    };
    answer().unwrap_or_else(|e| format!("from {source}: {e}"))
}

/// Accepts until `stop`, answering each connection with `name`; returns the peers' addresses.
fn tcp_server(
    listener: TcpListener,
    name: &str,
    stop: Arc<AtomicBool>,
) -> JoinHandle<Vec<Ipv4Addr>> {
    let answer = format!("{name}\n");
    listener.set_nonblocking(true).expect("non-blocking");
    std::thread::spawn(move || {
        let mut peers = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((mut stream, peer)) => {
                    stream.set_nonblocking(false).expect("blocking");
                    let _ = stream.write_all(answer.as_bytes());
                    peers.push(ipv4(peer.ip()));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
        peers
    })
}

/// Answers each datagram with `name` until `stop`; returns the peers' addresses.
fn udp_server(socket: UdpSocket, name: &str, stop: Arc<AtomicBool>) -> JoinHandle<Vec<Ipv4Addr>> {
    let answer = name.to_owned();
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .expect("read timeout");
    std::thread::spawn(move || {
        let mut peers = Vec::new();
        let mut buf = [0; 64];
        while !stop.load(Ordering::SeqCst) {
            match socket.recv_from(&mut buf) {
                Ok((_, peer)) => {
                    let _ = socket.send_to(answer.as_bytes(), peer);
                    peers.push(ipv4(peer.ip()));
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => panic!("recv_from: {e}"),
            }
        }
        peers
    })
}

fn ipv4(ip: IpAddr) -> Ipv4Addr {
    match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => panic!("an IPv6 peer in the lab: {v6}"),
    }
}
