//! The virtual-time event loop: [`Node`]s on a [`Fabric`]. Each step jumps to the earliest
//! thing due (a node's `poll_timeout`, a frame landing at a switch or a node), does it, and
//! sends on what it caused; idle time costs nothing. Ties go to frames first, then to the
//! lowest node, then to the frame sent first, so a run is a function of the seed.
//!
//! A frame for a destination its switch already knows, out over a plain cable (no loss,
//! jitter or rate), is switched when it is sent and lands only at the node, at the same instant
//! as through the switch: half the events of a lab's unicast traffic (the switch learns its
//! source a cable's latency early, which nothing in a lab can tell apart).
//!
//! Frames live in a [`Pool`] of fixed buffers: after warm-up a frame's trip allocates nothing,
//! formats nothing and takes no lock.
//! A livelock (a node that stays due, frames that never leave an instant) is reported as
//! [`Stalled`] after [`LIMIT`] steps at one instant, not spun on.

use super::Node;
use super::fabric::{Fabric, Hop, TopologyError};
use super::flight::Flight;
use super::link::{Dropped, Impairments};
use super::pool::Pool;
use super::switch::Forward;
use super::timers::Timers;
use smoltcp::time::Instant;

/// Steps at one instant before the loop calls it a livelock.
pub const LIMIT: u64 = 1_000_000;

/// The loop stopped making progress.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("livelock at {at}: {LIMIT} steps without time moving (last node run: {node:?})")]
pub struct Stalled {
    pub at: Instant,
    /// The node run last, if a node was run.
    pub node: Option<usize>,
}

/// What the loop did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Steps: frames landed plus node timeouts run.
    pub steps: u64,
    pub timeouts: u64,
    /// Frames handed to a node.
    pub delivered: u64,
    /// Frames sent out of a port without a cable.
    pub unwired: u64,
    /// Frames a node said were longer than its buffer, or empty.
    pub malformed: u64,
    /// Frames lost on a cable, and frames a full queue dropped (per cable in its stats).
    pub lost: u64,
    pub queue_full: u64,
}

/// An emulated lab: its nodes, its fabric, the frames in flight and the virtual clock.
pub struct Sim<N: Node> {
    nodes: Vec<N>,
    timers: Timers,
    pub fabric: Fabric,
    flight: Flight,
    pool: Pool,
    now: Instant,
    /// Nodes added or acted on since the last step: their frames and deadline to take.
    touched: Vec<usize>,
    pub counters: Counters,
}

