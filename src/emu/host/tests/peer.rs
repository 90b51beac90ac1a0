//! A bare TCP peer, written and read by hand, that drives a simulated server in tests.

use super::{CLIENT, Log, Own, SERVER, SimServer};
use crate::emu::Node;
use crate::emu::host::stack::Stack;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpEndpoint, Ipv4Cidr};

/// A host with one TCP socket the test writes and reads by hand.
pub struct Peer {
    stack: Stack,
    handle: SocketHandle,
}

impl Peer {
    /// Connected (once run) to the server's port 80; a small receive window, `send_len`
    /// bytes of send buffer.
    pub fn new(send_len: usize) -> Self {
        let mut stack = Stack::new(
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            Ipv4Cidr::new(CLIENT, 24),
            None,
            3,
        );
        let sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 2048]),
            tcp::SocketBuffer::new(vec![0; send_len]),
        );
        let handle = stack.sockets.add(sock);
        let cx = stack.iface.context();
        let sock = stack.sockets.get_mut::<tcp::Socket>(handle);
        let remote = IpEndpoint::new(SERVER.into(), 80);
        sock.connect(cx, remote, 40000).expect("connects");
        Self { stack, handle }
    }

    pub fn sock(&mut self) -> &mut tcp::Socket<'static> {
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
pub fn run(peer: &mut Peer, server: &mut SimServer, ms: i64, log: &mut Log) {
    let mut hub = super::net::Hub::new(vec![peer as &mut dyn Node, server]);
    hub.now = Instant::from_millis(ms - 10);
    hub.log = Some(std::mem::take(log));
    hub.run(Instant::from_millis(ms), |_| false);
    *log = hub.log.take().unwrap_or_default();
}
