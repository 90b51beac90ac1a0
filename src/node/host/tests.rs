//! The host stack with hand-made frames and a hand-moved clock: ARP and ping for its own
//! address, the status port over UDP and TCP (whole connections, one after another, a few at
//! once, stalled ones reclaimed), RST for closed ports, garbage, oversize frames, a full ring.
//! The health checks against a fake server are in [`check`].

use super::*;
use crate::wire::build::{self, Endpoints};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, Icmpv4Packet, Icmpv4Repr, IpAddress, IpProtocol, Ipv4Packet,
    Ipv4Repr, TcpControl, TcpPacket, TcpRepr, UdpPacket,
};

mod check;
mod poll_at;

const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const INSIDE_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 1, 2]);
const DIRECTOR: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const INSIDE: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);
const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const PEER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x50]);
const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 50);
const PEER_NODE: Node = Node {
    ip: PEER,
    mac: PEER_MAC,
};
const STATUS: &str = r#"{"name":"d1","state":"active","conns":0}"#;
const PORT: u16 = 7070;
const OUT: Iface = Iface::OUTSIDE;

fn config(extra: &str) -> NodeSettings {
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n{extra}\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"rr\"\n\
         [[service.real_server]]\nname = \"rs1\"\naddress = \"198.18.0.11\"\nport = 80\n"
    );
    toml::from_str(&text).unwrap()
}

fn t(ms: i64) -> Instant {
    Instant::from_millis(ms)
}

fn stack(extra: &str) -> HostStack {
    HostStack::new(&config(extra), 1, t(0)).unwrap()
}

/// Queues `frames` on the outside, polls at `ms` with [`STATUS`], returns what came out.
fn exchange(host: &mut HostStack, ms: i64, frames: &[Vec<u8>]) -> Vec<(Iface, Vec<u8>)> {
    for f in frames {
        host.handle_frame(OUT, f);
    }
    let mut out = Vec::new();
    host.poll(t(ms), STATUS, &mut |iface, frame| {
        out.push((iface, frame.to_vec()))
    });
    out
}

/// The only frame that came out, sent outside.
fn single(out: Vec<(Iface, Vec<u8>)>) -> Vec<u8> {
    assert_eq!(out.len(), 1, "one frame out: {out:?}");
    let (iface, frame) = out.into_iter().next().unwrap();
    assert_eq!(iface, OUT);
    frame
}

/// A stack that knows the peer's MAC (it asked for the director's address).
fn stack_knowing_peer() -> HostStack {
    let mut host = stack("");
    let request = build::arp_request(PEER_MAC, PEER, DIRECTOR);
    single(exchange(&mut host, 0, &[request]));
    host
}

fn arp_of(frame: &[u8]) -> ArpRepr {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.ethertype(), EthernetProtocol::Arp);
    ArpRepr::parse(&ArpPacket::new_checked(eth.payload()).unwrap()).unwrap()
}

/// The IPv4 header of a frame sent to the peer; checks its checksum.
fn ipv4_of(frame: &[u8], dst_mac: EthernetAddress) -> (Ipv4Repr, &[u8]) {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!(eth.src_addr(), DIRECTOR_MAC);
    assert_eq!(eth.dst_addr(), dst_mac);
    assert_eq!(eth.ethertype(), EthernetProtocol::Ipv4);
    let ip = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    assert!(ip.verify_checksum(), "IPv4 checksum");
    let repr = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()).unwrap();
    let header = usize::from(ip.header_len());
    (repr, &frame[14 + header..14 + usize::from(ip.total_len())])
}

/// An Ethernet + IPv4 frame from the peer to the director around `payload` (already emitted).
fn ipv4_frame(
    src: Ipv4Addr,
    src_mac: EthernetAddress,
    proto: IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: DIRECTOR,
        next_header: proto,
        payload_len: payload.len(),
        hop_limit: 64,
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len() + payload.len()];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    eth.set_src_addr(src_mac);
    eth.set_dst_addr(DIRECTOR_MAC);
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let mut pkt = Ipv4Packet::new_unchecked(&mut frame[14..]);
    ip.emit(&mut pkt, &ChecksumCapabilities::default());
    pkt.payload_mut().copy_from_slice(payload);
    frame
}

