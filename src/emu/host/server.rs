//! [`SimServer`]: a real server of an emulated lab, speaking `tapvs server`'s HTTP/1 on
//! smoltcp TCP, on one port. It holds its own address and any VIPs "on lo" (DR: it takes
//! packets to a VIP and answers from it), answers ARP for the VIPs only without ARP
//! suppression (the ARP problem), and can be killed or hung. With `protocol = udp` it is
//! `tapvs server --udp-listen` instead ([`super::serve_udp`]).
//!
//! Killed is SIGKILL as Linux handles it: the kernel closes the process's sockets
//! ([`Slot::kill`]): a connection with unread data is reset, any other gets its FIN (and an
//! RST for whatever arrives after); SYNs to the closed port get an RST; UDP ports are
//! closed (ICMP port unreachable). Hung: TCP handshakes complete and requests are read, UDP
//! requests are read, and none is answered.

use super::buffers::{BufferArena, TcpBuffers};
use super::cookies::{Ingress, ListenQueue};
use super::serve::{Phase, ServerStats, Slot};
use super::serve_udp::UdpServe;
use super::stack::{Addresses, Counters, Stack};
use crate::client::Protocol;
use crate::emu::Node;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, IpListenEndpoint, Ipv4Address, Ipv4Cidr};
use std::collections::BTreeSet;

/// Listening sockets kept ready (smoltcp gives each connection its own socket).
const BACKLOG: usize = 2;

/// How a simulated real server is set up.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Its name, sent as `X-Server` on every response.
    pub name: String,
    pub mac: EthernetAddress,
    /// Its own address on the LAN, with the LAN's prefix.
    pub addr: Ipv4Cidr,
    pub gateway: Option<Ipv4Address>,
    /// Addresses held on "lo" (DR): packets to them are taken and answered from them.
    pub vips: Vec<Ipv4Address>,
    /// `arp_ignore=1`/`arp_announce=2`: never answer ARP for a VIP. Without it the server
    /// answers, and may steal the VIP from the director (the ARP problem).
    pub arp_suppression: bool,
    /// TCP: HTTP/1 on `port` of every address. UDP: the datagram exchange, bound as the
    /// runner binds `tapvs server --udp-listen`: with VIPs (DR) to each VIP and its own
    /// address (for the health checks), without to every address.
    pub protocol: Protocol,
    /// The port served.
    pub port: u16,
    /// Seeds smoltcp's randomness (initial sequence numbers).
    pub seed: u64,
}

/// What the server process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Up,
    /// The process is dead: its sockets closed as the kernel closes them, nothing listens.
    Killed,
    /// The application is stuck: handshakes complete, requests are read, none is answered.
    Hung,
}

struct Addrs {
    own: Ipv4Address,
    vips: Vec<Ipv4Address>,
    arp_suppression: bool,
}

impl Addresses for Addrs {
    fn accepts(&self, dst: Ipv4Address) -> bool {
        dst == self.own || self.vips.contains(&dst)
    }
    fn answers_arp(&self, target: Ipv4Address) -> bool {
        target == self.own || (!self.arp_suppression && self.vips.contains(&target))
    }
}

/// A simulated real server on one port of the fabric (port 0).
pub struct SimServer {
    stack: Stack,
    addrs: Addrs,
    name: String,
    port: u16,
    state: ServerState,
    /// Slot i holds connection i (both made in order).
    slots: Vec<Slot>,
    /// How many slots listen, and which are idle (lowest first, as they are reused).
    listening: usize,
    idle: BTreeSet<usize>,
    /// The slots to step now (their socket was polled), reused.
    woken: Vec<usize>,
    /// The slots whose socket became a request sock in this step (to park, see
    /// [`super::parked`]).
    fresh: Vec<usize>,
    /// UDP: the bound sockets.
    udp: Option<UdpServe>,
    stats: ServerStats,
    /// Each connection socket's buffer sizes.
    buffers: TcpBuffers,
    /// The request socks' count, and SYN cookies beyond the backlog (secret from the seed).
    pub(super) queue: ListenQueue,
    /// The stack's next deadline as last asked, while nothing has changed the stack since
    /// (a SYN answered with a cookie leaves it alone).
    stack_due: Option<Option<Instant>>,
    /// The connection sockets' buffers. Declared after `stack`, so dropped after its sockets.
    arena: BufferArena,
}

