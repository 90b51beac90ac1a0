//! What a request sock (a listener's socket in SYN-RECEIVED, below the backlog) does today,
//! byte for byte and microsecond for microsecond: the contract a lighter request sock (a
//! record in the listen queue, its SYN-ACKs written by [`write_bare`]) must keep. Its SYN-ACK
//! is the one the bare writer writes from the SYN, it leaves again unchanged after 1, 3, 7,
//! 15 s; a duplicate SYN is dropped, an ACK with a wrong number gets an RST and leaves the
//! request sock be, an RST turns its socket back into a listener (smoltcp's passive open).

use super::cookies::{CLIENT_MAC, SERVER_MAC, learn_gateway, segment_with};
use super::{SimServer, VIP, server};
use crate::emu::Node;
use crate::emu::host::bare_frame::write_bare;
use crate::emu::host::cookie_frames::write;
use smoltcp::time::Instant;
use smoltcp::wire::{
    EthernetFrame, Ipv4Address, Ipv4Packet, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    TcpTimestampRepr,
};

const SPOOFED: Ipv4Address = Ipv4Address::new(198, 19, 200, 1);

/// Gives the server `frame` at `now` (if any), runs its timer if due, and returns the frames
/// it sent, whole.
fn frames(server: &mut SimServer, now: Instant, frame: Option<&mut [u8]>) -> Vec<Vec<u8>> {
    match frame {
        Some(f) => {
            server.handle_frame(now, 0, f);
        }
        None => server.handle_timeout(now),
    }
    let mut out = Vec::new();
    let mut buf = [0; 1514];
    while let Some((_, len)) = server.poll_transmit(now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

/// The TCP header of `frame`, parsed (its checksum checked).
fn tcp(frame: &[u8]) -> TcpRepr<'_> {
    let eth = EthernetFrame::new_checked(frame).expect("Ethernet");
    let ip = Ipv4Packet::new_checked(eth.payload()).expect("IPv4");
    let (src, dst) = (ip.src_addr().into(), ip.dst_addr().into());
    let tcp = TcpPacket::new_checked(&frame[14 + usize::from(ip.header_len())..]).expect("TCP");
    let caps = smoltcp::phy::ChecksumCapabilities::default();
    TcpRepr::parse(&tcp, &src, &dst, &caps).expect("a valid checksum")
}

/// A SYN from [`SPOOFED`] port `sport` to the VIP with the options chosen by `shape`'s bits
/// (MSS, window scale, SACK, timestamps).
fn syn(sport: u16, shape: u8) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: 80,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(100),
        ack_number: None,
        window_len: 64240,
        max_seg_size: (shape & 1 != 0).then_some(1400),
        window_scale: (shape & 2 != 0).then_some(7),
        sack_permitted: shape & 4 != 0,
        sack_ranges: [None; 3],
        timestamp: (shape & 8 != 0).then(|| TcpTimestampRepr::new(55, 0)),
        payload: &[],
    };
    let mut buf = vec![0; 14 + 20 + 60];
    let len = write(&mut buf, (CLIENT_MAC, SERVER_MAC), SPOOFED, VIP, &repr);
    buf.truncate(len);
    buf
}

/// A server that knows its gateway (the client) and holds one request sock, from a SYN of
/// [`SPOOFED`] port 2000 (all options) at 1 ms; its SYN-ACK.
fn with_request_sock() -> (SimServer, Vec<u8>) {
    let mut server = server(true);
    learn_gateway(&mut server);
    let sent = frames(
        &mut server,
        Instant::from_millis(1),
        Some(&mut syn(2000, 15)),
    );
    assert_eq!(sent.len(), 1, "one SYN-ACK");
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.parked(), 1, "its retransmissions leave from a copy");
    (server, sent[0].clone())
}

#[test]
fn the_syn_ack_is_the_one_the_bare_writer_writes() {
    let mut server = server(true);
    learn_gateway(&mut server);
    for shape in 0..16 {
        let now = Instant::from_millis(1 + i64::from(shape));
        let sent = frames(
            &mut server,
            now,
            Some(&mut syn(2000 + u16::from(shape), shape)),
        );
        assert_eq!(sent.len(), 1, "shape {shape}");
        let got = tcp(&sent[0]);
        let ts = shape & 8 != 0;
        let want = TcpRepr {
            src_port: 80,
            dst_port: 2000 + u16::from(shape),
            control: TcpControl::Syn,
            // The ISN is smoltcp's draw.
            seq_number: got.seq_number,
            ack_number: Some(TcpSeqNumber(101)),
            // The receive buffer (4 KiB): no scaling needed, the shift is 0.
            window_len: 4096,
            window_scale: (shape & 2 != 0).then_some(0),
            max_seg_size: Some(1460),
            sack_permitted: shape & 4 != 0,
            sack_ranges: [None; 3],
            timestamp: ts.then(|| TcpTimestampRepr::new(crate::emu::host::acks::TSVAL, 55)),
            payload: &[],
        };
        let mut buf = [0; 14 + 20 + 60];
        let len = write_bare(&mut buf, (SERVER_MAC, CLIENT_MAC), VIP, SPOOFED, &want);
        assert_eq!(sent[0], buf[..len], "shape {shape}: {got:?}");
    }
    assert_eq!(server.stats().accepted, 16);
    assert_eq!(server.queue.stats.sent, 0, "no cookie");
}

