//! An in-memory L2 segment for VRRP routers, with a hand-moved clock.
//!
//! Adverts go through the real wire code (`emit_frame` → bytes → `parse_frame`) and arrive
//! at the same instant they are sent (zero latency), delivered in send order. Faults read like
//! a test plan: `crash` (gone for good, like SIGKILL), `freeze`/`thaw` (SIGSTOP/SIGCONT: neither
//! sends nor receives nor runs timers meanwhile; on thaw, overdue timers fire at once),
//! `partition`/`repair` (adverts between two routers are lost, both ways), and `shutdown`
//! (the clean stop: a master sends priority 0).
//!
//! In `unicast` mode each router sends one copy of each advert to each of its configured
//! peers (their MAC and address), as keepalived's `unicast_peer` does, and only that peer
//! gets it. `inject` plays a foreign host on the link sending an advert to the group.
//!
//! When several timers are due at the same instant they fire in router order, and each
//! router's adverts are delivered before the next router's timer runs.

use super::*;
use crate::wire::EthernetAddress;
use crate::wire::vrrp::{GROUP, GROUP_MAC, emit_frame_to, parse_frame};

/// Rounds of adverts caused by adverts within one instant before the link calls it a storm.
const STORM: usize = 1_000;

/// One advert on the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub from: usize,
    pub priority: u8,
    pub interval_cs: u16,
}

struct Node {
    router: VrrpRouter,
    mac: EthernetAddress,
    addr: Ipv4Addr,
    frozen: bool,
    crashed: bool,
}

pub struct Net {
    now: Instant,
    nodes: Vec<Node>,
    /// Directed pairs (from, to) whose adverts are lost.
    cut: Vec<(usize, usize)>,
    events: Vec<(usize, Instant, VrrpEvent)>,
    sent: Vec<Sent>,
    /// Adverts go to each configured peer by unicast instead of to the group.
    unicast: bool,
}

