//! The frames waiting for neighbours to resolve, as Linux bounds them: each unresolved
//! neighbour's frames in arrival order, charged by size against a byte budget
//! (`unres_qlen_bytes`: a frame costs its length plus the kernel's per-buffer overhead), the
//! oldest dropped first; all drawn from one pool of frame slots allocated at
//! [`FrameQueues::new`]. Pushing and popping allocate nothing.

use super::gso::segment;
use crate::wire::MAX_FRAME_LEN;
use std::collections::VecDeque;

/// What Linux charges a queued buffer beyond its bytes (`SKB_TRUESIZE`'s `sk_buff` and
/// shared info, about 576 bytes on x86-64): 101 full-size frames fit the default 212,992-byte
/// budget, as `unres_qlen` reads there, and about 330 SYNs.
pub const SKB_OVERHEAD: usize = 576;

/// The end of a list.
const NIL: u32 = u32::MAX;

/// One neighbour's queued frames: slot indices linked through `FrameQueues::next`.
#[derive(Debug, Clone, Copy)]
struct List {
    head: u32,
    tail: u32,
    count: usize,
    bytes: usize,
}

const EMPTY: List = List {
    head: NIL,
    tail: NIL,
    count: 0,
    bytes: 0,
};

pub struct FrameQueues {
    /// Bytes (frames plus overhead) queued per neighbour at most.
    budget: usize,
    data: Vec<u8>,
    /// Length of the frame in each slot.
    lens: Vec<u16>,
    /// The next slot of the same list (or of the free list).
    next: Vec<u32>,
    free: u32,
    lists: Vec<List>,
    ready: VecDeque<usize>,
}

impl FrameQueues {
    /// Queues for `entries` neighbours of `budget` bytes each, sharing `slots` frame slots.
    pub fn new(entries: usize, budget: usize, slots: usize) -> FrameQueues {
        let slots = slots.min(NIL as usize);
        FrameQueues {
            budget,
            data: vec![0; slots * MAX_FRAME_LEN],
            lens: vec![0; slots],
            next: (1..=slots as u32)
                .map(|n| if n as usize == slots { NIL } else { n })
                .collect(),
            free: if slots == 0 { NIL } else { 0 },
            lists: vec![EMPTY; entries],
            ready: VecDeque::with_capacity(entries),
        }
    }

    pub fn is_empty(&self, entry: usize) -> bool {
        self.lists[entry].count == 0
    }

    /// Appends `frame` (a super-frame in MTU-sized pieces) to `entry`'s queue; returns how many frames
    /// were dropped for it: the oldest ones over the budget (or when every slot is taken), or
    /// `frame` itself when it cannot fit at all.
    pub fn push(&mut self, entry: usize, frame: &[u8]) -> u64 {
        if frame.len() > MAX_FRAME_LEN {
            // A GSO super-frame: Linux queues it whole; here it goes in cut to the slots'
            // size, each piece charged (a super-frame is rarely held: its peer has spoken).
            let mut piece = [0; MAX_FRAME_LEN];
            let mut dropped = 0;
            return match segment(frame, &mut piece, |p| dropped += self.push(entry, p)) {
                Ok(_) => dropped,
                Err(_) => 1,
            };
        }
        let len = frame.len();
        let cost = len + SKB_OVERHEAD;
        if cost > self.budget {
            return 1;
        }
        let mut dropped = 0;
        while self.lists[entry].bytes + cost > self.budget {
            self.pop_front(entry);
            dropped += 1;
        }
        if self.free == NIL {
            if self.is_empty(entry) {
                return dropped + 1;
            }
            self.pop_front(entry);
            dropped += 1;
        }
        let slot = self.free;
        self.free = self.next[slot as usize];
        let at = slot as usize;
        self.data[at * MAX_FRAME_LEN..][..len].copy_from_slice(&frame[..len]);
        self.lens[at] = len as u16;
        self.next[at] = NIL;
        let list = &mut self.lists[entry];
        if list.tail == NIL {
            list.head = slot;
        } else {
            self.next[list.tail as usize] = slot;
        }
        list.tail = slot;
        list.count += 1;
        list.bytes += cost;
        dropped
    }

    /// Removes `entry`'s oldest frame (there is one) and frees its slot; returns the slot.
    fn pop_front(&mut self, entry: usize) -> usize {
        let list = &mut self.lists[entry];
        let slot = list.head as usize;
        list.head = self.next[slot];
        if list.head == NIL {
            list.tail = NIL;
        }
        list.count -= 1;
        list.bytes -= usize::from(self.lens[slot]) + SKB_OVERHEAD;
        self.next[slot] = self.free;
        self.free = slot as u32;
        slot
    }

