//! A killed server as Linux closes its sockets: FIN when nothing was left unread (then RST to
//! what comes later), RST when data was left unread. A bare TCP peer drives the server.

use super::{CLIENT, Log, Own, SERVER, ServerState, SimServer, server};
use crate::emu::Node;
use crate::emu::host::stack::Stack;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, EthernetFrame, IpEndpoint, Ipv4Cidr, Ipv4Packet, TcpPacket};

/// A host with one TCP socket the test writes and reads by hand.
struct Peer {
    stack: Stack,
    handle: SocketHandle,
}

impl Peer {
    /// Connected (once run) to the server's port 80; a small receive window.
    fn new() -> Self {
        let mut stack = Stack::new(
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            Ipv4Cidr::new(CLIENT, 24),
            None,
            3,
        );
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 2048]),
            tcp::SocketBuffer::new(vec![0; 4096]),
        );
        let handle = stack.sockets.add(sock);
        let cx = stack.iface.context();
        let sock = stack.sockets.get_mut::<tcp::Socket>(handle);
        let remote = IpEndpoint::new(SERVER.into(), 80);
        sock.connect(cx, remote, 40000).expect("connects");
        Self { stack, handle }
    }

    fn sock(&mut self) -> &mut tcp::Socket<'static> {
        self.stack.sockets.get_mut::<tcp::Socket>(self.handle)
    }
}

impl Node for Peer {
    fn handle_frame(&mut self, now: Instant, _: usize, frame: &mut [u8]) -> Option<usize> {
        self.stack.input(now, frame, &Own);
        None
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.stack.poll(now);
    }
    fn poll_transmit(&mut self, _: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.stack.transmit(buf).map(|len| (0, len))
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.stack.poll_at()
    }
}

/// Runs the peer and the server from 10 ms before `ms` until `ms`.
fn run(peer: &mut Peer, server: &mut SimServer, ms: i64, log: &mut Log) {
    let mut hub = super::net::Hub::new(vec![peer as &mut dyn Node, server]);
    hub.now = Instant::from_millis(ms - 10);
    hub.log = Some(std::mem::take(log));
    hub.run(Instant::from_millis(ms), |_| false);
    *log = hub.log.take().unwrap_or_default();
}

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
    let (mut peer, mut server, mut log) = (Peer::new(), server(true), Log::new());
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
    let (mut peer, mut server, mut log) = (Peer::new(), server(true), Log::new());
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
