//! NAT (masquerading) tests on fixed frames: rewrite both ways with checksums that verify,
//! port mapping, TTL, the floating gateway's ARP, two-armed and one-armed layouts, UDP.

use super::counters::DropReason;
use super::*;
use crate::node::settings::NodeSettings;
use crate::wire::build::{self, Endpoints, Flags};
use crate::wire::{ETHERNET_HEADER_LEN, EthernetFrame, Ipv4Packet, TcpPacket, UdpPacket};
use smoltcp::wire::IpAddress;

const OUT_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const IN_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 1, 2]);
const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const RS_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 1, 11]);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 7);

fn t(ms: i64) -> Instant {
    Instant::from_millis(ms)
}

/// A two-armed director (servers behind it on 198.18.1.0/24, port 80 → 8080), or a one-armed
/// one (servers on the LAN, the director their gateway).
fn config(two_armed: bool, protocol: &str) -> NodeSettings {
    let (inside, rs) = if two_armed {
        (
            "[inside]\nname = \"d1i\"\nmac = \"02:74:76:00:01:02\"\naddress = \"198.18.1.2\"\n\
             prefix_len = 24\nfloating = [\"198.18.1.1\"]\n",
            "198.18.1.11",
        )
    } else {
        ("", "198.18.0.11")
    };
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n{inside}\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nprotocol = \"{protocol}\"\n\
         scheduler = \"rr\"\nforwarding = \"nat\"\n\
         [[service.real_server]]\nname = \"rs1\"\naddress = \"{rs}\"\nport = 8080\n"
    );
    toml::from_str(&text).unwrap()
}

fn rs_ip(two_armed: bool) -> Ipv4Addr {
    if two_armed {
        Ipv4Addr::new(198, 18, 1, 11)
    } else {
        Ipv4Addr::new(198, 18, 0, 11)
    }
}

fn inside(two_armed: bool) -> Iface {
    if two_armed {
        Iface::INSIDE
    } else {
        Iface::OUTSIDE
    }
}

/// A NAT director with the router and the real server resolved.
fn director(two_armed: bool, protocol: &str) -> Dataplane {
    let mut dp = Dataplane::new(&config(two_armed, protocol).dataplane(), 1);
    let own_in = if two_armed {
        Ipv4Addr::new(198, 18, 1, 2)
    } else {
        Ipv4Addr::new(198, 18, 0, 2)
    };
    let in_mac = if two_armed { IN_MAC } else { OUT_MAC };
    let mut f = build::arp_reply(ROUTER_MAC, ROUTER, OUT_MAC, Ipv4Addr::new(198, 18, 0, 2));
    assert_eq!(
        dp.handle_frame(t(0), Iface::OUTSIDE, &mut f),
        Verdict::Consumed
    );
    let mut f = build::arp_reply(RS_MAC, rs_ip(two_armed), in_mac, own_in);
    assert_eq!(
        dp.handle_frame(t(0), inside(two_armed), &mut f),
        Verdict::Consumed
    );
    dp
}

fn request() -> Endpoints {
    Endpoints {
        src_mac: ROUTER_MAC,
        dst_mac: OUT_MAC,
        src: CLIENT,
        src_port: 40000,
        dst: VIP,
        dst_port: 80,
    }
}

fn reply(two_armed: bool) -> Endpoints {
    Endpoints {
        src_mac: RS_MAC,
        dst_mac: if two_armed { IN_MAC } else { OUT_MAC },
        src: rs_ip(two_armed),
        src_port: 8080,
        dst: CLIENT,
        dst_port: 40000,
    }
}

/// The IPv4 packet of a frame, checked: header checksum, and the TCP checksum over it.
fn check_tcp(frame: &[u8]) -> (Ipv4Addr, u16, Ipv4Addr, u16, u8) {
    let ip = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]).unwrap();
    assert!(ip.verify_checksum(), "IP header checksum");
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    assert!(tcp.verify_checksum(&src, &dst), "TCP checksum");
    (
        ip.src_addr(),
        tcp.src_port(),
        ip.dst_addr(),
        tcp.dst_port(),
        ip.hop_limit(),
    )
}

