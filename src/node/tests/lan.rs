//! An in-memory LAN with a hand-moved clock: two [`Director`] nodes, the clients' router and
//! the real servers on one learning switch, every frame through the real bytes path.
//!
//! Grown from `control/vrrp/tests/net.rs` (same fault vocabulary, same loop), one layer down:
//! there routers exchange `VrrpRepr`s; here whole nodes exchange Ethernet frames, so ARP,
//! gratuitous ARP, sync datagrams, DR forwarding and health checks all cross the switch.
//!
//! - The switch learns source MACs per port, forwards a known unicast destination to its port
//!   and floods broadcast, multicast and unknown destinations. Delivery takes no time and keeps
//!   send order.
//! - The clock is a discrete-event loop: each step moves to the earliest `poll_timeout` of the
//!   live directors (hosts have no timers), runs every node that is due, in port order, and
//!   delivers what they send (and what that causes) until the LAN is quiet. Tests act between
//!   steps: `run_until(t)`, then a fault or traffic, at `t`.
//! - Faults: `crash` (SIGKILL: the node never sends, receives or runs again; what it held is
//!   lost), `partition`/`repair` (VRRP adverts between two ports are lost, both ways: the
//!   heartbeat path), and a real server going down (`Server::up`).
//!
//! Ports: 0 and 1 are the directors, 2 the router, 3.. the real servers.

use super::hosts::{Router, Server};
use crate::dataplane::Iface;
use crate::io::vnet::VnetHeader;
use crate::node::Director;
use crate::node::event::DirectorEvent;
use crate::wire::vrrp;
use crate::wire::{EthernetAddress, EthernetFrame};
use smoltcp::time::Instant;
use std::collections::{HashMap, VecDeque};

pub const ROUTER: usize = 2;
pub const FIRST_SERVER: usize = 3;
/// Steps of the loop, and rounds of frames within one instant, before the LAN calls it a
/// livelock (a node whose deadline is due but that does nothing, or frames that never end).
const LIMIT: usize = 1_000_000;

/// A learning switch.
#[derive(Default)]
pub struct Switch {
    fdb: HashMap<EthernetAddress, usize>,
}

impl Switch {
    /// Learns the source and says which ports get the frame.
    fn forward(&mut self, from: usize, frame: &[u8], ports: usize) -> Vec<usize> {
        let eth = EthernetFrame::new_unchecked(frame);
        let (src, dst) = (eth.src_addr(), eth.dst_addr());
        if src.is_unicast() {
            self.fdb.insert(src, from);
        }
        match self.fdb.get(&dst) {
            Some(&port) if dst.is_unicast() => (port != from).then_some(port).into_iter().collect(),
            _ => (0..ports).filter(|&p| p != from).collect(),
        }
    }

    /// The port a MAC was last seen on.
    pub fn port_of(&self, mac: EthernetAddress) -> Option<usize> {
        self.fdb.get(&mac).copied()
    }
}

/// One VRRP advert on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advert {
    pub at: Instant,
    pub from: usize,
    pub priority: u8,
}

pub struct Lan {
    pub now: Instant,
    pub directors: Vec<Director>,
    pub router: Router,
    pub servers: Vec<Server>,
    pub switch: Switch,
    crashed: Vec<bool>,
    /// Directed port pairs whose VRRP adverts are lost.
    cut: Vec<(usize, usize)>,
    /// The directors' notable events: (when, director, event).
    pub events: Vec<(Instant, usize, DirectorEvent)>,
    pub adverts: Vec<Advert>,
    buf: Vec<u8>,
}

impl Lan {
    pub fn new(directors: Vec<Director>, router: Router, servers: Vec<Server>) -> Lan {
        assert_eq!(directors.len(), 2, "ports 0 and 1 are the directors");
        let ports = FIRST_SERVER + servers.len();
        Lan {
            now: Instant::ZERO,
            directors,
            router,
            servers,
            switch: Switch::default(),
            crashed: vec![false; ports],
            cut: Vec::new(),
            events: Vec::new(),
            adverts: Vec::new(),
            buf: vec![0; 2048],
        }
    }

    fn ports(&self) -> usize {
        self.crashed.len()
    }

    /// SIGKILL: node `port` never runs again.
    pub fn crash(&mut self, port: usize) {
        self.crashed[port] = true;
    }

    /// VRRP adverts between `a` and `b` are lost, both ways.
    pub fn partition(&mut self, a: usize, b: usize) {
        self.cut.extend([(a, b), (b, a)]);
    }