fn echo_request(src: Ipv4Addr, src_mac: EthernetAddress, ident: u16, seq_no: u16) -> Vec<u8> {
    let icmp = Icmpv4Repr::EchoRequest {
        ident,
        seq_no,
        data: b"tapvs ping payload",
    };
    let mut payload = vec![0u8; icmp.buffer_len()];
    icmp.emit(
        &mut Icmpv4Packet::new_unchecked(&mut payload[..]),
        &ChecksumCapabilities::default(),
    );
    ipv4_frame(src, src_mac, IpProtocol::Icmp, &payload)
}

/// A machine on the director's outside link.
#[derive(Debug, Clone, Copy)]
struct Node {
    ip: Ipv4Addr,
    mac: EthernetAddress,
}

/// A TCP segment from PEER:`port` to the director.
fn segment(port: u16, dst_port: u16, control: TcpControl, seq: u32, ack: Option<u32>) -> Vec<u8> {
    segment_with(port, dst_port, control, seq, ack, b"")
}

fn segment_with(
    port: u16,
    dst_port: u16,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    segment_from(PEER_NODE, port, dst_port, control, seq, ack, payload)
}

/// A TCP segment from `from`:`port` to the director.
fn segment_from(
    from: Node,
    port: u16,
    dst_port: u16,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let ends = Endpoints {
        src_mac: from.mac,
        dst_mac: DIRECTOR_MAC,
        src: from.ip,
        src_port: port,
        dst: DIRECTOR,
        dst_port,
    };
    build::tcp_segment(ends, control, seq, ack, payload)
}

/// A segment the director sent to the peer, checksums verified.
#[derive(Debug)]
struct Seg {
    src_port: u16,
    dst_port: u16,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: Vec<u8>,
}

fn tcp_of(frame: &[u8]) -> Seg {
    tcp_to(frame, PEER_NODE)
}

/// A segment the director sent to `to`, checksums verified.
fn tcp_to(frame: &[u8], to: Node) -> Seg {
    let (ip, payload) = ipv4_of(frame, to.mac);
    assert_eq!((ip.src_addr, ip.dst_addr), (DIRECTOR, to.ip));
    assert_eq!(ip.next_header, IpProtocol::Tcp);
    let pkt = TcpPacket::new_checked(payload).unwrap();
    let (src, dst) = (IpAddress::Ipv4(DIRECTOR), IpAddress::Ipv4(to.ip));
    assert!(pkt.verify_checksum(&src, &dst), "TCP checksum");
    let repr = TcpRepr::parse(&pkt, &src, &dst, &ChecksumCapabilities::default()).unwrap();
    Seg {
        src_port: repr.src_port,
        dst_port: repr.dst_port,
        control: repr.control,
        seq: repr.seq_number.0 as u32,
        ack: repr.ack_number.map(|a| a.0 as u32),
        payload: repr.payload.to_vec(),
    }
}

fn udp_request(port: u16, dst_port: u16) -> Vec<u8> {
    build::udp_frame(
        Endpoints {
            src_mac: PEER_MAC,
            dst_mac: DIRECTOR_MAC,
            src: PEER,
            src_port: port,
            dst: DIRECTOR,
            dst_port,
        },
        b"status?",
    )
}

#[test]
fn answers_arp_for_its_own_address_with_its_mac_and_ignores_other_addresses() {
    let mut host = stack("");
    let other = build::arp_request(PEER_MAC, PEER, Ipv4Addr::new(198, 18, 0, 100));
    assert!(
        exchange(&mut host, 0, &[other]).is_empty(),
        "the VIP is not the host's"
    );
    let request = build::arp_request(PEER_MAC, PEER, DIRECTOR);
    let reply = single(exchange(&mut host, 0, &[request]));
    let eth = EthernetFrame::new_checked(&reply[..]).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (DIRECTOR_MAC, PEER_MAC));
    assert_eq!(
        arp_of(&reply),
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: DIRECTOR_MAC,
            source_protocol_addr: DIRECTOR,
            target_hardware_addr: PEER_MAC,
            target_protocol_addr: PEER,
        }
    );
    assert_eq!(host.counters().frames_in, 2);
    assert_eq!(host.counters().frames_out, 1);
}