#[test]
fn two_armed_nat_rewrites_both_ways_with_port_mapping_and_valid_checksums() {
    let mut dp = director(true, "tcp");
    let mut f = build::tcp_frame(request(), Flags::SYN, b"");
    assert_eq!(
        dp.handle_frame(t(1), Iface::OUTSIDE, &mut f),
        Verdict::Send(Iface::INSIDE)
    );
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (IN_MAC, RS_MAC));
    assert_eq!(
        check_tcp(&f),
        (CLIENT, 40000, rs_ip(true), 8080, 63),
        "dst rewritten, TTL - 1"
    );

    let payload = vec![7u8; 1200];
    let mut f = build::tcp_frame(reply(true), Flags::ACK, &payload);
    assert_eq!(
        dp.handle_frame(t(2), Iface::INSIDE, &mut f),
        Verdict::Send(Iface::OUTSIDE)
    );
    let eth = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(
        (eth.src_addr(), eth.dst_addr()),
        (OUT_MAC, ROUTER_MAC),
        "to the client via the router"
    );
    assert_eq!(
        check_tcp(&f),
        (VIP, 80, CLIENT, 40000, 63),
        "source back to VIP:80"
    );

    let stats = dp.stats();
    let rs = &stats.services[0].servers[0].traffic;
    assert_eq!((rs.packets, rs.reply_packets), (1, 1));
    assert_eq!(
        rs.reply_bytes,
        f.len() as u64,
        "the director carries the reply bytes too"
    );
}

#[test]
fn one_armed_nat_works_on_a_single_interface() {
    let mut dp = director(false, "tcp");
    let mut f = build::tcp_frame(request(), Flags::SYN, b"");
    assert_eq!(
        dp.handle_frame(t(1), Iface::OUTSIDE, &mut f),
        Verdict::Send(Iface::OUTSIDE)
    );
    assert_eq!(check_tcp(&f).2, rs_ip(false));
    let mut f = build::tcp_frame(reply(false), Flags::ACK, b"ok");
    assert_eq!(
        dp.handle_frame(t(2), Iface::OUTSIDE, &mut f),
        Verdict::Send(Iface::OUTSIDE)
    );
    assert_eq!(check_tcp(&f).0, VIP);
}

#[test]
fn floating_gateway_is_answered_on_the_inside_only_while_active() {
    let mut dp = director(true, "tcp");
    let gw = Ipv4Addr::new(198, 18, 1, 1);
    let mut f = build::arp_request(RS_MAC, rs_ip(true), gw);
    assert_eq!(
        dp.handle_frame(t(0), Iface::INSIDE, &mut f),
        Verdict::Send(Iface::INSIDE)
    );
    assert_eq!(f, build::arp_reply(IN_MAC, gw, RS_MAC, rs_ip(true)));
    let mut f = build::arp_request(RS_MAC, rs_ip(true), VIP);
    assert_eq!(
        dp.handle_frame(t(0), Iface::INSIDE, &mut f),
        Verdict::Dropped(DropReason::ArpIgnored)
    );
    dp.set_active(t(0), false);
    let mut f = build::arp_request(RS_MAC, rs_ip(true), gw);
    assert_eq!(
        dp.handle_frame(t(0), Iface::INSIDE, &mut f),
        Verdict::Dropped(DropReason::Inactive)
    );
}

#[test]
fn unknown_replies_are_not_forwarded_and_expired_ones_are_forgotten() {
    let mut dp = director(true, "tcp");
    let mut f = build::tcp_frame(reply(true), Flags::ACK, b"");
    assert_eq!(
        dp.handle_frame(t(0), Iface::INSIDE, &mut f),
        Verdict::Dropped(DropReason::NotForUs)
    );
    let mut f = build::tcp_frame(request(), Flags::SYN, b"");
    dp.handle_frame(t(0), Iface::OUTSIDE, &mut f);
    // SYN_RECV lasts 60 s; after that the reply tuple is gone with the connection.
    dp.handle_timeout(t(61_000));
    let mut f = build::tcp_frame(reply(true), Flags::ACK, b"");
    assert_eq!(
        dp.handle_frame(t(61_001), Iface::INSIDE, &mut f),
        Verdict::Dropped(DropReason::NotForUs)
    );
}