impl<N: Node> Sim<N> {
    /// An empty lab at time zero; every cable's draws come from `seed`.
    pub fn new(seed: u64) -> Sim<N> {
        Sim {
            nodes: Vec::new(),
            timers: Timers::default(),
            fabric: Fabric::new(seed),
            flight: Flight::default(),
            pool: Pool::default(),
            now: Instant::ZERO,
            touched: Vec::new(),
            counters: Counters::default(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Adds a node; returns its number.
    pub fn add_node(&mut self, node: N) -> usize {
        let id = self.nodes.len();
        self.nodes.push(node);
        self.fabric.add_node(id);
        self.touched.push(id);
        id
    }

    pub fn node(&self, node: usize) -> &N {
        &self.nodes[node]
    }

    /// A node, to act on it between steps: what it then has to send goes at the current
    /// instant, and its deadline is asked again, when the loop next runs.
    pub fn node_mut(&mut self, node: usize) -> &mut N {
        self.touched.push(node);
        &mut self.nodes[node]
    }

    pub fn add_switch(&mut self) -> usize {
        self.fabric.add_switch()
    }

    /// Cables `node`'s `port` to `switch`, the same impairments both ways; returns the cable.
    pub fn attach(
        &mut self,
        node: usize,
        port: usize,
        switch: usize,
        imp: Impairments,
    ) -> Result<usize, TopologyError> {
        self.fabric.attach((node, port), switch, imp)
    }

    /// Cables `a`'s port `pa` straight to `b`'s port `pb`; returns the cable.
    pub fn connect(
        &mut self,
        (a, pa): (usize, usize),
        (b, pb): (usize, usize),
        imp: Impairments,
    ) -> Result<usize, TopologyError> {
        self.fabric.connect((a, pa), (b, pb), imp)
    }

    /// Runs everything due up to `end` (inclusive), then sets the clock to `end`.
    pub fn run_until(&mut self, end: Instant) -> Result<(), Stalled> {
        let mut at_instant = 0;
        let mut last = None;
        while let Some(node) = self.touched.pop() {
            self.drain(node);
        }
        loop {
            let frame = self.flight.peek_at();
            let timer = self.timers.peek();
            let next = match (frame, timer) {
                (Some(f), Some((t, _))) => f.min(t),
                (Some(f), None) => f,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > end {
                break;
            }
            let next = next.max(self.now);
            if next == self.now {
                at_instant += 1;
                if at_instant > LIMIT {
                    return Err(Stalled {
                        at: next,
                        node: last,
                    });
                }
            } else {
                at_instant = 0;
            }
            self.now = next;
            self.counters.steps += 1;
            match timer {
                Some((t, node)) if frame.is_none_or(|f| t < f) => {
                    last = Some(node);
                    self.counters.timeouts += 1;
                    // `drain` sets the node's next deadline.
                    self.nodes[node].handle_timeout(self.now);
                    self.drain(node);
                }
                _ => last = self.land().or(last),
            }
        }
        self.now = self.now.max(end);
        Ok(())
    }

    /// Lands the first frame in flight; returns the node it reached, if it reached one.
    fn land(&mut self) -> Option<usize> {
        let f = self.flight.pop()?;
        match f.hop {
            Hop::Switch { switch, port } => {
                self.through_switch(switch, port, f.buf, f.len as usize);
                None
            }
            Hop::Node { node, port } => {
                self.counters.delivered += 1;
                let frame = &mut self.pool.get_mut(f.buf)[..f.len as usize];
                match self.nodes[node].handle_frame(self.now, port, frame) {
                    Some(out) => self.send(node, out, f.buf, f.len as usize),
                    None => self.pool.put(f.buf),
                }
                self.drain(node);
                Some(node)
            }
        }
    }

    /// A frame reached `switch` on `from`: out of one port, or a copy out of every other one.
    fn through_switch(&mut self, switch: usize, from: usize, buf: u32, len: usize) {
        let frame = &self.pool.get(buf)[..len];
        match self.fabric.switch(switch, from, frame) {
            Some(Forward::One(to)) => self.down(switch, to, buf, len),
            Some(Forward::Flood) => {
                // Newest port first, as a Linux bridge floods (`br_add_if` puts a new port at
                // the head of the list `br_flood` walks): the lab attaches the real servers
                // in order and the directors' TAPs last, so of equally fast answers to a
                // broadcast (the ARP problem's race for the VIP) the last server's wins there.
                let ports = self.fabric.switch_ports(switch);
                let last = (0..ports).find(|&p| p != from);
                for to in (0..ports).rev().filter(|&p| p != from) {
                    if Some(to) == last {
                        self.down(switch, to, buf, len);
                        return;
                    }
                    let copy = self.pool.copy(buf, len);
                    self.down(switch, to, copy, len);
                }
                self.pool.put(buf);
            }
            Some(Forward::Filter) | None => self.pool.put(buf),
        }
    }

    fn down(&mut self, switch: usize, port: usize, buf: u32, len: usize) {
        let landing = self.fabric.from_switch(self.now, switch, port, len);
        self.fly(landing.map(Some), buf, len);
    }

    /// Every frame `node` has to send, sent; then its next deadline.
    fn drain(&mut self, node: usize) {
        loop {
            let buf = match self.nodes[node].next_frame_len() {
                Some(len) => self.pool.take_for(len),
                None => self.pool.take_spare(),
            };
            let out = self.nodes[node].poll_transmit(self.now, self.pool.get_mut(buf));
            let Some((port, len)) = out else {
                self.pool.keep_spare(buf);
                break;
            };
            self.send(node, port, buf, len);
        }
        let deadline = self.nodes[node].poll_timeout();
        self.timers.set(node, deadline);
    }

    /// `node` sends the frame in `buf` out of `port`.
    fn send(&mut self, node: usize, port: usize, buf: u32, len: usize) {
        if len == 0 || len > self.pool.get(buf).len() {
            self.counters.malformed += 1;
            self.pool.put(buf);
            return;
        }
        let mut landing = self.fabric.from_node(self.now, (node, port), len);
        if let Ok(Some((at, Hop::Switch { switch, port }))) = landing
            && let Some(through) =
                self.fabric
                    .cut_through(switch, port, at, &self.pool.get(buf)[..len])
        {
            landing = Ok(Some(through));
        }
        self.fly(landing, buf, len);
    }

    /// Puts a frame in flight, or counts why it is not.
    fn fly(&mut self, landing: Result<Option<(Instant, Hop)>, Dropped>, buf: u32, len: usize) {
        match landing {
            Ok(Some((at, hop))) => {
                self.flight.push(self.now, at, hop, buf, len as u32);
                return;
            }
            Ok(None) => self.counters.unwired += 1,
            Err(Dropped::Lost) => self.counters.lost += 1,
            Err(Dropped::QueueFull) => self.counters.queue_full += 1,
        }
        self.pool.put(buf);
    }

    /// Frames in flight now, and frame buffers ever made (the most ever in flight).
    pub fn in_flight(&self) -> (usize, usize) {
        (self.flight.len(), self.pool.len())
    }
}
