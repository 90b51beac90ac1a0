//! A server whose listen queue is full answers SYNs with cookies: a valid cookie ACK makes a
//! connection that serves through the shifted sequence numbers, an invalid one gets an RST.
//! Frames are written and read by hand, one at a time.

use super::{CLIENT, SERVER, SimServer, VIP, server};
use crate::emu::Node;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr,
    TcpSeqNumber, TcpTimestampRepr,
};

pub(super) const CLIENT_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
pub(super) const SERVER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 11]);
const GET: &[u8] = b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n";

/// What a test reads of a segment the server sent.
#[derive(Debug)]
struct Seen {
    dst_mac: EthernetAddress,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    tsval: Option<u32>,
    window_scale: Option<u8>,
    payload: Vec<u8>,
}

/// A segment from `src` (port `sport`) to the VIP's port 80, in a frame to the server.
fn segment(src: Ipv4Address, sport: u16, seq: u32, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let control = match ack {
        None => TcpControl::Syn,
        Some(_) => TcpControl::Psh,
    };
    segment_with(control, src, sport, seq, ack, payload)
}

/// The same with `control`'s flag.
pub(super) fn segment_with(
    control: TcpControl,
    src: Ipv4Address,
    sport: u16,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let syn = ack.is_none();
    let tcp = TcpRepr {
        src_port: sport,
        dst_port: 80,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 1000,
        window_scale: syn.then_some(7),
        max_seg_size: syn.then_some(1460),
        sack_permitted: syn,
        sack_ranges: [None; 3],
        timestamp: Some(TcpTimestampRepr::new(5, ack.map_or(0, |_| 7))),
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: VIP,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let mut buf = vec![0; 14 + 20 + tcp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet, &caps);
    let mut tcp_packet = TcpPacket::new_unchecked(packet.payload_mut());
    tcp.emit(&mut tcp_packet, &src.into(), &VIP.into(), &caps);
    buf
}

/// Gives the server `frame` at `ms`, then every TCP segment it sent (checksums checked).
fn exchange(server: &mut SimServer, ms: i64, frame: &mut [u8]) -> Vec<Seen> {
    let now = Instant::from_millis(ms);
    server.handle_frame(now, 0, frame);
    let mut seen = Vec::new();
    let mut buf = [0; 1514];
    while let Some((_, len)) = server.poll_transmit(now, &mut buf) {
        let eth = EthernetFrame::new_checked(&buf[..len]).expect("Ethernet");
        let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
            continue;
        };
        let tcp = TcpPacket::new_checked(ip.payload()).expect("TCP");
        let caps = ChecksumCapabilities::default();
        let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
        let repr = TcpRepr::parse(&tcp, &src, &dst, &caps).expect("a valid checksum");
        seen.push(Seen {
            dst_mac: eth.dst_addr(),
            control: repr.control,
            seq: repr.seq_number.0 as u32,
            ack: repr.ack_number.map(|a| a.0 as u32),
            tsval: repr.timestamp.map(|t| t.tsval),
            window_scale: repr.window_scale,
            payload: repr.payload.to_vec(),
        });
    }
    seen
}

/// rs1 with a listen queue of one, knowing its gateway (the client), its queue filled by a
/// SYN from a source that never answers.
fn full_server() -> SimServer {
    let mut server = server(true);
    server.queue.backlog = 1;
    learn_gateway(&mut server);
    let spoofed = Ipv4Address::new(198, 19, 200, 1);
    let sent = exchange(&mut server, 1, &mut segment(spoofed, 2000, 100, None, &[]));
    assert_eq!(sent.len(), 1, "smoltcp's own SYN-ACK: {sent:?}");
    assert_eq!(server.stats().accepted, 1);
    server
}

/// Teaches `server` its gateway's MAC (the client's): an ARP request for it at 0 ms.
pub(super) fn learn_gateway(server: &mut SimServer) {
    let arp = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: CLIENT_MAC,
        source_protocol_addr: CLIENT,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: SERVER,
    };
    let mut frame = vec![0; 14 + arp.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Arp,
    }
    .emit(&mut eth);
    arp.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    exchange(server, 0, &mut frame);
}

const REAL: Ipv4Address = Ipv4Address::new(198, 19, 0, 9);