#[test]
fn nat_tracks_tcp_state_from_both_directions() {
    let mut dp = director(true, "tcp");
    let key = conntrack::ConnKey {
        protocol: 6,
        client: CLIENT,
        client_port: 40000,
        vip: VIP,
        vport: 80,
    };
    dp.handle_frame(
        t(0),
        Iface::OUTSIDE,
        &mut build::tcp_frame(request(), Flags::SYN, b""),
    );
    dp.handle_frame(
        t(1),
        Iface::INSIDE,
        &mut build::tcp_frame(
            reply(true),
            Flags {
                syn: true,
                ack: true,
                ..Flags::default()
            },
            b"",
        ),
    );
    dp.handle_frame(
        t(2),
        Iface::OUTSIDE,
        &mut build::tcp_frame(request(), Flags::ACK, b""),
    );
    let idx = dp.conns().find(&key).unwrap();
    assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::Established);
    dp.handle_frame(
        t(3),
        Iface::INSIDE,
        &mut build::tcp_frame(reply(true), Flags::FIN_ACK, b""),
    );
    assert_eq!(
        dp.conns().get(idx).state,
        tcp_state::ConnState::FinWait,
        "server closed first"
    );
}

#[test]
fn udp_nat_both_ways() {
    let mut dp = director(true, "udp");
    let mut f = build::udp_frame(request(), b"TAPVS-Q 1 100\n");
    assert_eq!(
        dp.handle_frame(t(0), Iface::OUTSIDE, &mut f),
        Verdict::Send(Iface::INSIDE)
    );
    let ip = Ipv4Packet::new_checked(&f[ETHERNET_HEADER_LEN..]).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((ip.dst_addr(), udp.dst_port()), (rs_ip(true), 8080));
    assert!(udp.verify_checksum(
        &IpAddress::Ipv4(ip.src_addr()),
        &IpAddress::Ipv4(ip.dst_addr())
    ));
    let mut f = build::udp_frame(reply(true), b"TAPVS-R 1 rs1\n");
    assert_eq!(
        dp.handle_frame(t(1), Iface::INSIDE, &mut f),
        Verdict::Send(Iface::OUTSIDE)
    );
    let ip = Ipv4Packet::new_checked(&f[ETHERNET_HEADER_LEN..]).unwrap();
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((ip.src_addr(), udp.src_port()), (VIP, 80));
    assert!(udp.verify_checksum(
        &IpAddress::Ipv4(ip.src_addr()),
        &IpAddress::Ipv4(ip.dst_addr())
    ));
}

#[test]
fn ttl_one_is_not_forwarded() {
    let mut dp = director(true, "tcp");
    let mut f = build::tcp_frame(request(), Flags::SYN, b"");
    let mut ip = Ipv4Packet::new_unchecked(&mut f[ETHERNET_HEADER_LEN..]);
    ip.set_hop_limit(1);
    ip.fill_checksum();
    assert_eq!(
        dp.handle_frame(t(0), Iface::OUTSIDE, &mut f),
        Verdict::Dropped(DropReason::TtlExceeded)
    );
}