    pub fn repair(&mut self, a: usize, b: usize) {
        self.cut.retain(|&pair| pair != (a, b) && pair != (b, a));
    }

    /// Moves the clock to `t`, running every node due on the way, in time order; what the
    /// tests did since the last step is delivered first, at the current instant.
    pub fn run_until(&mut self, t: Instant) {
        assert!(t >= self.now, "the clock only moves forward");
        self.flush();
        for _ in 0..LIMIT {
            let next = (0..self.directors.len())
                .filter(|&d| !self.crashed[d])
                .filter_map(|d| self.directors[d].poll_timeout())
                .min();
            match next {
                Some(at) if at <= t => {
                    self.now = self.now.max(at);
                    for d in 0..self.directors.len() {
                        if self.crashed[d] {
                            continue;
                        }
                        if self.directors[d]
                            .poll_timeout()
                            .is_some_and(|at| at <= self.now)
                        {
                            self.directors[d].handle_timeout(self.now);
                            self.flush();
                        }
                    }
                }
                _ => {
                    self.now = t;
                    return;
                }
            }
        }
        panic!("the LAN does not advance at {}", self.now);
    }

    /// Delivers every frame the nodes hold, and the frames those cause, until quiet.
    fn flush(&mut self) {
        let mut queue = VecDeque::new();
        for _ in 0..LIMIT {
            for port in 0..self.ports() {
                if !self.crashed[port] {
                    let mut out = Vec::new();
                    self.transmit(port, &mut out);
                    queue.extend(out.into_iter().map(|f| (port, f)));
                }
            }
            self.take_events();
            if queue.is_empty() {
                return;
            }
            while let Some((from, frame)) = queue.pop_front() {
                let vrrp = vrrp::parse_frame(&frame).ok();
                if let Some(advert) = &vrrp {
                    self.adverts.push(Advert {
                        at: self.now,
                        from,
                        priority: advert.repr.priority,
                    });
                }
                let ports = self.ports();
                for to in self.switch.forward(from, &frame, ports) {
                    let lost = vrrp.is_some() && self.cut.contains(&(from, to));
                    if self.crashed[to] || lost {
                        continue;
                    }
                    let mut copy = frame.clone();
                    if let Some(out) = self.receive(to, &mut copy) {
                        queue.push_back((to, out));
                    }
                }
            }
        }
        panic!("frames never stop at {}", self.now);
    }

    /// Hands a frame to node `port`; a director's in-place forward comes back to send.
    fn receive(&mut self, port: usize, frame: &mut Vec<u8>) -> Option<Vec<u8>> {
        let now = self.now;
        match port {
            0 | 1 => {
                let d = &mut self.directors[port];
                let out = d.handle_frame(now, Iface::OUTSIDE, frame, &VnetHeader::NONE)?;
                assert_eq!(out, Iface::OUTSIDE, "a one-armed director");
                Some(std::mem::take(frame))
            }
            ROUTER => {
                self.router.receive(now, frame);
                None
            }
            _ => {
                self.servers[port - FIRST_SERVER].receive(now, frame);
                None
            }
        }
    }

    fn transmit(&mut self, port: usize, out: &mut Vec<Vec<u8>>) {
        match port {
            0 | 1 => {
                while let Some((iface, len)) =
                    self.directors[port].poll_transmit(self.now, &mut self.buf)
                {
                    assert_eq!(iface, Iface::OUTSIDE, "a one-armed director");
                    out.push(self.buf[..len].to_vec());
                }
            }
            ROUTER => self.router.transmit(out),
            _ => self.servers[port - FIRST_SERVER].transmit(out),
        }
    }

    fn take_events(&mut self) {
        for (d, node) in self.directors.iter_mut().enumerate() {
            while let Some(event) = node.poll_event() {
                if event.is_notable() {
                    self.events.push((self.now, d, event));
                }
            }
        }
    }

    /// Director `d`'s notable events with their instants.
    pub fn events_of(&self, d: usize) -> impl Iterator<Item = (Instant, &DirectorEvent)> {
        self.events
            .iter()
            .filter(move |(_, from, _)| *from == d)
            .map(|(at, _, event)| (*at, event))
    }

    /// The first instant at or after `from` when director `d` emitted an event matching `f`.
    pub fn first_event(
        &self,
        d: usize,
        from: Instant,
        f: impl Fn(&DirectorEvent) -> bool,
    ) -> Option<Instant> {
        self.events_of(d)
            .find(|(at, event)| *at >= from && f(event))
            .map(|(at, _)| at)
    }
}
