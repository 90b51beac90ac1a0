//! The nodes' deadlines for the event loop: a tournament tree over the nodes, each leaf a node's
//! deadline and each inner entry the earlier of its two children, so the earliest of n nodes'
//! deadlines is the root, read in O(1), and setting one node's deadline replays only its path
//! to the root (log2 n comparisons, nothing pushed, nothing stale, no allocation once every
//! node is known). A node's deadline changes after almost every frame it handles, so this is
//! the loop's most frequent bookkeeping.
//!
//! Order: earliest deadline first; at one instant, the lowest node first (the order of a scan
//! of every node, and never a memory address), so a run is a function of the seed. It must not
//! import the fabric or the nodes.

use smoltcp::time::Instant;

/// A deadline and its node as one integer that orders by time, then by node: the time (in
/// microseconds, offset so that it is never negative) in the high bits, the node in the low
/// [`NODE_BITS`]. [`NONE`] is after every deadline.
type Key = u64;

const NONE: Key = Key::MAX;
/// Bits for the node: a lab has at most 2^17 nodes.
const NODE_BITS: u32 = 17;
/// Deadlines are kept within +-2^46 µs (2.2 years) of time zero: one further away is, for any
/// lab, the same as one at the edge.
const SPAN: i64 = 1 << 46;

fn key(at: Instant, node: usize) -> Key {
    let at = at.total_micros().clamp(-SPAN, SPAN - 1) + SPAN;
    ((at as u64) << NODE_BITS) | node as u64
}

fn unkey(key: Key) -> (Instant, usize) {
    let at = (key >> NODE_BITS) as i64 - SPAN;
    let node = (key & ((1 << NODE_BITS) - 1)) as usize;
    (Instant::from_micros(at), node)
}

/// Every node's deadline, earliest first.
#[derive(Debug, Default)]
pub struct Timers {
    /// The tree in an array: entry 1 is the root, entry i's children are 2i and 2i + 1, and
    /// the leaves (one per node, padded to a power of two) start at `leaves`.
    tree: Vec<Key>,
    leaves: usize,
}

impl Timers {
    /// Sets `node`'s deadline (`None`: it has none); an unchanged deadline costs one compare.
    pub fn set(&mut self, node: usize, at: Option<Instant>) {
        if node >= self.leaves {
            self.grow(node + 1);
        }
        let new = at.map_or(NONE, |at| key(at, node));
        let mut i = self.leaves + node;
        if self.tree[i] == new {
            return;
        }
        self.tree[i] = new;
        while i > 1 {
            let parent = i / 2;
            let best = self.tree[i].min(self.tree[i ^ 1]);
            if self.tree[parent] == best {
                return;
            }
            self.tree[parent] = best;
            i = parent;
        }
    }

    /// `node`'s deadline.
    pub fn get(&self, node: usize) -> Option<Instant> {
        if node >= self.leaves {
            return None;
        }
        let k = self.tree[self.leaves + node];
        (k != NONE).then(|| unkey(k).0)
    }

    /// The earliest deadline and its node (the lowest node of those due then).
    pub fn peek(&self) -> Option<(Instant, usize)> {
        let root = *self.tree.get(1)?;
        (root != NONE).then(|| unkey(root))
    }

    /// Room for `nodes` leaves: the tree is rebuilt at twice the size (a lab adds its nodes
    /// before it runs, so this happens only while it is built).
    fn grow(&mut self, nodes: usize) {
        assert!(nodes <= 1 << NODE_BITS, "more than 2^{NODE_BITS} nodes");
        let leaves = nodes.next_power_of_two().max(2);
        let old: Vec<Key> = self.tree.get(self.leaves..).unwrap_or_default().to_vec();
        self.tree = vec![NONE; 2 * leaves];
        self.tree[leaves..leaves + old.len()].copy_from_slice(&old);
        self.leaves = leaves;
        for i in (1..leaves).rev() {
            self.tree[i] = self.tree[2 * i].min(self.tree[2 * i + 1]);
        }
    }
}
