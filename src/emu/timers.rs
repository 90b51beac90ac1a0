//! The nodes' deadlines for the event loop: a binary heap of (deadline, node, stamp) with lazy
//! invalidation, so that finding the earliest of n nodes' deadlines costs O(log n) per event
//! instead of a scan of every node. Setting a node's deadline pushes a new entry and makes the
//! old one stale (its stamp no longer matches); stale entries are dropped when they reach the
//! top, and all at once when they outnumber the live ones (no allocation after warm-up).
//!
//! Order: earliest deadline first; at one instant, the lowest node first (the order of the
//! former scan, and never a memory address), so a run is a function of the seed. It must not
//! import the fabric or the nodes.

use smoltcp::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Stale entries allowed beyond the live ones before the heap is swept.
const SLACK: usize = 64;

/// One node's live deadline: when, and the stamp of its heap entry.
#[derive(Debug, Clone, Copy)]
struct Armed {
    at: Instant,
    stamp: u64,
}

/// Every node's deadline, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    armed: Vec<Option<Armed>>,
    stamp: u64,
    live: usize,
}

impl Timers {
    /// Sets `node`'s deadline (`None`: it has none); an unchanged deadline costs nothing.
    pub fn set(&mut self, node: usize, at: Option<Instant>) {
        if self.armed.len() <= node {
            self.armed.resize(node + 1, None);
        }
        let old = self.armed[node].map(|a| a.at);
        if old == at {
            return;
        }
        if old.is_some() {
            self.live -= 1;
        }
        self.armed[node] = at.map(|at| {
            self.stamp += 1;
            self.live += 1;
            self.heap.push(Reverse((at, node, self.stamp)));
            Armed {
                at,
                stamp: self.stamp,
            }
        });
        if self.heap.len() > 2 * self.live + SLACK {
            let armed = &self.armed;
            self.heap.retain(|e| is_live(armed, e));
        }
    }

    /// `node`'s deadline.
    pub fn get(&self, node: usize) -> Option<Instant> {
        self.armed.get(node).copied().flatten().map(|a| a.at)
    }

    /// The earliest deadline and its node (the lowest node of those due then).
    pub fn peek(&mut self) -> Option<(Instant, usize)> {
        while let Some(top) = self.heap.peek() {
            if is_live(&self.armed, top) {
                let Reverse((at, node, _)) = *top;
                return Some((at, node));
            }
            self.heap.pop();
        }
        None
    }

    /// Entries in the heap, live and stale (for tests and measurements).
    pub fn entries(&self) -> usize {
        self.heap.len()
    }
}

fn is_live(
    armed: &[Option<Armed>],
    Reverse((at, node, stamp)): &Reverse<(Instant, usize, u64)>,
) -> bool {
    armed
        .get(*node)
        .copied()
        .flatten()
        .is_some_and(|a| a.stamp == *stamp && a.at == *at)
}