#[test]
fn echo_requests_get_echo_replies_with_the_same_id_sequence_and_data() {
    let mut host = stack_knowing_peer();
    let reply = single(exchange(
        &mut host,
        1,
        &[echo_request(PEER, PEER_MAC, 0x1234, 7)],
    ));
    let (ip, payload) = ipv4_of(&reply, PEER_MAC);
    assert_eq!((ip.src_addr, ip.dst_addr), (DIRECTOR, PEER));
    assert_eq!(ip.next_header, IpProtocol::Icmp);
    let icmp = Icmpv4Packet::new_checked(payload).unwrap();
    assert!(icmp.verify_checksum(), "ICMP checksum");
    assert_eq!(
        Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).unwrap(),
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 7,
            data: b"tapvs ping payload",
        }
    );
}

#[test]
fn off_link_peers_are_reached_through_the_gateway_once_it_answers_arp() {
    let mut host = stack("");
    let client = Ipv4Addr::new(198, 19, 0, 7);
    // Unknown gateway: smoltcp asks for it (the ping itself is lost).
    let ask = single(exchange(
        &mut host,
        0,
        &[echo_request(client, ROUTER_MAC, 1, 1)],
    ));
    let ArpRepr::EthernetIpv4 {
        operation,
        source_protocol_addr,
        target_protocol_addr,
        ..
    } = arp_of(&ask)
    else {
        unreachable!()
    };
    assert_eq!(operation, ArpOperation::Request);
    assert_eq!(
        (source_protocol_addr, target_protocol_addr),
        (DIRECTOR, ROUTER)
    );
    // The router's answer (the data plane passes it up) teaches it; the next ping is answered.
    let answer = build::arp_reply(ROUTER_MAC, ROUTER, DIRECTOR_MAC, DIRECTOR);
    assert!(exchange(&mut host, 1, &[answer]).is_empty());
    let reply = single(exchange(
        &mut host,
        2,
        &[echo_request(client, ROUTER_MAC, 1, 2)],
    ));
    let (ip, _) = ipv4_of(&reply, ROUTER_MAC);
    assert_eq!(ip.dst_addr, client);
}

#[test]
fn a_udp_datagram_to_the_status_port_gets_the_status_line() {
    let mut host = stack_knowing_peer();
    let reply = single(exchange(&mut host, 1, &[udp_request(40000, PORT)]));
    let (ip, payload) = ipv4_of(&reply, PEER_MAC);
    assert_eq!((ip.src_addr, ip.dst_addr), (DIRECTOR, PEER));
    assert_eq!(ip.next_header, IpProtocol::Udp);
    let udp = UdpPacket::new_checked(payload).unwrap();
    assert!(
        udp.verify_checksum(&IpAddress::Ipv4(DIRECTOR), &IpAddress::Ipv4(PEER)),
        "UDP checksum"
    );
    assert_eq!((udp.src_port(), udp.dst_port()), (PORT, 40000));
    assert_eq!(udp.payload(), format!("{STATUS}\n").as_bytes());
    assert_eq!(host.counters().status_udp, 1);
}

#[test]
fn a_status_line_longer_than_the_buffer_is_cut_and_still_ends_the_line() {
    let mut host = stack_knowing_peer();
    host.handle_frame(OUT, &udp_request(40000, PORT));
    let long = "x".repeat(5000);
    let mut out = Vec::new();
    host.poll(t(1), &long, &mut |_, f| out.push(f.to_vec()));
    let (_, payload) = ipv4_of(&out[0], PEER_MAC);
    let udp = UdpPacket::new_checked(payload).unwrap();
    assert_eq!(udp.payload().len(), 1024);
    assert_eq!(udp.payload().last(), Some(&b'\n'));
}