/// An ICMP error from `from` to `to` quoting `quoted` (a whole IPv4 packet; its first 28 bytes
/// or so go in), with every checksum right.
fn icmp_error(ends: Endpoints, quoted: &[u8], frag_needed: bool) -> Vec<u8> {
    use smoltcp::phy::ChecksumCapabilities;
    use smoltcp::wire::{Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, IpProtocol, Ipv4Repr};
    let q = Ipv4Packet::new_checked(quoted).unwrap();
    let header = Ipv4Repr {
        src_addr: q.src_addr(),
        dst_addr: q.dst_addr(),
        next_header: q.next_header(),
        payload_len: q.payload().len(),
        hop_limit: q.hop_limit(),
    };
    let data = &q.payload()[..8];
    let reason = if frag_needed {
        Icmpv4DstUnreachable::FragRequired
    } else {
        Icmpv4DstUnreachable::PortUnreachable
    };
    let icmp = Icmpv4Repr::DstUnreachable {
        reason,
        header,
        data,
    };
    let ip = Ipv4Repr {
        src_addr: ends.src,
        dst_addr: ends.dst,
        next_header: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; ETHERNET_HEADER_LEN + ip.buffer_len() + icmp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_src_addr(ends.src_mac);
    eth.set_dst_addr(ends.dst_mac);
    eth.set_ethertype(crate::wire::EthernetProtocol::Ipv4);
    let caps = ChecksumCapabilities::default();
    let mut pkt = Ipv4Packet::new_unchecked(&mut buf[ETHERNET_HEADER_LEN..]);
    ip.emit(&mut pkt, &caps);
    icmp.emit(&mut Icmpv4Packet::new_unchecked(pkt.payload_mut()), &caps);
    buf
}

/// Outer source and destination, and the quoted flow, of a translated ICMP error; every
/// checksum verified.
fn read_icmp(frame: &[u8]) -> (Ipv4Addr, Ipv4Addr, crate::wire::icmp_error::InnerFlow) {
    let ip = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]).unwrap();
    assert!(ip.verify_checksum());
    let icmp = smoltcp::wire::Icmpv4Packet::new_checked(ip.payload()).unwrap();
    assert!(icmp.verify_checksum(), "ICMP checksum");
    let inner = Ipv4Packet::new_checked(icmp.data()).unwrap_or_else(|_| {
        // The quote is shorter than its total length says: check its header alone.
        Ipv4Packet::new_unchecked(icmp.data())
    });
    assert!(inner.verify_checksum(), "quoted header checksum");
    let flow = crate::wire::icmp_error::inner_flow(&frame[ETHERNET_HEADER_LEN..]).unwrap();
    (ip.src_addr(), ip.dst_addr(), flow)
}

#[test]
fn icmp_errors_from_a_real_server_are_translated_back_to_the_vip() {
    let mut dp = director(true, "udp");
    let mut request = build::udp_frame(request(), b"TAPVS-Q 1 100\n");
    assert_eq!(
        dp.handle_frame(t(0), Iface::OUTSIDE, &mut request),
        Verdict::Send(Iface::INSIDE)
    );
    // rs1 has nothing on 8080: port unreachable, quoting the translated request.
    let ends = Endpoints {
        dst_port: 0,
        src_port: 0,
        ..reply(true)
    };
    let mut f = icmp_error(ends, &request[ETHERNET_HEADER_LEN..], false);
    assert_eq!(
        dp.handle_frame(t(1), Iface::INSIDE, &mut f),
        Verdict::Send(Iface::OUTSIDE)
    );
    let (src, dst, inner) = read_icmp(&f);
    assert_eq!((src, dst), (VIP, CLIENT), "from the VIP to the client");
    assert_eq!(
        (inner.src, inner.src_port, inner.dst, inner.dst_port),
        (CLIENT, 40000, VIP, 80)
    );
    assert_eq!(
        EthernetFrame::new_checked(&f[..]).unwrap().dst_addr(),
        ROUTER_MAC
    );
}

#[test]
fn frag_needed_towards_the_vip_reaches_the_real_server_translated() {
    let mut dp = director(true, "tcp");
    dp.handle_frame(
        t(0),
        Iface::OUTSIDE,
        &mut build::tcp_frame(request(), Flags::SYN, b""),
    );
    let mut reply_frame = build::tcp_frame(reply(true), Flags::ACK, &[1u8; 1400]);
    assert_eq!(
        dp.handle_frame(t(1), Iface::INSIDE, &mut reply_frame),
        Verdict::Send(Iface::OUTSIDE)
    );
    // The router cannot pass the (translated) reply on: fragmentation needed, to the VIP.
    let ends = Endpoints {
        src: ROUTER,
        dst: VIP,
        src_mac: ROUTER_MAC,
        dst_mac: OUT_MAC,
        src_port: 0,
        dst_port: 0,
    };
    let mut f = icmp_error(ends, &reply_frame[ETHERNET_HEADER_LEN..], true);
    assert_eq!(
        dp.handle_frame(t(2), Iface::OUTSIDE, &mut f),
        Verdict::Send(Iface::INSIDE)
    );
    let (src, dst, inner) = read_icmp(&f);
    assert_eq!((src, dst), (ROUTER, rs_ip(true)), "to the real server");
    assert_eq!(
        (inner.src, inner.src_port, inner.dst, inner.dst_port),
        (rs_ip(true), 8080, CLIENT, 40000)
    );
    // An error about no connection of ours goes nowhere.
    let other = build::tcp_frame(
        Endpoints {
            dst_port: 40001,
            ..reply(true)
        },
        Flags::ACK,
        b"",
    );
    let mut f = icmp_error(ends, &other[ETHERNET_HEADER_LEN..], true);
    assert_eq!(
        dp.handle_frame(t(3), Iface::OUTSIDE, &mut f),
        Verdict::Dropped(DropReason::NoConnection)
    );
}