#[test]
fn a_full_queue_answers_with_a_cookie_and_keeps_nothing() {
    let mut server = full_server();
    let sent = exchange(&mut server, 2, &mut segment(REAL, 3000, 500, None, &[]));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let syn_ack = &sent[0];
    assert_eq!((syn_ack.control, syn_ack.ack), (TcpControl::Syn, Some(501)));
    assert_eq!(syn_ack.dst_mac, CLIENT_MAC, "through the gateway");
    // Timestamps on: the client's window scale and SACK ride in the TSval.
    assert_eq!(syn_ack.tsval.map(|t| t & 0x1f), Some(0x17));
    assert_eq!(syn_ack.window_scale, Some(0));
    assert_eq!(server.stats().accepted, 1, "no socket for the cookie's SYN");
    assert_eq!(server.queue.stats.sent, 1);
}

#[test]
fn a_valid_cookie_ack_makes_a_connection_that_serves() {
    let mut server = full_server();
    let sent = exchange(&mut server, 2, &mut segment(REAL, 3000, 500, None, &[]));
    let cookie = sent[0].seq;
    let mut ack = segment(REAL, 3000, 501, Some(cookie.wrapping_add(1)), &[]);
    let sent = exchange(&mut server, 3, &mut ack);
    assert!(
        sent.is_empty(),
        "the listener's own SYN-ACK is not sent: {sent:?}"
    );
    assert_eq!(server.stats().accepted, 2);
    assert_eq!(server.queue.stats.accepted, 1);
    let mut get = segment(REAL, 3000, 501, Some(cookie.wrapping_add(1)), GET);
    let sent = exchange(&mut server, 4, &mut get);
    let answer = sent
        .iter()
        .find(|s| !s.payload.is_empty())
        .expect("an answer");
    assert!(answer.payload.starts_with(b"HTTP/1.1 200"), "{answer:?}");
    assert_eq!(
        answer.seq,
        cookie.wrapping_add(1),
        "in the cookie's sequence space"
    );
    assert_eq!(answer.ack, Some(501 + GET.len() as u32));
    assert_eq!(server.stats().requests, 1);
}

#[test]
fn an_invalid_cookie_ack_gets_a_reset_and_no_connection() {
    let mut server = full_server();
    let sent = exchange(&mut server, 2, &mut segment(REAL, 3000, 500, None, &[]));
    let wrong = sent[0].seq.wrapping_add(2);
    let sent = exchange(
        &mut server,
        3,
        &mut segment(REAL, 3000, 501, Some(wrong), &[]),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].control, TcpControl::Rst);
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.queue.stats.invalid, 1);
}

#[test]
fn a_cookie_connection_closes_in_the_cookie_space() {
    let mut server = full_server();
    let sent = exchange(&mut server, 2, &mut segment(REAL, 3000, 500, None, &[]));
    let ack = sent[0].seq.wrapping_add(1);
    exchange(
        &mut server,
        3,
        &mut segment(REAL, 3000, 501, Some(ack), &[]),
    );
    let get = b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let sent = exchange(
        &mut server,
        4,
        &mut segment(REAL, 3000, 501, Some(ack), get),
    );
    let fin = sent
        .iter()
        .find(|s| s.control == TcpControl::Fin)
        .expect("closed");
    let after = fin.seq.wrapping_add(1);
    let seq = 501 + get.len() as u32;
    let mut last = segment_with(TcpControl::Fin, REAL, 3000, seq, Some(after), &[]);
    let sent = exchange(&mut server, 5, &mut last);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        (sent[0].seq, sent[0].ack),
        (after, Some(seq + 1)),
        "the last ACK"
    );
}

/// The server's deadline is kept across SYNs answered with cookies (they leave its stack
/// alone), and the request sock still retransmits its SYN-ACK at it, unstepped (it waits for
/// the handshake's ACK): after it, the deadline is the next retransmission.
#[test]
fn cookie_answers_keep_the_request_socks_retransmission_due() {
    let mut server = full_server();
    let first = server
        .poll_timeout()
        .expect("the request sock's SYN-ACK retransmission");
    assert_eq!(first, Instant::from_millis(1001), "1 s after its SYN");
    for port in 3000..3010 {
        let sent = exchange(&mut server, 2, &mut segment(REAL, port, 500, None, &[]));
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(server.poll_timeout(), Some(first));
    }
    server.handle_timeout(first);
    let mut buf = [0; 1514];
    let mut frames = 0;
    while server.poll_transmit(first, &mut buf).is_some() {
        frames += 1;
    }
    assert_eq!(frames, 1, "the SYN-ACK again");
    let next = server.poll_timeout().expect("the next retransmission");
    assert!(
        next > first + smoltcp::time::Duration::from_millis(1500),
        "{next}"
    );
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.queue.stats.sent, 10);
}
