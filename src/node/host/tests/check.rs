//! Health checks against a fake real server at 198.18.0.11: it answers the stack's ARP, then
//! SYN-ACK, RST, data and FIN as a real server would. Hand-made frames, hand-moved clock.

use super::*;
use crate::node::host::check::{CheckError, CheckSpec};
use std::net::SocketAddrV4;

const SERVER: Node = Node {
    ip: Ipv4Addr::new(198, 18, 0, 11),
    mac: EthernetAddress([0x02, 0, 0, 0, 0, 0x11]),
};
/// The server's initial sequence number.
const ISN: u32 = 5000;
const REQUEST: &[u8] = b"GET /health HTTP/1.0\r\nHost: 198.18.0.11\r\nConnection: close\r\n\r\n";

fn http(body_contains: Option<&str>) -> CheckSpec {
    CheckSpec::Http {
        path: "/health".into(),
        status_min: 200,
        status_max: 299,
        body_contains: body_contains.map(String::from),
    }
}

fn udp(expect: Option<&[u8]>) -> CheckSpec {
    CheckSpec::Udp {
        request: b"ping".to_vec(),
        expect: expect.map(<[u8]>::to_vec),
    }
}

/// Adds a check of the server's `port` and starts it: the stack asks for the server's MAC, the
/// server answers, the first frame of the attempt comes out and is returned.
fn start(host: &mut HostStack, spec: CheckSpec, port: u16) -> (usize, Vec<u8>) {
    let i = host.add_check(spec, SocketAddrV4::new(SERVER.ip, port));
    assert!(!host.check_running(i));
    host.start_check(i).unwrap();
    assert!(host.check_running(i));
    assert_eq!(host.poll_at(t(0)), Some(t(0)), "something to send");
    let ArpRepr::EthernetIpv4 {
        operation,
        target_protocol_addr,
        ..
    } = arp_of(&single(exchange(host, 0, &[])))
    else {
        unreachable!()
    };
    assert_eq!(
        (operation, target_protocol_addr),
        (ArpOperation::Request, SERVER.ip)
    );
    let reply = build::arp_reply(SERVER.mac, SERVER.ip, DIRECTOR_MAC, DIRECTOR);
    let first = single(exchange(host, 1, &[reply]));
    assert_eq!(host.check_result(i), None, "undecided");
    (i, first)
}

/// A TCP check's SYN: from a check port to `port`.
fn syn_of(frame: &[u8], port: u16) -> Seg {
    let syn = tcp_to(frame, SERVER);
    assert_eq!(
        (syn.control, syn.ack, syn.dst_port),
        (TcpControl::Syn, None, port)
    );
    assert!(syn.src_port >= 49152, "{syn:?}");
    syn
}

/// A segment from the server's `port` to the check's SYN.
fn reply(syn: &Seg, control: TcpControl, seq: u32, ack: u32, payload: &[u8]) -> Vec<u8> {
    let ack = Some(syn.seq.wrapping_add(ack));
    segment_from(
        SERVER,
        syn.dst_port,
        syn.src_port,
        control,
        seq,
        ack,
        payload,
    )
}

/// What the stack sent to the server.
fn to_server(out: &[(Iface, Vec<u8>)]) -> Vec<Seg> {
    out.iter().map(|(_, f)| tcp_to(f, SERVER)).collect()
}

#[test]
fn tcp_check_is_up_when_the_handshake_completes_then_resets() {
    let mut host = stack("");
    let (i, first) = start(&mut host, CheckSpec::Tcp, 80);
    let syn = syn_of(&first, 80);
    let out = to_server(&exchange(
        &mut host,
        2,
        &[reply(&syn, TcpControl::Syn, ISN, 1, b"")],
    ));
    assert_eq!(host.check_result(i), Some(Ok(())));
    assert_eq!(host.check_result(i), None, "once");
    assert!(!host.check_running(i));
    let controls: Vec<_> = out.iter().map(|s| (s.control, s.seq)).collect();
    let next = syn.seq.wrapping_add(1);
    assert_eq!(
        controls,
        [(TcpControl::None, next), (TcpControl::Rst, next)],
        "ACK, RST"
    );
    assert_eq!(host.poll_at(t(3)), None, "the socket is free");
}