#[test]
fn the_syn_ack_leaves_again_unchanged_after_1_3_7_and_15_s() {
    let (mut server, first) = with_request_sock();
    let mut due = Vec::new();
    for _ in 0..4 {
        let at = server.poll_timeout().expect("a retransmission due");
        let sent = frames(&mut server, at, None);
        assert_eq!(sent, std::slice::from_ref(&first), "at {at}");
        due.push(at.total_millis());
    }
    assert_eq!(due, [1001, 3001, 7001, 15001]);
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.parked(), 1);
}

#[test]
fn a_duplicate_syn_is_dropped_and_the_schedule_kept() {
    let (mut server, first) = with_request_sock();
    let sent = frames(
        &mut server,
        Instant::from_millis(500),
        Some(&mut syn(2000, 15)),
    );
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(1001)));
    let sent = frames(&mut server, Instant::from_millis(1001), None);
    assert_eq!(sent, [first]);
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn an_ack_with_a_wrong_number_gets_an_rst_and_the_request_sock_stays() {
    let (mut server, first) = with_request_sock();
    let isn = tcp(&first).seq_number.0 as u32;
    let wrong = isn.wrapping_add(7);
    let mut ack = segment_with(TcpControl::None, SPOOFED, 2000, 101, Some(wrong), &[]);
    let sent = frames(&mut server, Instant::from_millis(2), Some(&mut ack));
    assert_eq!(sent.len(), 1, "{sent:?}");
    let rst = tcp(&sent[0]);
    assert_eq!(
        (rst.control, rst.seq_number.0 as u32),
        (TcpControl::Rst, wrong)
    );
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(1001)));
    // The right ACK still ends the handshake: nothing is sent, no retransmission is due.
    let right = isn.wrapping_add(1);
    let mut ack = segment_with(TcpControl::None, SPOOFED, 2000, 101, Some(right), &[]);
    let sent = frames(&mut server, Instant::from_millis(3), Some(&mut ack));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(server.poll_timeout(), None);
    assert_eq!(server.stats().accepted, 1);
}

#[test]
fn an_rst_makes_the_request_socks_socket_listen_again() {
    let (mut server, first) = with_request_sock();
    let isn = tcp(&first).seq_number.0 as u32;
    let mut rst = segment_with(TcpControl::Rst, SPOOFED, 2000, 101, Some(isn + 1), &[]);
    let sent = frames(&mut server, Instant::from_millis(2), Some(&mut rst));
    assert!(sent.is_empty(), "{sent:?}");
    assert_eq!(server.poll_timeout(), None, "no retransmission left");
    // Its socket (the first) listens again and takes the next SYN, uncounted: its slot
    // still holds the connection it accepted.
    let sent = frames(
        &mut server,
        Instant::from_millis(3),
        Some(&mut syn(2001, 15)),
    );
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(server.stats().accepted, 1);
}

/// A request sock unparked after two retransmissions from its copy (by an ACK with a wrong
/// number) goes on as smoltcp's own: its next retransmission is at 7 s, not at once.
#[test]
fn unparked_late_a_request_sock_keeps_its_schedule() {
    let (mut server, first) = with_request_sock();
    for ms in [1001, 3001] {
        let sent = frames(&mut server, Instant::from_millis(ms), None);
        assert_eq!(sent, std::slice::from_ref(&first));
    }
    let isn = tcp(&first).seq_number.0 as u32;
    let wrong = isn.wrapping_add(7);
    let mut ack = segment_with(TcpControl::None, SPOOFED, 2000, 101, Some(wrong), &[]);
    let sent = frames(&mut server, Instant::from_millis(4000), Some(&mut ack));
    assert_eq!(sent.len(), 1, "the RST alone: {sent:?}");
    assert_eq!(server.parked(), 0);
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(7001)));
    let sent = frames(&mut server, Instant::from_millis(7001), None);
    assert_eq!(sent, [first]);
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(15001)));
}
