//! A hub for the hosts' tests: every frame a node sends reaches every other node after a fixed
//! one-way delay, in virtual time moved by hand. The fabric proper is built elsewhere.

use crate::emu::Node;
use crate::emu::gso::{MAX_SUPER_FRAME, segment};
use crate::emu::host::MAX_FRAME;
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash};

/// One-way delay of the hub.
pub const DELAY: Duration = Duration::from_micros(50);

pub struct Hub<'a> {
    pub nodes: Vec<&'a mut dyn Node>,
    pub now: Instant,
    /// Frames on the wire: when they arrive, from which node, the bytes.
    pub wire: VecDeque<(Instant, usize, Vec<u8>)>,
    /// A hash of every frame sent and its time: equal traces, equal hashes.
    pub trace: DefaultHasher,
    pub frames: u64,
    /// When set, every frame sent: its time, the sending node and the bytes.
    pub log: Option<Vec<(Instant, usize, Vec<u8>)>>,
    /// Cut GSO super-frames to the MTU on the wire (as a device without offloads does).
    pub cut: bool,
}

impl<'a> Hub<'a> {
    pub fn new(nodes: Vec<&'a mut dyn Node>) -> Self {
        Self {
            nodes,
            now: Instant::ZERO,
            wire: VecDeque::new(),
            trace: DefaultHasher::new(),
            frames: 0,
            log: None,
            cut: false,
        }
    }

    /// Puts `frame` from node `from` on the wire.
    fn send(&mut self, from: usize, frame: Vec<u8>) {
        self.now.total_micros().hash(&mut self.trace);
        frame.hash(&mut self.trace);
        self.frames += 1;
        if let Some(log) = &mut self.log {
            log.push((self.now, from, frame.clone()));
        }
        self.wire.push_back((self.now + DELAY, from, frame));
    }

    /// Runs until nothing is left to do, `done` holds, or `until` is reached.
    pub fn run(&mut self, until: Instant, mut done: impl FnMut(&mut Self) -> bool) {
        let (mut buf, mut piece) = (vec![0; MAX_SUPER_FRAME], vec![0; MAX_FRAME]);
        loop {
            for from in 0..self.nodes.len() {
                while let Some((_, len)) = self.nodes[from].poll_transmit(self.now, &mut buf) {
                    let mut pieces = Vec::new();
                    if self.cut {
                        let cut = segment(&buf[..len], &mut piece, |p| pieces.push(p.to_vec()));
                        cut.expect("TCP");
                    } else {
                        pieces.push(buf[..len].to_vec());
                    }
                    for frame in pieces {
                        self.send(from, frame);
                    }
                }
            }
            if done(self) {
                return;
            }
            let timers = self.nodes.iter_mut().filter_map(|n| n.poll_timeout());
            let arrival = self.wire.front().map(|f| f.0);
            let Some(next) = timers.chain(arrival).min() else {
                return;
            };
            if next > until {
                self.now = until;
                return;
            }
            self.now = self.now.max(next);
            while self.wire.front().is_some_and(|f| f.0 <= self.now) {
                let Some((_, from, mut frame)) = self.wire.pop_front() else {
                    break;
                };
                for (i, node) in self.nodes.iter_mut().enumerate() {
                    if i != from {
                        let mut copy = frame.clone();
                        node.handle_frame(self.now, 0, &mut copy);
                    }
                }
                frame.clear();
            }
            for node in &mut self.nodes {
                if node.poll_timeout().is_some_and(|t| t <= self.now) {
                    node.handle_timeout(self.now);
                }
            }
        }
    }
}
