//! Bare smoltcp hosts the tests drive by hand: [`Bare`], and [`Peer`], one TCP socket written
//! and read by hand against a simulated server.

use super::{CLIENT, Log, SERVER, SimServer};
use crate::emu::Node;
use crate::emu::host::stack::{Addresses, Stack};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpEndpoint, Ipv4Address, Ipv4Cidr};

/// A smoltcp host on the LAN that takes frames to its own address only.
pub struct Bare {
    pub stack: Stack,
    own: OwnAddress,
}

struct OwnAddress(Ipv4Address);
impl Addresses for OwnAddress {
    fn accepts(&self, dst: Ipv4Address) -> bool {
        dst == self.0
    }
    fn answers_arp(&self, target: Ipv4Address) -> bool {
        target == self.0
    }
}

impl Bare {
    /// At `own`/24 with MAC 02:00:00:00:00:`mac`, smoltcp seeded with `seed`.
    pub fn new(own: Ipv4Address, mac: u8, seed: u64) -> Self {
        let mac = EthernetAddress([2, 0, 0, 0, 0, mac]);
        let stack = Stack::new(mac, Ipv4Cidr::new(own, 24), None, seed);
        Self {
            stack,
            own: OwnAddress(own),
        }
    }
}

impl Node for Bare {
    fn handle_frame(&mut self, now: Instant, _: usize, frame: &mut [u8]) -> Option<usize> {
        self.stack.input(now, frame, &self.own);
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

/// A bare host at the client's address with one TCP socket the test writes and reads by hand.
pub struct Peer {
    host: Bare,
    handle: SocketHandle,
}

impl Peer {
    /// Connected (once run) to the server's port 80; a small receive window, `send_len`
    /// bytes of send buffer.
    pub fn new(send_len: usize) -> Self {
        let mut host = Bare::new(CLIENT, 1, 3);
        let stack = &mut host.stack;
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 2048]),
            tcp::SocketBuffer::new(vec![0; send_len]),
        );
        let handle = stack.sockets.add(sock);
        let cx = stack.iface.context();
        let sock = stack.sockets.get_mut::<tcp::Socket>(handle);
        let remote = IpEndpoint::new(SERVER.into(), 80);
        sock.connect(cx, remote, 40000).expect("connects");
        Self { host, handle }
    }

    pub fn sock(&mut self) -> &mut tcp::Socket<'static> {
        self.host.stack.sockets.get_mut::<tcp::Socket>(self.handle)
    }
}

/// Runs the peer and the server from 10 ms before `ms` until `ms`.
pub fn run(peer: &mut Peer, server: &mut SimServer, ms: i64, log: &mut Log) {
    let mut hub = super::net::Hub::new(vec![&mut peer.host as &mut dyn Node, server]);
    hub.now = Instant::from_millis(ms - 10);
    hub.log = Some(std::mem::take(log));
    hub.run(Instant::from_millis(ms), |_| false);
    *log = hub.log.take().unwrap_or_default();
}