/// The TCP/UDP pseudo-header sum (folded, not complemented): what a partial checksum holds.
fn pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, len: usize) -> u16 {
    let mut sum: u32 = 0;
    for a in [src, dst] {
        let o = a.octets();
        sum += u32::from(u16::from_be_bytes([o[0], o[1]]))
            + u32::from(u16::from_be_bytes([o[2], o[3]]));
    }
    sum += protocol as u32 + len as u32;
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

#[test]
fn offloaded_frames_with_partial_checksums_keep_them_partial_for_the_new_addresses() {
    let mut dp = director(true, "tcp");
    let mut f = build::tcp_frame(request(), Flags::SYN, b"");
    let tcp_at = ETHERNET_HEADER_LEN + 20;
    let tcp_len = f.len() - tcp_at;
    // What the kernel hands over with offloads: only the pseudo-header sum in the field.
    let partial = pseudo_sum(CLIENT, VIP, 6, tcp_len);
    f[tcp_at + 16..tcp_at + 18].copy_from_slice(&partial.to_be_bytes());
    assert_eq!(
        dp.handle_offloaded(t(0), Iface::OUTSIDE, &mut f, true),
        Verdict::Send(Iface::INSIDE)
    );
    let field = u16::from_be_bytes([f[tcp_at + 16], f[tcp_at + 17]]);
    assert_eq!(
        field,
        pseudo_sum(CLIENT, rs_ip(true), 6, tcp_len),
        "partial sum for the new destination"
    );
    let ip = Ipv4Packet::new_checked(&f[ETHERNET_HEADER_LEN..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!(
        TcpPacket::new_checked(ip.payload()).unwrap().dst_port(),
        8080
    );
}

/// A parked frame leaves later through `poll_transmit`, without its virtio header: its partial
/// checksum must be finished before it waits (in DR as in NAT), or the server drops it.
#[test]
fn an_offloaded_frame_parked_for_arp_leaves_with_a_complete_checksum() {
    for protocol in ["tcp", "udp"] {
        // The real server's MAC is not known yet: only the router answered.
        let mut dp = Dataplane::new(&config(false, protocol).dataplane(), 1);
        let mut f = build::arp_reply(ROUTER_MAC, ROUTER, OUT_MAC, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(
            dp.handle_frame(t(0), Iface::OUTSIDE, &mut f),
            Verdict::Consumed
        );
        let (mut f, number, field) = match protocol {
            "tcp" => (build::tcp_frame(request(), Flags::SYN, b""), 6, 16),
            _ => (build::udp_frame(request(), b"TAPVS-Q 1 10\n"), 17, 6),
        };
        let at = ETHERNET_HEADER_LEN + 20 + field;
        let len = f.len() - ETHERNET_HEADER_LEN - 20;
        let partial = pseudo_sum(CLIENT, VIP, number, len);
        f[at..at + 2].copy_from_slice(&partial.to_be_bytes());
        assert_eq!(
            dp.handle_offloaded(t(1), Iface::OUTSIDE, &mut f, true),
            Verdict::Parked
        );
        let mut reply =
            build::arp_reply(RS_MAC, rs_ip(false), OUT_MAC, Ipv4Addr::new(198, 18, 0, 2));
        assert_eq!(
            dp.handle_frame(t(2), Iface::OUTSIDE, &mut reply),
            Verdict::Consumed
        );
        let mut buf = [0u8; pending::SLOT_LEN];
        let (_, n) = dp.poll_transmit(t(2), &mut buf).expect("released");
        let ip = Ipv4Packet::new_checked(&buf[ETHERNET_HEADER_LEN..n]).unwrap();
        let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
        let complete = match protocol {
            "tcp" => TcpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&src, &dst),
            _ => UdpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&src, &dst),
        };
        assert!(
            complete,
            "{protocol}: the parked frame's checksum is complete"
        );
    }
}

#[test]
fn replies_to_an_on_link_client_go_straight_to_it_after_arp() {
    let mut dp = director(true, "tcp");
    let lan_client = Ipv4Addr::new(198, 18, 0, 50);
    let lan_mac = EthernetAddress([0x02, 0, 0, 0, 0, 50]);
    let req = Endpoints {
        src: lan_client,
        src_mac: lan_mac,
        ..request()
    };
    assert_eq!(
        dp.handle_frame(
            t(0),
            Iface::OUTSIDE,
            &mut build::tcp_frame(req, Flags::SYN, b"")
        ),
        Verdict::Send(Iface::INSIDE)
    );
    let rep = Endpoints {
        dst: lan_client,
        ..reply(true)
    };
    let mut f = build::tcp_frame(rep, Flags::ACK, b"hi");
    assert_eq!(
        dp.handle_frame(t(1), Iface::INSIDE, &mut f),
        Verdict::Parked,
        "waits for ARP"
    );
    let mut buf = [0u8; pending::SLOT_LEN];
    let (iface, n) = dp.poll_transmit(t(1), &mut buf).expect("an ARP request");
    assert_eq!(iface, Iface::OUTSIDE);
    assert_eq!(
        &buf[ETHERNET_HEADER_LEN + 24..ETHERNET_HEADER_LEN + 28],
        &lan_client.octets()
    );
    assert!(n >= 42);
    let mut answer = build::arp_reply(lan_mac, lan_client, OUT_MAC, Ipv4Addr::new(198, 18, 0, 2));
    assert_eq!(
        dp.handle_frame(t(2), Iface::OUTSIDE, &mut answer),
        Verdict::Consumed
    );
    let (iface, n) = dp
        .poll_transmit(t(2), &mut buf)
        .expect("the reply, released");
    assert_eq!(iface, Iface::OUTSIDE);
    assert_eq!(
        EthernetFrame::new_checked(&buf[..n]).unwrap().dst_addr(),
        lan_mac
    );
    assert_eq!(check_tcp(&buf[..n]).0, VIP);
}

#[test]
fn becoming_active_announces_the_vip_outside_and_the_floating_gateway_inside() {
    let mut dp = director(true, "tcp");
    dp.set_active(t(0), false);
    let mut buf = [0u8; pending::SLOT_LEN];
    assert!(
        dp.poll_transmit(t(0), &mut buf).is_none(),
        "a backup announces nothing"
    );
    dp.set_active(t(10), true);
    let mut sent = Vec::new();
    while let Some((iface, n)) = dp.poll_transmit(t(10), &mut buf) {
        let arp = smoltcp::wire::ArpPacket::new_checked(&buf[ETHERNET_HEADER_LEN..n]).unwrap();
        let spa: [u8; 4] = arp.source_protocol_addr().try_into().unwrap();
        let tpa: [u8; 4] = arp.target_protocol_addr().try_into().unwrap();
        assert_eq!(
            spa, tpa,
            "gratuitous: sender and target are the announced address"
        );
        let mac = EthernetFrame::new_checked(&buf[..n]).unwrap().src_addr();
        sent.push((iface, Ipv4Addr::from(spa), mac));
    }
    let vip = sent
        .iter()
        .filter(|s| *s == &(Iface::OUTSIDE, VIP, OUT_MAC))
        .count();
    let gw = sent
        .iter()
        .filter(|s| *s == &(Iface::INSIDE, Ipv4Addr::new(198, 18, 1, 1), IN_MAC))
        .count();
    assert_eq!(
        (vip, gw, sent.len()),
        (5, 5, 10),
        "keepalived's five of each at once"
    );
    let events: Vec<Event> = std::iter::from_fn(|| dp.poll_event()).collect();
    assert_eq!(events.last(), Some(&Event::GratuitousArp { at_ms: 10 }));
    assert_eq!(
        dp.poll_timeout(),
        Some(t(5010)),
        "the second burst five seconds later"
    );
}