/// A whole status connection from `port` at `ms`: SYN, SYN-ACK, ACK, the line and FIN, and
/// the client's last words with its FIN (acknowledged at once: no delayed ACK).
fn status_connection(host: &mut HostStack, ms: i64, port: u16) {
    let syn_ack = tcp_of(&single(exchange(
        host,
        ms,
        &[segment(port, PORT, TcpControl::Syn, 1000, None)],
    )));
    assert_eq!(syn_ack.control, TcpControl::Syn);
    assert_eq!((syn_ack.src_port, syn_ack.dst_port), (PORT, port));
    assert_eq!(syn_ack.ack, Some(1001), "SYN-ACK");
    let isn = syn_ack.seq;
    let ack = segment(
        port,
        PORT,
        TcpControl::None,
        1001,
        Some(isn.wrapping_add(1)),
    );
    let segs: Vec<Seg> = exchange(host, ms, &[ack])
        .iter()
        .map(|(_, f)| tcp_of(f))
        .collect();
    let data: Vec<u8> = segs.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(data, format!("{STATUS}\n").as_bytes(), "{segs:?}");
    assert!(
        segs.iter().any(|s| s.control == TcpControl::Fin),
        "closed: {segs:?}"
    );
    let after_fin = isn.wrapping_add(1 + data.len() as u32 + 1);
    let fin = segment_with(port, PORT, TcpControl::Fin, 1001, Some(after_fin), b"bye\n");
    let last = tcp_of(&single(exchange(host, ms, &[fin])));
    assert_eq!(
        (last.control, last.ack),
        (TcpControl::None, Some(1006)),
        "FIN acknowledged"
    );
}

#[test]
fn tcp_connections_to_the_status_port_get_the_line_one_after_another() {
    let mut host = stack_knowing_peer();
    // More connections than listeners: each listener is reused once its connection is over.
    for i in 0..10 {
        status_connection(&mut host, 1 + i, 40000 + i as u16);
    }
    assert_eq!(host.counters().status_tcp, 10);
    assert_eq!(
        host.poll_at(t(20)),
        None,
        "nothing pending once all is over"
    );
}

#[test]
fn four_connections_at_once_are_served_and_stalled_ones_are_reclaimed() {
    let mut host = stack_knowing_peer();
    for port in 41000..41004 {
        let syn = segment(port, PORT, TcpControl::Syn, 1000, None);
        let syn_ack = tcp_of(&single(exchange(&mut host, 1, &[syn])));
        assert_eq!(syn_ack.control, TcpControl::Syn);
    }
    // A fifth finds every listener busy.
    let syn = segment(41004, PORT, TcpControl::Syn, 1000, None);
    assert_eq!(
        tcp_of(&single(exchange(&mut host, 2, &[syn]))).control,
        TcpControl::Rst
    );
    let deadline = host.poll_at(t(3)).expect("connections in progress");
    assert!(deadline <= t(1 + 5000), "{deadline}");
    // The peers never finish: after the deadline the listeners are back.
    exchange(&mut host, 5001, &[]);
    let syn = segment(41005, PORT, TcpControl::Syn, 1000, None);
    let out = exchange(&mut host, 5002, &[syn]);
    assert!(
        out.iter()
            .any(|(_, f)| tcp_of(f).control == TcpControl::Syn),
        "{out:?}"
    );
}

#[test]
fn a_port_nothing_listens_on_answers_rst() {
    let mut host = stack_knowing_peer();
    let syn = segment(40000, 8080, TcpControl::Syn, 1000, None);
    let rst = tcp_of(&single(exchange(&mut host, 1, &[syn])));
    assert_eq!(rst.control, TcpControl::Rst);
    assert_eq!(
        (rst.src_port, rst.dst_port, rst.ack),
        (8080, 40000, Some(1001))
    );
}

#[test]
fn status_port_zero_serves_nothing() {
    let mut host = HostStack::new(&config("[host]\nstatus_port = 0"), 1, t(0)).unwrap();
    single(exchange(
        &mut host,
        0,
        &[build::arp_request(PEER_MAC, PEER, DIRECTOR)],
    ));
    let syn = segment(40000, PORT, TcpControl::Syn, 1000, None);
    assert_eq!(
        tcp_of(&single(exchange(&mut host, 1, &[syn]))).control,
        TcpControl::Rst
    );
    // UDP: an ICMP port unreachable instead of a status line.
    let (ip, _) = ipv4_of(
        &single(exchange(&mut host, 1, &[udp_request(40000, PORT)])),
        PEER_MAC,
    );
    assert_eq!(ip.next_header, IpProtocol::Icmp);
    assert_eq!(host.counters().status_udp + host.counters().status_tcp, 0);
}

