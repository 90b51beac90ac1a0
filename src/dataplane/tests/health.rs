//! What health checks do to the table: a server taken out loses its connections at once
//! (`expire_server`), and the sorry server sits last at weight 0 until it is given some.

use super::*;

#[test]
fn a_server_taken_out_loses_its_connections_and_its_clients_find_no_entry() {
    let mut dp = resolved("rr", &[1, 1, 1], "");
    let clients: Vec<Endpoints> = (0..6).map(|n| client(n, 2000)).collect();
    for (n, c) in clients.iter().enumerate() {
        assert_eq!(send(&mut dp, 0, *c, Flags::SYN), Ok(n as u8 % 3));
    }
    assert!(dp.set_weight_of(0, 1, 0));
    assert_eq!(dp.expire_server(t(10), 0, 1), 2);
    assert_eq!(dp.conns().len(), 4);
    assert_eq!(dp.services()[0].views[1].active_conns, 0);
    for (n, c) in clients.iter().enumerate() {
        let verdict = send(&mut dp, 20, *c, Flags::ACK);
        if n % 3 == 1 {
            assert_eq!(verdict, Err(Verdict::Dropped(DropReason::NoConnection)));
        } else {
            assert_eq!(verdict, Ok(n as u8 % 3), "the other servers keep theirs");
        }
    }
    // The client reconnects: a new connection, to a server still in.
    assert_eq!(send(&mut dp, 30, client(1, 2001), Flags::SYN), Ok(0));
    assert!(!dp.set_weight_of(0, 3, 1), "no fourth server");
    assert!(!dp.set_weight_of(1, 0, 1), "no second service");
}

#[test]
fn the_sorry_server_comes_last_at_weight_zero_until_given_weight() {
    let mut text = String::new();
    for (i, w) in [1, 1].iter().enumerate() {
        text += &format!(
            "[[service.real_server]]\nname = \"rs{}\"\naddress = \"198.18.0.{}\"\nport = 80\nweight = {w}\n",
            i + 1,
            11 + i
        );
    }
    let config: crate::node::settings::NodeSettings = toml::from_str(&format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
             prefix_len = 24\ngateway = \"198.18.0.1\"\n\
             [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"wlc\"\n\
             sorry_server = {{ address = \"198.18.0.20\", port = 80 }}\n\
             [service.health]\ncheck = \"tcp\"\n{text}"
    ))
    .unwrap();
    let mut dp = Dataplane::new(&config.dataplane(), 1);
    for (mac, ip) in [
        (ROUTER_MAC, ROUTER),
        (rs_mac(0), rs_ip(0)),
        (rs_mac(1), rs_ip(1)),
    ]
    .into_iter()
    .chain([(rs_mac(9), rs_ip(9))])
    {
        let mut f = build::arp_reply(mac, ip, DIRECTOR_MAC, DIRECTOR);
        assert_eq!(dp.handle_frame(t(0), OUT, &mut f), Verdict::Consumed);
    }
    let svc = &dp.services()[0];
    assert_eq!(svc.servers.len(), 3);
    assert_eq!(svc.servers[2].name, service::SORRY);
    assert_eq!(svc.views[2].addr, rs_ip(9));
    assert_eq!(svc.views[2].weight, 0);
    for n in 0..20 {
        assert!(send(&mut dp, 1, client(n, 3000), Flags::SYN).unwrap() < 2);
    }
    dp.set_weight_of(0, 0, 0);
    dp.set_weight_of(0, 1, 0);
    dp.set_weight_of(0, 2, 1);
    assert_eq!(send(&mut dp, 2, client(50, 3000), Flags::SYN), Ok(9));
}

/// A TCP segment the data plane emitted by itself.
#[derive(Debug, PartialEq, Eq)]
struct Emitted {
    to_mac: EthernetAddress,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ports: (u16, u16),
    seq: u32,
    ack: Option<u32>,
    rst: bool,
}

/// The next frame the data plane emits by itself, parsed as TCP (checksums verified).
fn emitted_tcp(dp: &mut Dataplane) -> Option<Emitted> {
    let mut buf = [0u8; pending::SLOT_LEN];
    let (iface, len) = dp.poll_transmit(t(100), &mut buf)?;
    assert_eq!(iface, OUT);
    let eth = EthernetFrame::new_checked(&buf[..len]).unwrap();
    let ip = smoltcp::wire::Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum());
    let tcp = smoltcp::wire::TcpPacket::new_checked(ip.payload()).unwrap();
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    assert!(tcp.verify_checksum(&src.into(), &dst.into()));
    Some(Emitted {
        to_mac: eth.dst_addr(),
        src,
        dst,
        ports: (tcp.src_port(), tcp.dst_port()),
        seq: tcp.seq_number().0 as u32,
        ack: tcp.ack().then(|| tcp.ack_number().0 as u32),
        rst: tcp.rst(),
    })
}

#[test]
fn a_segment_without_connection_gets_a_reset_from_the_vip_as_a_directors_kernel_would() {
    let mut dp = resolved("rr", &[1, 1], "");
    let c = client(7, 4000);
    assert_eq!(send(&mut dp, 0, c, Flags::SYN), Ok(0));
    assert_eq!(dp.expire_server(t(1), 0, 0), 1);
    let mut ack = build::tcp_frame(c, Flags::ACK, b"GET / HTTP/1.1\r\n\r\n");
    let their_ack = smoltcp::wire::TcpPacket::new_checked(&ack[34..])
        .unwrap()
        .ack_number()
        .0 as u32;
    assert_eq!(
        dp.handle_frame(t(2), OUT, &mut ack),
        Verdict::Dropped(DropReason::NoConnection)
    );
    assert_eq!(
        emitted_tcp(&mut dp),
        Some(Emitted {
            to_mac: ROUTER_MAC,
            src: VIP,
            dst: c.src,
            ports: (80, 4000),
            seq: their_ack,
            ack: None,
            rst: true,
        }),
        "RST from the VIP with SEQ = their ACK"
    );
    assert_eq!(dp.counters().resets, 1);
    // A reset is never answered with a reset; a SYN opens a connection instead.
    let rst = Flags {
        rst: true,
        ..Flags::ACK
    };
    assert_eq!(
        send(&mut dp, 3, c, rst),
        Err(Verdict::Dropped(DropReason::NoConnection))
    );
    assert_eq!(emitted_tcp(&mut dp), None);
    // The reset queue is bounded: a flood past it is counted, not queued.
    for n in 0..(reset::RESET_QUEUE as u32 + 5) {
        let _ = send(&mut dp, 4, client(100 + n, 4000), Flags::ACK);
    }
    assert_eq!(dp.counters().resets_dropped, 5);
}
