//! A killed server as Linux closes its sockets: FIN when nothing was left unread (then RST to
//! what comes later), RST when data was left unread. A bare TCP peer drives the server.

use super::peer::{Peer, run};
use super::{Log, ServerState, server};
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpPacket};

/// The server's segments in `log` after `at`: (FIN, RST) flags.
fn segments(log: &Log, at: Instant) -> Vec<(bool, bool)> {
    let flags = |f: &[u8]| {
        let eth = EthernetFrame::new_checked(f).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        Some((tcp.fin(), tcp.rst()))
    };
    let server = log.iter().filter(|(t, n, _)| *n == 1 && *t >= at);
    server.filter_map(|(_, _, f)| flags(f)).collect()
}

const GET: &[u8] = b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn killed_with_nothing_unread_sends_fin_then_rst_to_later_data() {
    let (mut peer, mut server, mut log) = (Peer::new(4096), server(true), Log::new());
    run(&mut peer, &mut server, 10, &mut log);
    peer.sock().send_slice(GET).expect("sent");
    run(&mut peer, &mut server, 20, &mut log);
    let mut buf = [0; 2048];
    assert!(peer.sock().recv_slice(&mut buf).expect("an answer") > 10);
    let killed = Instant::from_millis(20);
    server.set_state(killed, ServerState::Killed);
    run(&mut peer, &mut server, 30, &mut log);
    assert_eq!(segments(&log, killed), [(true, false)], "a FIN, no RST");
    assert!(!peer.sock().may_recv(), "the peer saw the FIN");
    // The peer still writes: the dead socket answers with an RST.
    peer.sock().send_slice(GET).expect("sent");
    run(&mut peer, &mut server, 40, &mut log);
    assert_eq!(segments(&log, killed), [(true, false), (false, true)]);
    assert_eq!(peer.sock().state(), tcp::State::Closed, "reset");
}

#[test]
fn killed_with_data_unread_sends_rst() {
    let (mut peer, mut server, mut log) = (Peer::new(4096), server(true), Log::new());
    run(&mut peer, &mut server, 10, &mut log);
    // A large answer the peer never reads, so the server never reads the second request.
    peer.sock()
        .send_slice(b"GET /bytes/1000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("sent");
    run(&mut peer, &mut server, 20, &mut log);
    peer.sock().send_slice(GET).expect("sent");
    run(&mut peer, &mut server, 30, &mut log);
    let killed = Instant::from_millis(30);
    server.set_state(killed, ServerState::Killed);
    run(&mut peer, &mut server, 40, &mut log);
    assert_eq!(segments(&log, killed), [(false, true)], "an RST, no FIN");
    assert_eq!(server.stats().requests, 1);
}