impl SimServer {
    /// A server with each connection's buffers at [`TcpBuffers::SERVER`].
    pub fn new(config: ServerConfig) -> Self {
        Self::with_buffers(config, TcpBuffers::SERVER)
    }

    /// A server whose connections have buffers of `buffers` (sized to its messages).
    pub fn with_buffers(config: ServerConfig, buffers: TcpBuffers) -> Self {
        let mut stack = Stack::new(config.mac, config.addr, config.gateway, config.seed);
        let udp = (config.protocol == Protocol::Udp).then(|| {
            let bind = |a: Option<Ipv4Address>| IpListenEndpoint {
                addr: a.map(Into::into),
                port: config.port,
            };
            let binds: Vec<IpListenEndpoint> = if config.vips.is_empty() {
                vec![bind(None)]
            } else {
                let own = Some(config.addr.address());
                config
                    .vips
                    .iter()
                    .map(|&v| bind(Some(v)))
                    .chain([bind(own)])
                    .collect()
            };
            UdpServe::new(&mut stack.sockets, &binds)
        });
        let queue = ListenQueue::new(config.seed ^ 0x5c00_c1e5, config.addr, buffers.rx);
        let addrs = Addrs {
            own: config.addr.address(),
            vips: config.vips,
            arp_suppression: config.arp_suppression,
        };
        let mut server = Self {
            stack,
            addrs,
            name: config.name,
            port: config.port,
            state: ServerState::Up,
            slots: Vec::new(),
            listening: 0,
            idle: BTreeSet::new(),
            woken: Vec::new(),
            fresh: Vec::new(),
            udp,
            stats: ServerStats::default(),
            buffers,
            queue,
            stack_due: None,
            arena: BufferArena::default(),
        };
        server.top_up();
        server
    }