impl Net {
    /// Routers in INIT at time 0; router `i` has MAC 02:00:00:00:00:i.
    pub fn new(configs: impl IntoIterator<Item = VrrpConfig>) -> Net {
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, config)| Node {
                mac: EthernetAddress([0x02, 0, 0, 0, 0, i as u8]),
                addr: config.own_addr,
                router: VrrpRouter::new(config).unwrap(),
                frozen: false,
                crashed: false,
            })
            .collect();
        Net {
            now: Instant::ZERO,
            nodes,
            cut: Vec::new(),
            events: Vec::new(),
            sent: Vec::new(),
            unicast: false,
        }
    }

    /// Routers in unicast mode (each must have its peers configured).
    pub fn new_unicast(configs: impl IntoIterator<Item = VrrpConfig>) -> Net {
        Net {
            unicast: true,
            ..Net::new(configs)
        }
    }

    /// A foreign host at `src` sends `advert` to the group now: every live router gets it.
    /// Returns the routers' verdicts.
    pub fn inject(&mut self, src: Ipv4Addr, advert: &VrrpRepr) -> Vec<Verdict> {
        let mut frame = [0u8; 128];
        let mac = EthernetAddress([0x02, 0xee, 0, 0, 0, 1]);
        let len = emit_frame_to(&mut frame, (mac, src), (GROUP_MAC, GROUP), advert).unwrap();
        let got = parse_frame(&frame[..len]).unwrap();
        let now = self.now;
        let live: Vec<usize> = (0..self.nodes.len()).filter(|&i| self.live(i)).collect();
        let verdicts = live
            .into_iter()
            .map(|i| self.nodes[i].router.handle_advert(now, got.src, &got.repr))
            .collect();
        self.flush();
        verdicts
    }

    pub fn start(&mut self, i: usize) {
        self.nodes[i].router.start(self.now);
        self.flush();
    }

    pub fn shutdown(&mut self, i: usize) {
        self.nodes[i].router.shutdown(self.now);
        self.flush();
    }

    /// SIGKILL: router `i` never runs again.
    pub fn crash(&mut self, i: usize) {
        self.nodes[i].crashed = true;
    }

    /// SIGSTOP.
    pub fn freeze(&mut self, i: usize) {
        self.nodes[i].frozen = true;
    }

    /// SIGCONT: overdue timers fire now.
    pub fn thaw(&mut self, i: usize) {
        self.nodes[i].frozen = false;
        self.nodes[i].router.handle_timeout(self.now);
        self.flush();
    }

    /// Adverts between `a` and `b` are lost, both ways.
    pub fn partition(&mut self, a: usize, b: usize) {
        self.cut.push((a, b));
        self.cut.push((b, a));
    }

    pub fn repair(&mut self, a: usize, b: usize) {
        self.cut.retain(|&pair| pair != (a, b) && pair != (b, a));
    }

    /// Moves the clock to `t`, firing every timer due on the way, in time order.
    pub fn run_until(&mut self, t: Instant) {
        assert!(t >= self.now, "the clock only moves forward");
        for _ in 0..1_000_000 {
            let next = (0..self.nodes.len())
                .filter(|&i| self.live(i))
                .filter_map(|i| self.nodes[i].router.poll_timeout())
                .min();
            match next {
                Some(at) if at <= t => {
                    self.now = self.now.max(at);
                    for i in 0..self.nodes.len() {
                        let due = self.nodes[i]
                            .router
                            .poll_timeout()
                            .is_some_and(|at| at <= self.now);
                        if self.live(i) && due {
                            self.nodes[i].router.handle_timeout(self.now);
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
        panic!("timers do not advance at {}", self.now);
    }

    pub fn router(&self, i: usize) -> &VrrpRouter {
        &self.nodes[i].router
    }

    pub fn state(&self, i: usize) -> State {
        self.nodes[i].router.state()
    }

    /// The routers in MASTER (crashed and frozen ones included: they believe they are).
    pub fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.state(i) == State::Master)
            .collect()
    }

    /// Router `i`'s events with the instant each came out.
    pub fn events(&self, i: usize) -> Vec<(Instant, VrrpEvent)> {
        self.events
            .iter()
            .filter(|(node, ..)| *node == i)
            .map(|&(_, at, event)| (at, event))
            .collect()
    }

    /// Router `i`'s adverts sent in `from..to`: (instant, priority).
    pub fn adverts(&self, i: usize, from: Instant, to: Instant) -> Vec<(Instant, u8)> {
        self.sent_by(i)
            .filter(|s| (from..to).contains(&s.at))
            .map(|s| (s.at, s.priority))
            .collect()
    }

    /// Everything router `i` sent.
    pub fn sent_by(&self, i: usize) -> impl Iterator<Item = Sent> + '_ {
        self.sent.iter().copied().filter(move |s| s.from == i)
    }

    fn live(&self, i: usize) -> bool {
        !self.nodes[i].frozen && !self.nodes[i].crashed
    }

    /// Delivers every queued advert (and the adverts they cause) and collects events.
    fn flush(&mut self) {
        let mut frame = [0u8; 128];
        for _ in 0..STORM {
            let mut quiet = true;
            for from in 0..self.nodes.len() {
                while let Some(repr) = self.nodes[from].router.poll_transmit() {
                    quiet = false;
                    if !self.live(from) {
                        continue;
                    }
                    self.sent.push(Sent {
                        at: self.now,
                        from,
                        priority: repr.priority,
                        interval_cs: repr.max_advert_int_cs,
                    });
                    for to in 0..self.nodes.len() {
                        let (node, peer) = (&self.nodes[from], &self.nodes[to]);
                        let dst = if !self.unicast {
                            (GROUP_MAC, GROUP)
                        } else if node.router.config().peers.contains(&peer.addr) {
                            (peer.mac, peer.addr)
                        } else {
                            continue;
                        };
                        if to == from || !self.live(to) || self.cut.contains(&(from, to)) {
                            continue;
                        }
                        let src = (node.mac, node.addr);
                        let len = emit_frame_to(&mut frame, src, dst, &repr).unwrap();
                        let got = parse_frame(&frame[..len]).unwrap();
                        assert_eq!(got.dst, dst.1);
                        let now = self.now;
                        self.nodes[to].router.handle_advert(now, got.src, &got.repr);
                    }
                }
            }
            for (i, node) in self.nodes.iter_mut().enumerate() {
                while let Some(event) = node.router.poll_event() {
                    quiet = false;
                    self.events.push((i, self.now, event));
                }
            }
            if quiet {
                return;
            }
        }
        panic!(
            "advert storm at {}: routers keep answering each other",
            self.now
        );
    }
}
