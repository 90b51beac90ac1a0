//! `tapvs probe` against std servers on the loopback: an answer, a refusal and silence, over
//! TCP and UDP.

use super::*;
use std::io::Write;
use std::net::TcpListener;

const SHORT: Duration = Duration::from_millis(200);

#[test]
fn tcp_reads_the_line_the_server_writes_before_closing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"{\"state\":\"master\"}\n").unwrap();
    });
    let line = probe(target, false, Duration::from_secs(2)).unwrap();
    assert_eq!(line, "{\"state\":\"master\"}");
    server.join().unwrap();
}

#[test]
fn tcp_refused_and_silent_servers_are_told_apart() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = closed.local_addr().unwrap();
    drop(closed);
    let err = probe(target, false, SHORT).unwrap_err();
    assert!(matches!(err, ProbeError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("refused"));
    // The kernel completes the handshake from the backlog; nobody ever writes.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = probe(silent.local_addr().unwrap(), false, SHORT).unwrap_err();
    assert!(matches!(err, ProbeError::Timeout { ms: 200, .. }), "{err}");
}

#[test]
fn udp_gets_the_line_sent_back() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], UDP_REQUEST);
        server.send_to(b"{\"conns\":3}\n", from).unwrap();
    });
    assert_eq!(
        probe(target, true, Duration::from_secs(2)).unwrap(),
        "{\"conns\":3}"
    );
    thread.join().unwrap();
}

#[test]
fn udp_refused_and_silent_ports_are_told_apart() {
    let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = closed.local_addr().unwrap();
    drop(closed);
    let err = probe(target, true, SHORT).unwrap_err();
    assert!(matches!(err, ProbeError::Refused { .. }), "{err}");
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = probe(silent.local_addr().unwrap(), true, SHORT).unwrap_err();
    assert!(matches!(err, ProbeError::Timeout { .. }), "{err}");
}

#[test]
fn an_empty_answer_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let target = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || drop(listener.accept().unwrap()));
    let err = probe(target, false, Duration::from_secs(2)).unwrap_err();
    assert!(matches!(err, ProbeError::Empty { .. }), "{err}");
    server.join().unwrap();
}