    /// Drops `entry`'s frames; how many there were.
    pub fn clear(&mut self, entry: usize) -> usize {
        let count = self.lists[entry].count;
        while !self.is_empty(entry) {
            self.pop_front(entry);
        }
        count
    }

    /// `entry`'s frames may leave.
    pub fn mark_ready(&mut self, entry: usize) {
        if !self.is_empty(entry) && !self.ready.contains(&entry) {
            self.ready.push_back(entry);
        }
    }

    /// The oldest frame of the first ready entry that `valid` still accepts, copied into
    /// `buf`: the entry and the length. Entries no longer valid or empty leave the list.
    pub fn pop_ready(
        &mut self,
        buf: &mut [u8],
        valid: impl Fn(usize) -> bool,
    ) -> Option<(usize, usize)> {
        loop {
            let entry = *self.ready.front()?;
            if self.is_empty(entry) || !valid(entry) {
                self.ready.pop_front();
                continue;
            }
            // The slot's bytes stay intact until the next push.
            let slot = self.pop_front(entry);
            let len = usize::from(self.lens[slot]).min(buf.len());
            buf[..len].copy_from_slice(&self.data[slot * MAX_FRAME_LEN..][..len]);
            if self.is_empty(entry) {
                self.ready.pop_front();
            }
            return Some((entry, len));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8, len: usize) -> Vec<u8> {
        vec![tag; len]
    }

    fn drain(q: &mut FrameQueues, entry: usize) -> Vec<(u8, usize)> {
        q.mark_ready(entry);
        let mut buf = [0u8; MAX_FRAME_LEN];
        let mut out = Vec::new();
        while let Some((_, len)) = q.pop_ready(&mut buf, |_| true) {
            out.push((buf[0], len));
        }
        out
    }

    #[test]
    fn the_budget_counts_bytes_so_small_frames_queue_deeper() {
        let mut q = FrameQueues::new(2, 212_992, 4096);
        let full: u64 = (0..110).map(|t| q.push(0, &frame(t, 1514))).sum();
        assert_eq!(full, 9, "101 full-size frames fit, the 9 oldest dropped");
        let syns: u64 = (0..400).map(|t| q.push(1, &frame(t as u8, 74))).sum();
        assert_eq!(syns, 400 - 212_992 / (74 + SKB_OVERHEAD) as u64);
        let kept = drain(&mut q, 0);
        assert_eq!(kept.len(), 101);
        assert_eq!(kept[0], (9, 1514), "oldest first, in order");
    }

    #[test]
    fn slots_are_shared_and_returned() {
        let mut q = FrameQueues::new(3, 100_000, 4);
        assert_eq!(q.push(0, &frame(1, 60)), 0);
        assert_eq!(q.push(0, &frame(2, 60)), 0);
        assert_eq!(q.push(1, &frame(3, 60)), 0);
        assert_eq!(q.push(1, &frame(4, 60)), 0);
        // The pool is full: a neighbour with frames gives up its oldest, one without its new one.
        assert_eq!(q.push(1, &frame(5, 60)), 1);
        assert_eq!(q.push(2, &frame(6, 60)), 1);
        assert_eq!(q.clear(0), 2);
        assert_eq!(q.push(2, &frame(7, 60)), 0);
        assert_eq!(drain(&mut q, 1), [(4, 60), (5, 60)]);
        assert_eq!(drain(&mut q, 2), [(7, 60)]);
        assert!(q.is_empty(0) && q.is_empty(1) && q.is_empty(2));
    }

    #[test]
    fn a_gso_super_frame_waits_cut_to_the_mtu() {
        let mut q = FrameQueues::new(1, 212_992, 64);
        let whole = crate::emu::gso::tests::segment_at(1, &[7; 10_000], true);
        assert_eq!(q.push(0, &whole), 0);
        let lens: Vec<usize> = drain(&mut q, 0).iter().map(|f| f.1).collect();
        assert_eq!(
            lens,
            [1514, 1514, 1514, 1514, 1514, 1514, 10_000 - 6 * 1448 + 66]
        );
        // A long frame that is not TCP cannot be cut: dropped.
        let mut udp = whole.clone();
        udp[14 + 9] = 17;
        assert_eq!(q.push(0, &udp), 1);
        assert!(q.is_empty(0));
    }

    #[test]
    fn a_frame_over_the_budget_is_dropped_itself() {
        let mut q = FrameQueues::new(1, 1000, 8);
        assert_eq!(q.push(0, &frame(1, 300)), 0);
        assert_eq!(
            q.push(0, &frame(2, 600)),
            1,
            "too big for any budget of 1000"
        );
        assert_eq!(drain(&mut q, 0), [(1, 300)]);
    }
}
