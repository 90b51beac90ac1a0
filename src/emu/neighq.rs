//! The frames waiting for a neighbour to resolve: a ring of `qlen` frame slots per
//! neighbour entry in one buffer allocated at [`FrameQueues::new`], and the list of entries
//! whose frames may now leave. Pushing and popping allocate nothing.

use crate::wire::MAX_FRAME_LEN;
use std::collections::VecDeque;

pub struct FrameQueues {
    qlen: usize,
    data: Vec<u8>,
    /// Length of the frame in each slot.
    lens: Vec<u16>,
    /// Per entry: its oldest slot and how many frames it holds.
    heads: Vec<(usize, usize)>,
    ready: VecDeque<usize>,
}

impl FrameQueues {
    /// Room for `qlen` frames for each of `entries` entries.
    pub fn new(entries: usize, qlen: usize) -> FrameQueues {
        FrameQueues {
            qlen,
            data: vec![0; entries * qlen * MAX_FRAME_LEN],
            lens: vec![0; entries * qlen],
            heads: vec![(0, 0); entries],
            ready: VecDeque::with_capacity(entries),
        }
    }

    pub fn is_empty(&self, entry: usize) -> bool {
        self.heads[entry].1 == 0
    }

    /// Appends `frame` (cut to [`MAX_FRAME_LEN`]) to `entry`'s queue; true if the oldest
    /// frame was dropped to make room (or, with no room at all, `frame` itself).
    pub fn push(&mut self, entry: usize, frame: &[u8]) -> bool {
        if self.qlen == 0 {
            return true;
        }
        let (head, count) = self.heads[entry];
        let dropped = count == self.qlen;
        let (head, count) = if dropped {
            ((head + 1) % self.qlen, count - 1)
        } else {
            (head, count)
        };
        let slot = entry * self.qlen + (head + count) % self.qlen;
        let len = frame.len().min(MAX_FRAME_LEN);
        self.data[slot * MAX_FRAME_LEN..][..len].copy_from_slice(&frame[..len]);
        self.lens[slot] = len as u16;
        self.heads[entry] = (head, count + 1);
        dropped
    }

    /// Drops `entry`'s frames; how many there were.
    pub fn clear(&mut self, entry: usize) -> usize {
        std::mem::take(&mut self.heads[entry].1)
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
            let (head, count) = self.heads[entry];
            if count == 0 || !valid(entry) {
                self.ready.pop_front();
                continue;
            }
            let slot = entry * self.qlen + head;
            let len = usize::from(self.lens[slot]).min(buf.len());
            buf[..len].copy_from_slice(&self.data[slot * MAX_FRAME_LEN..][..len]);
            self.heads[entry] = ((head + 1) % self.qlen, count - 1);
            if count == 1 {
                self.ready.pop_front();
            }
            return Some((entry, len));
        }
    }
}
