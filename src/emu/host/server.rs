//! [`SimServer`]: a real server of an emulated lab, speaking `tapvs server`'s HTTP/1 on
//! smoltcp TCP, on one port. It holds its own address and any VIPs "on lo" (DR: it takes
//! packets to a VIP and answers from it), answers ARP for the VIPs only without ARP
//! suppression (the ARP problem), and can be killed (no listener: SYNs get RST, open
//! connections are reset) or hung (handshakes complete, requests are read, none answered).

use super::serve::{Phase, ServerStats, Slot};
use super::stack::{Addresses, Counters, Stack};
use crate::emu::Node;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

/// Socket buffer sizes of a server connection (receive, send).
const RX_BUF: usize = 4 * 1024;
const TX_BUF: usize = 16 * 1024;

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
    /// The TCP port served (on every address).
    pub port: u16,
    /// Seeds smoltcp's randomness (initial sequence numbers).
    pub seed: u64,
}

/// What the server process is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Up,
    /// The process is dead: no listener (SYN → RST), connections reset.
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
    slots: Vec<Slot>,
    stats: ServerStats,
}

impl SimServer {
    pub fn new(config: ServerConfig) -> Self {
        let stack = Stack::new(config.mac, config.addr, config.gateway, config.seed);
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
            stats: ServerStats::default(),
        };
        server.top_up();
        server
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
        self.state = state;
        if state == ServerState::Killed {
            for slot in &mut self.slots {
                self.stack
                    .sockets
                    .get_mut::<tcp::Socket>(slot.handle)
                    .abort();
                slot.phase = Phase::Idle;
            }
        }
        self.top_up();
        self.stack.poll(now);
    }

    /// Serves every connection, then keeps [`BACKLOG`] sockets listening (unless killed).
    fn step(&mut self) {
        let hanging = self.state == ServerState::Hung;
        for slot in &mut self.slots {
            let sock = self.stack.sockets.get_mut::<tcp::Socket>(slot.handle);
            slot.step(sock, &self.name, hanging, &mut self.stats);
        }
        self.top_up();
    }

    fn top_up(&mut self) {
        if self.state == ServerState::Killed {
            return;
        }
        let mut listening = self
            .slots
            .iter()
            .filter(|s| s.phase == Phase::Listening)
            .count();
        for slot in self.slots.iter_mut().filter(|s| s.phase == Phase::Idle) {
            if listening >= BACKLOG {
                return;
            }
            let sock = self.stack.sockets.get_mut::<tcp::Socket>(slot.handle);
            if sock.listen(self.port).is_ok() {
                slot.phase = Phase::Listening;
                listening += 1;
            }
        }
        while listening < BACKLOG {
            let mut sock = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; RX_BUF]),
                tcp::SocketBuffer::new(vec![0; TX_BUF]),
            );
            sock.set_nagle_enabled(false);
            let mut slot = Slot::new(self.stack.sockets.add(sock));
            let sock = self.stack.sockets.get_mut::<tcp::Socket>(slot.handle);
            if sock.listen(self.port).is_err() {
                // Port 0: nothing can listen; the server refuses everything.
                return;
            }
            slot.phase = Phase::Listening;
            self.slots.push(slot);
            listening += 1;
        }
    }
}

impl Node for SimServer {
    fn handle_frame(&mut self, now: Instant, _port: usize, frame: &mut [u8]) -> Option<usize> {
        self.stack.input(now, frame, &self.addrs);
        self.step();
        self.stack.poll(now);
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.poll(now);
        self.step();
        self.stack.poll(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.stack.transmit(buf).map(|len| (0, len))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.stack.poll_at()
    }
}
