//! Two sync nodes on an in-memory link with a hand-moved clock, each with a fake connection
//! table.
//!
//! Messages go through the real wire code and arrive at the instant they are sent (zero
//! latency), in send order, to the other node only (the director filters its own). Faults:
//! `cut[i]` loses everything node `i` sends, `lose` loses chosen entries messages, `paused`
//! holds messages in flight until it is cleared. After each step every node's deadline must lie
//! in the future: a deadline that is due but yields nothing would spin the director. Every
//! message sent must be one a Linux backup reads as version 1 and installs whole
//! ([`wire::kernel::reads`]), each connection at most once.

use super::super::*;
use super::table::FakeTable;
use crate::sync::wire::kernel::{self, Kernel};
use crate::sync::wire::{self, ControlKind, Message};
use std::collections::VecDeque;

/// Rounds of messages within one instant before the link calls it a storm.
const STORM: usize = 100_000;

/// What went over the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Entries { seq: u16, count: usize },
    Control { kind: ControlKind, value: u16 },
}

/// One message sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub at: Instant,
    pub from: usize,
    pub len: usize,
    pub kind: Kind,
}

pub struct Net {
    pub now: Instant,
    pub nodes: [SyncNode; 2],
    pub tables: [FakeTable; 2],
    /// Everything node `i` sends is lost.
    pub cut: [bool; 2],
    /// Entries messages lost: (from, seq).
    pub lose: Vec<(usize, u16)>,
    /// Messages stay in flight while set.
    pub paused: bool,
    pub log: Vec<Sent>,
    /// The entries of every entries message: (sent at, from, entries).
    pub carried: Vec<(Instant, usize, Vec<SyncEntry>)>,
    in_flight: VecDeque<(usize, Vec<u8>)>,
}

impl Net {
    /// Two idle nodes with these configs, at time 0.
    pub fn new(configs: [SyncConfig; 2]) -> Net {
        Net {
            now: Instant::ZERO,
            nodes: configs.map(|c| SyncNode::new(c).unwrap()),
            tables: [FakeTable::default(), FakeTable::default()],
            cut: [false; 2],
            lose: Vec::new(),
            paused: false,
            log: Vec::new(),
            carried: Vec::new(),
            in_flight: VecDeque::new(),
        }
    }

    /// Node 0 master, node 1 backup, both started at 0 with [`SyncConfig::default`].
    pub fn pair() -> Net {
        let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
        net.nodes[0].set_master(Instant::ZERO, true);
        net.nodes[1].set_master(Instant::ZERO, false);
        net.step();
        net
    }

    /// The data plane of node `i` creates or changes `entry` now and tells its sync node.
    pub fn change(&mut self, i: usize, entry: SyncEntry) {
        self.tables[i].put(now_ms(self.now), entry);
        self.nodes[i].note_change(self.now, entry);
    }

    pub fn set_master(&mut self, i: usize, master: bool) {
        self.nodes[i].set_master(self.now, master);
    }

    pub fn counters(&self, i: usize) -> SyncCounters {
        self.nodes[i].counters(self.now)
    }

    /// Hands `payload` to node `to` as if it came from the link.
    pub fn inject(&mut self, to: usize, payload: &[u8]) -> Result<(), WireError> {
        let (node, table) = (&mut self.nodes[to], &mut self.tables[to]);
        node.handle_message(self.now, payload, table)
    }

    /// Runs every deadline up to and including `t`, then stays at `t`.
    pub fn run_until(&mut self, t: Instant) {
        loop {
            self.step();
            match self.next_deadline() {
                Some(next) if next <= t => self.now = next,
                _ => {
                    self.now = t;
                    self.step();
                    return;
                }
            }
        }
    }

    /// Messages sent by `from` within `[start, end)`.
    pub fn sent(&self, from: usize, start: Instant, end: Instant) -> Vec<Sent> {
        let range = start..end;
        let mine = |s: &&Sent| s.from == from && range.contains(&s.at);
        self.log.iter().filter(mine).copied().collect()
    }

