//! One smoltcp set per connection ([`crate::emu::host::conns`]): a segment reaches the socket
//! of its 4-tuple, a SYN the first listener, and a host is told only of the sockets that
//! were given a frame, came due or sent.

use super::peer::Bare;
use super::{CLIENT, SERVER, server};
use crate::emu::Node;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{IpEndpoint, Ipv4Address};

/// A host whose connection sockets the test drives by hand.
type Host = Bare;

impl Bare {
    fn with_seed_of_mac(own: Ipv4Address, mac: u8) -> Self {
        Bare::new(own, mac, u64::from(mac))
    }

    fn add(&mut self) -> usize {
        let buf = || tcp::SocketBuffer::new(vec![0; 4096]);
        self.stack.add_tcp(tcp::Socket::new(buf(), buf()))
    }

    fn woken(&mut self) -> Vec<usize> {
        let mut out = Vec::new();
        self.stack.take_woken(&mut out);
        out.sort_unstable();
        out
    }
}

fn run(nodes: Vec<&mut dyn Node>, from_ms: i64, ms: i64) {
    let mut hub = super::net::Hub::new(nodes);
    hub.now = Instant::from_millis(from_ms);
    hub.run(Instant::from_millis(ms), |_| false);
}

const GET: &[u8] = b"GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn an_answer_wakes_only_its_own_connection() {
    let (mut client, mut server) = (Host::with_seed_of_mac(CLIENT, 1), server(true));
    let ids: Vec<usize> = (0..3).map(|_| client.add()).collect();
    for (k, &id) in ids.iter().enumerate() {
        let (cx, sock) = client.stack.tcp_cx(id);
        let remote = IpEndpoint::new(SERVER.into(), 80);
        sock.connect(cx, remote, 40000 + k as u16)
            .expect("connects");
    }
    run(vec![&mut client, &mut server], 0, 10);
    for &id in &ids {
        assert_eq!(client.stack.tcp(id).state(), tcp::State::Established);
    }
    client.woken();
    // Looked at by the host (so polled), but with nothing to send: not woken for that.
    for &id in &ids {
        assert_eq!(client.stack.tcp(id).recv_queue(), 0);
    }
    client.stack.tcp(ids[1]).send_slice(GET).expect("sent");
    // As a host does after stepping its workers: every touched socket is polled.
    client.stack.poll(Instant::from_millis(10));
    run(vec![&mut client, &mut server], 10, 20);
    assert_eq!(client.woken(), [ids[1]], "only the asking connection heard");
    let mut buf = [0; 1024];
    let n = client.stack.tcp(ids[1]).recv_slice(&mut buf).expect("read");
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "the answer came to it"
    );
    for id in [ids[0], ids[2]] {
        assert_eq!(client.stack.tcp(id).recv_queue(), 0);
        assert_eq!(client.stack.tcp(id).state(), tcp::State::Established);
    }
    assert_eq!(server.stats().requests, 1);
}

#[test]
fn a_syn_goes_to_the_first_listener_and_the_rest_to_their_socket() {
    let (mut client, mut listener) = (
        Host::with_seed_of_mac(CLIENT, 1),
        Host::with_seed_of_mac(SERVER, 11),
    );
    let (l0, l1) = (listener.add(), listener.add());
    for id in [l0, l1] {
        listener.stack.tcp(id).listen(80).expect("listens");
    }
    let c = client.add();
    let (cx, sock) = client.stack.tcp_cx(c);
    sock.connect(cx, IpEndpoint::new(SERVER.into(), 80), 40000)
        .expect("connects");
    run(vec![&mut client, &mut listener], 0, 10);
    assert_eq!(listener.stack.tcp(l0).state(), tcp::State::Established);
    assert_eq!(listener.stack.tcp(l1).state(), tcp::State::Listen);
    client.stack.tcp(c).send_slice(GET).expect("sent");
    run(vec![&mut client, &mut listener], 10, 20);
    assert_eq!(listener.stack.tcp(l0).recv_queue(), GET.len());
    assert_eq!(
        client.stack.tcp(c).state(),
        tcp::State::Established,
        "no RST"
    );
    // A second connection: l0 is taken, so l1 answers.
    let c2 = client.add();
    let (cx, sock) = client.stack.tcp_cx(c2);
    sock.connect(cx, IpEndpoint::new(SERVER.into(), 80), 40001)
        .expect("connects");
    run(vec![&mut client, &mut listener], 20, 30);
    assert_eq!(listener.stack.tcp(l1).state(), tcp::State::Established);
    assert_eq!(client.stack.tcp(c2).state(), tcp::State::Established);
}