#[test]
fn garbage_and_oversize_frames_are_dropped_and_counted() {
    let mut host = stack_knowing_peer();
    let mut ipv6 = build::arp_request(PEER_MAC, PEER, DIRECTOR);
    ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut noise = udp_request(40000, PORT);
    noise[14..]
        .iter_mut()
        .enumerate()
        .for_each(|(i, b)| *b = (i * 37) as u8);
    let mut huge = udp_request(40000, PORT);
    huge.resize(phy::SLOT_LEN + 1, 0);
    let frames = [vec![], vec![0xff; 5], ipv6, noise, huge];
    assert!(exchange(&mut host, 1, &frames).is_empty());
    let c = *host.counters();
    assert_eq!(c.dropped_malformed, 3, "{c:?}");
    assert_eq!(c.dropped_oversize, 1, "{c:?}");
    assert_eq!(
        c.frames_in, 2,
        "the ARP request before, and the noise smoltcp drops"
    );
    // Still serving.
    single(exchange(&mut host, 2, &[udp_request(40001, PORT)]));
    // A frame for an interface the director does not have.
    host.handle_frame(Iface(7), &udp_request(40002, PORT));
    assert_eq!(host.counters().dropped_malformed, 4);
}

#[test]
fn a_full_ring_drops_and_counts_until_the_next_poll() {
    let mut host = stack("");
    let request = build::arp_request(PEER_MAC, PEER, DIRECTOR);
    for _ in 0..phy::RING_SLOTS + 3 {
        host.handle_frame(OUT, &request);
    }
    assert_eq!(host.counters().dropped_full, 3);
    assert_eq!(
        host.poll_at(t(0)),
        Some(t(0)),
        "queued frames: poll at once"
    );
    assert_eq!(
        exchange(&mut host, 0, &[]).len(),
        phy::RING_SLOTS,
        "each queued one answered"
    );
    assert_eq!(exchange(&mut host, 0, &[request]).len(), 1, "room again");
    assert_eq!(host.counters().frames_in, phy::RING_SLOTS as u64 + 1);
    assert_eq!(host.poll_at(t(1)), None, "idle");
}

#[test]
fn the_inside_interface_has_its_own_address_and_mac() {
    let inside = "[inside]\nname = \"d1i\"\nmac = \"02:74:76:00:01:02\"\naddress = \"198.18.1.2\"\n\
                  prefix_len = 24\n";
    let mut host = stack(inside);
    assert_eq!(host.iface_for(Ipv4Addr::new(198, 18, 1, 20)), Iface::INSIDE);
    assert_eq!(host.iface_for(Ipv4Addr::new(198, 18, 0, 20)), OUT);
    assert_eq!(host.iface_for(Ipv4Addr::new(198, 19, 0, 20)), OUT);
    let server = Ipv4Addr::new(198, 18, 1, 20);
    host.handle_frame(Iface::INSIDE, &build::arp_request(PEER_MAC, server, INSIDE));
    // Asked on the outside for the inside address: not answered there.
    host.handle_frame(OUT, &build::arp_request(PEER_MAC, PEER, INSIDE));
    let mut out = Vec::new();
    host.poll(t(0), STATUS, &mut |iface, f| out.push((iface, f.to_vec())));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].0, Iface::INSIDE);
    let ArpRepr::EthernetIpv4 {
        source_hardware_addr,
        source_protocol_addr,
        ..
    } = arp_of(&out[0].1)
    else {
        unreachable!()
    };
    assert_eq!(
        (source_hardware_addr, source_protocol_addr),
        (INSIDE_MAC, INSIDE)
    );
    assert!(host.sockets_mut(Iface::INSIDE).is_some());
    assert!(host.sockets_mut(Iface(2)).is_none());
}