#[test]
fn tcp_check_is_refused_by_a_rst_ack_and_a_bare_rst_is_ignored() {
    let mut host = stack("");
    let (i, first) = start(&mut host, CheckSpec::Tcp, 80);
    let syn = syn_of(&first, 80);
    // smoltcp takes only a RST that acknowledges the SYN (RFC 793) in SYN-SENT.
    let bare = segment_from(SERVER, 80, syn.src_port, TcpControl::Rst, 0, None, b"");
    assert!(exchange(&mut host, 2, &[bare]).is_empty());
    assert_eq!(host.check_result(i), None);
    assert!(exchange(&mut host, 3, &[reply(&syn, TcpControl::Rst, 0, 1, b"")]).is_empty());
    assert_eq!(host.check_result(i), Some(Err(CheckError::Refused)));
    assert_eq!(host.check_result(i), None, "once");
}

/// An HTTP check connected: returns the check and the SYN, the request checked.
fn http_connected(host: &mut HostStack, spec: CheckSpec) -> (usize, Seg) {
    let (i, first) = start(host, spec, 80);
    let syn = syn_of(&first, 80);
    let out = to_server(&exchange(
        host,
        2,
        &[reply(&syn, TcpControl::Syn, ISN, 1, b"")],
    ));
    let request: Vec<u8> = out.iter().flat_map(|s| s.payload.clone()).collect();
    assert_eq!(request, REQUEST, "{out:?}");
    assert!(
        out.iter()
            .all(|s| matches!(s.control, TcpControl::None | TcpControl::Psh)),
        "ACK, request: {out:?}"
    );
    assert_eq!(host.check_result(i), None, "no answer yet");
    (i, syn)
}

/// The server's answer to the request (with FIN if `fin`), what the stack sent back.
fn answer(host: &mut HostStack, ms: i64, syn: &Seg, data: &[u8], seq: u32, fin: bool) -> Vec<Seg> {
    let control = if fin {
        TcpControl::Fin
    } else {
        TcpControl::None
    };
    let ack = 1 + REQUEST.len() as u32;
    let segment = reply(syn, control, ISN + 1 + seq, ack, data);
    to_server(&exchange(host, ms, &[segment]))
}

#[test]
fn http_check_is_up_on_a_2xx_whose_body_has_the_text_without_waiting_for_the_close() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(Some("all is well")));
    let head = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    answer(&mut host, 3, &syn, head, 0, false);
    assert_eq!(host.check_result(i), None, "no body yet");
    let out = answer(
        &mut host,
        4,
        &syn,
        b"all is well\n",
        head.len() as u32,
        false,
    );
    assert_eq!(host.check_result(i), Some(Ok(())));
    assert!(
        out.iter().any(|s| s.control == TcpControl::Rst),
        "aborted: {out:?}"
    );
}

#[test]
fn http_check_without_the_body_text_is_content_once_the_server_closes() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(Some("all is well")));
    // The text in a header does not count.
    let head = b"HTTP/1.1 200 OK\r\nX-Note: all is well\r\n\r\nnothing";
    answer(&mut host, 3, &syn, head, 0, false);
    assert_eq!(host.check_result(i), None, "more may come");
    answer(&mut host, 4, &syn, b" here\n", head.len() as u32, true);
    assert_eq!(host.check_result(i), Some(Err(CheckError::Content)));
}

#[test]
fn http_check_is_up_on_the_status_alone_without_a_body_text() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(None));
    answer(&mut host, 3, &syn, b"HTTP/1.0 204 No Content\r\n", 0, false);
    assert_eq!(host.check_result(i), Some(Ok(())));
}

#[test]
fn http_check_with_a_status_out_of_range_fails_with_it() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(Some("all is well")));
    answer(
        &mut host,
        3,
        &syn,
        b"HTTP/1.0 503 Service Unavailable\r\n",
        0,
        false,
    );
    assert_eq!(host.check_result(i), Some(Err(CheckError::Status(503))));
}