    /// Entries messages sent by `from` within `[start, end)`.
    pub fn entries_msgs(&self, from: usize, start: Instant, end: Instant) -> Vec<Sent> {
        let is_entries = |s: &Sent| matches!(s.kind, Kind::Entries { .. });
        let all = self.sent(from, start, end);
        all.into_iter().filter(is_entries).collect()
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.nodes.iter().filter_map(|n| n.poll_timeout()).min()
    }

    /// Expires the tables, then sends and delivers until nothing moves.
    pub fn step(&mut self) {
        for table in &mut self.tables {
            table.expire(now_ms(self.now));
        }
        for _ in 0..STORM {
            let sent = self.transmit();
            let delivered = self.deliver();
            if !sent && !delivered {
                for (i, node) in self.nodes.iter().enumerate() {
                    if let Some(at) = node.poll_timeout() {
                        assert!(
                            at > self.now,
                            "node {i} due at {at} but sent nothing at {}",
                            self.now
                        );
                    }
                }
                return;
            }
        }
        panic!("message storm at {}", self.now);
    }

    fn transmit(&mut self) -> bool {
        let mut buf = [0u8; 2048];
        let mut any = false;
        for from in 0..2 {
            while let Some(len) =
                self.nodes[from].poll_transmit(self.now, &self.tables[from], &mut buf)
            {
                any = true;
                let bytes = buf[..len].to_vec();
                let msg = wire::parse(&bytes).expect("a node sent a malformed message");
                let read = kernel::reads(&bytes, msg.syncid());
                let kind = match msg {
                    Message::Entries { seq, entries, .. } => {
                        let carried: Vec<SyncEntry> = entries.collect();
                        check_kernel(&read, &carried);
                        self.carried.push((self.now, from, carried.clone()));
                        Kind::Entries {
                            seq: seq.expect("an entries message without a sequence number"),
                            count: carried.len(),
                        }
                    }
                    Message::Control { kind, value, .. } => {
                        check_kernel(&read, &[]);
                        Kind::Control { kind, value }
                    }
                };
                self.log.push(Sent {
                    at: self.now,
                    from,
                    len,
                    kind,
                });
                let lost = match kind {
                    Kind::Entries { seq, .. } => self.lose.contains(&(from, seq)),
                    Kind::Control { .. } => false,
                };
                if !self.cut[from] && !lost {
                    self.in_flight.push_back((from, bytes));
                }
            }
        }
        any
    }

    fn deliver(&mut self) -> bool {
        if self.paused || self.in_flight.is_empty() {
            return false;
        }
        while let Some((from, bytes)) = self.in_flight.pop_front() {
            self.inject(1 - from, &bytes)
                .expect("a node rejected a message");
        }
        true
    }
}

/// A Linux backup reads the message as version 1 and installs every entry: the same
/// connections, each once.
fn check_kernel(read: &Kernel, carried: &[SyncEntry]) {
    let installed = read
        .installed_all()
        .unwrap_or_else(|| panic!("a kernel backup would not install it whole: {read:?}"));
    let keys: Vec<_> = installed
        .iter()
        .map(|c| {
            (
                c.protocol,
                c.flags & 0x1000,
                c.caddr,
                c.cport,
                c.vaddr,
                c.vport,
            )
        })
        .collect();
    let ours: Vec<_> = carried
        .iter()
        .map(|e| {
            let template = if e.template { 0x1000 } else { 0 };
            let (client, vip) = (e.client.octets(), e.vip.octets());
            (e.protocol, template, client, e.client_port, vip, e.vport)
        })
        .collect();
    assert_eq!(
        keys, ours,
        "what a kernel reads differs from what tapvs reads"
    );
    let mut distinct = keys.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        keys.len(),
        "a connection twice in one message"
    );
}