    /// Request socks parked now (see [`super::parked`]).
    #[cfg(test)]
    pub(super) fn parked(&self) -> usize {
        self.stack.parked()
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    pub fn stats(&self) -> ServerStats {
        self.stats
    }

    /// The filter's and the interface's frame counters.
    pub fn counters(&self) -> Counters {
        self.stack.counters
    }

    /// Kills (SIGKILL), hangs (SIGSTOP-like deadlock) or restores the server process at `now`.
    pub fn set_state(&mut self, now: Instant, state: ServerState) {
        self.stack_due = None;
        let was = std::mem::replace(&mut self.state, state);
        if state == ServerState::Killed && was != ServerState::Killed {
            for i in 0..self.slots.len() {
                let slot = &mut self.slots[i];
                let was = slot.phase;
                let sock = self.stack.tcp(slot.handle);
                slot.kill(sock);
                self.queue.tally(&mut slot.half_open, sock.state());
                self.moved(i, was);
            }
            if let Some(udp) = &mut self.udp {
                udp.close(&mut self.stack.sockets);
            }
        }
        if state != ServerState::Killed
            && let Some(udp) = &mut self.udp
        {
            udp.open(&mut self.stack.sockets);
        }
        self.top_up();
        self.stack.poll(now);
        self.fresh.clear();
    }

    /// Slot `i` went from phase `was` to its phase now: the tallies follow.
    fn moved(&mut self, i: usize, was: Phase) {
        let now = self.slots[i].phase;
        if was == now {
            return;
        }
        self.listening -= usize::from(was == Phase::Listening);
        self.listening += usize::from(now == Phase::Listening);
        if was == Phase::Idle {
            self.idle.remove(&i);
            self.queue.forget(i);
        }
        if now == Phase::Idle {
            self.idle.insert(i);
        }
    }

    /// Serves every connection that can progress (its socket was polled: a slot's step
    /// depends on its socket alone), then keeps [`BACKLOG`] sockets listening (unless killed).
    fn step(&mut self) {
        let hanging = self.state == ServerState::Hung;
        let mut woken = std::mem::take(&mut self.woken);
        self.stack.take_woken(&mut woken);
        woken.sort_unstable();
        for &i in &woken {
            let slot = &mut self.slots[i];
            let sock = self.stack.conns.get::<tcp::Socket>(slot.handle);
            if slot.at_rest(sock) {
                // Untouched: polling it again now would send nothing.
                self.queue.tally(&mut slot.half_open, sock.state());
                continue;
            }
            let was = slot.phase;
            let sock = self.stack.tcp(slot.handle);
            slot.step(sock, &self.name, hanging, &mut self.stats);
            let half_open = slot.half_open;
            self.queue.tally(&mut slot.half_open, sock.state());
            if slot.half_open && !half_open {
                self.fresh.push(i);
            }
            self.moved(i, was);
        }
        self.woken = woken;
        if let Some(udp) = &mut self.udp {
            udp.step(
                &mut self.stack.sockets,
                &self.name,
                hanging,
                &mut self.stats,
            );
        }
        self.top_up();
    }

    /// Serves what progressed and sends; once more when that sent something: a connection
    /// closes only after its response has left (the FIN in a segment of its own).
    fn step_and_send(&mut self, now: Instant) {
        self.step();
        if self.stack.poll(now) {
            self.step();
            self.stack.poll(now);
        }
    }

    fn top_up(&mut self) {
        if self.state == ServerState::Killed || self.udp.is_some() {
            return;
        }
        let mut from = 0;
        while self.listening < BACKLOG {
            let Some(&i) = self.idle.range(from..).next() else {
                break;
            };
            from = i + 1;
            let slot = &mut self.slots[i];
            if self.stack.tcp(slot.handle).listen(self.port).is_ok() {
                slot.phase = Phase::Listening;
                self.moved(i, Phase::Idle);
            }
        }
        while self.listening < BACKLOG {
            // SAFETY: the socket goes into `self.stack`, which never gives a socket away and
            // is dropped before `self.arena`.
            let mut sock = unsafe { self.buffers.socket_in(&mut self.arena) };
            super::acks::like_linux(&mut sock);
            let mut slot = Slot::new(self.stack.add_tcp(sock), self.buffers.read);
            let sock = self.stack.tcp(slot.handle);
            if sock.listen(self.port).is_err() {
                // Port 0: nothing can listen; the server refuses everything.
                return;
            }
            slot.phase = Phase::Listening;
            self.slots.push(slot);
            self.listening += 1;
        }
    }
}

impl Node for SimServer {
    fn handle_frame(&mut self, now: Instant, _port: usize, frame: &mut [u8]) -> Option<usize> {
        let up = self.state != ServerState::Killed && self.udp.is_none();
        let due = self.stack_due.take();
        match (self.queue).ingress(now, frame, (self.port, up), &mut self.stack, &self.addrs) {
            Ingress::Pass => self.stack.input(now, frame, &self.addrs),
            Ingress::Answered => {
                // Neither the stack nor its deadline changed.
                self.stack_due = due;
                return None;
            }
            Ingress::Opened => {}
        }
        self.step_and_send(now);
        for &i in &self.fresh {
            self.stack.park(self.slots[i].handle);
        }
        self.fresh.clear();
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack_due = None;
        self.stack.poll(now);
        self.step_and_send(now);
        self.fresh.clear();
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        if !self.queue.sending() && self.stack.next_len().is_some() {
            // A frame leaves the stack's queue.
            self.stack_due = None;
        }
        let len = self.queue.transmit(&mut self.stack, buf)?;
        Some((0, len))
    }

    fn next_frame_len(&self) -> Option<usize> {
        self.stack.next_len()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.queue.sending() {
            // Cookie SYN-ACKs wait to leave.
            return Some(self.stack.now);
        }
        *(self.stack_due).get_or_insert_with(|| self.stack.poll_at())
    }
}