#[test]
fn http_check_of_a_server_that_closes_without_answering_is_closed() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(None));
    answer(&mut host, 3, &syn, b"HTTP/1.0 20", 0, false);
    assert_eq!(host.check_result(i), None, "half a status line");
    answer(&mut host, 4, &syn, b"", 11, true);
    assert_eq!(host.check_result(i), Some(Err(CheckError::Closed)));
}

#[test]
fn http_check_of_something_else_than_http_is_malformed() {
    let mut host = stack("");
    let (i, syn) = http_connected(&mut host, http(None));
    answer(&mut host, 3, &syn, b"SSH-2.0-OpenSSH_9.6\r\n", 0, false);
    assert_eq!(host.check_result(i), Some(Err(CheckError::Malformed)));
}

/// A UDP check's request, checked; returns the check's local port.
fn udp_request_of(frame: &[u8]) -> u16 {
    let (ip, payload) = ipv4_of(frame, SERVER.mac);
    assert_eq!((ip.dst_addr, ip.next_header), (SERVER.ip, IpProtocol::Udp));
    let udp = UdpPacket::new_checked(payload).unwrap();
    assert_eq!((udp.dst_port(), udp.payload()), (53, &b"ping"[..]));
    assert!(udp.src_port() >= 49152);
    udp.src_port()
}

/// A datagram from the server's `src_port` to the check's `port`.
fn datagram(src_port: u16, port: u16, payload: &[u8]) -> Vec<u8> {
    let ends = Endpoints {
        src_mac: SERVER.mac,
        dst_mac: DIRECTOR_MAC,
        src: SERVER.ip,
        src_port,
        dst: DIRECTOR,
        dst_port: port,
    };
    build::udp_frame(ends, payload)
}

#[test]
fn udp_check_is_up_when_the_target_answers_with_the_text() {
    let mut host = stack("");
    let (i, first) = start(&mut host, udp(Some(b"pong")), 53);
    let port = udp_request_of(&first);
    // Not from the target's port: ignored.
    exchange(&mut host, 2, &[datagram(54, port, b"pong")]);
    assert_eq!(host.check_result(i), None);
    exchange(&mut host, 3, &[datagram(53, port, b"a pong!")]);
    assert_eq!(host.check_result(i), Some(Ok(())));
    assert_eq!(host.check_result(i), None, "once");
    assert!(!host.check_running(i));
}

#[test]
fn udp_check_answered_without_the_text_is_content() {
    let mut host = stack("");
    let (i, first) = start(&mut host, udp(Some(b"pong")), 53);
    let port = udp_request_of(&first);
    exchange(&mut host, 2, &[datagram(53, port, b"nope")]);
    assert_eq!(host.check_result(i), Some(Err(CheckError::Content)));
}

#[test]
fn a_cancelled_check_resets_and_starts_again_from_another_port() {
    let mut host = stack("");
    let (i, first) = start(&mut host, CheckSpec::Tcp, 80);
    let old = syn_of(&first, 80);
    // The server is silent: the caller times the attempt out.
    host.cancel_check(i);
    assert!(!host.check_running(i));
    let rst = tcp_to(&single(exchange(&mut host, 1000, &[])), SERVER);
    assert_eq!((rst.control, rst.src_port), (TcpControl::Rst, old.src_port));
    assert_eq!(host.check_result(i), None, "nothing after a cancel");
    host.start_check(i).unwrap();
    let syn = syn_of(&single(exchange(&mut host, 1001, &[])), 80);
    assert_ne!(syn.src_port, old.src_port, "a new local port");
    // The late answer to the old attempt is not this one's.
    let late = reply(&old, TcpControl::Syn, ISN, 1, b"");
    exchange(&mut host, 1002, &[late]);
    assert_eq!(host.check_result(i), None);
    exchange(
        &mut host,
        1003,
        &[reply(&syn, TcpControl::Syn, ISN, 1, b"")],
    );
    assert_eq!(host.check_result(i), Some(Ok(())));
}

#[test]
fn check_ports_go_round_and_skip_the_status_port() {
    let mut host = stack("[host]\nstatus_port = 65535");
    host.next_check_port = 65534;
    let ports: Vec<u16> = (0..3).map(|_| host.next_check_port()).collect();
    assert_eq!(ports, [65534, 49152, 49153]);
}
