//! The frames in flight of the event loop, earliest landing first and, at one instant, the
//! frame sent first. Most cables have a fixed latency (20 µs, a director's 50 µs; a frame
//! switched as it is sent takes the sum of its two cables'), and frames are sent in time
//! order, so the frames that were sent with one same delay land in the order
//! they were sent: each such delay gets a FIFO lane, and the next frame is the earliest of a
//! few lane heads instead of a heap pop (O(log n) moves of the whole entry, which a burst of
//! hundreds of frames in flight makes dear). Frames of other delays (jitter, a rate limit)
//! wait in a heap. The order is exactly the one heap's: by landing time, then by sending order.
//!
//! Lanes and heap keep their capacity: after warm-up a frame's trip allocates nothing. It must
//! not import the nodes.

use super::fabric::Hop;
use smoltcp::time::Instant;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// FIFO lanes: enough for a lab's distinct fixed delays in flight at once (syn-flood,
/// rs-slow-link, sync-delay and dr-basic never have more than three busy at once, and never
/// fall back to the heap).
const LANES: usize = 4;

/// A frame in flight: it lands at `hop` at `at`; `seq` is its place in the sending order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct InFlight {
    pub at: Instant,
    pub seq: u64,
    pub hop: Hop,
    pub buf: u32,
    pub len: u32,
}

impl InFlight {
    /// The order of landing: by time, then by sending order, as one integer (the time's sign
    /// bit flipped).
    fn packed(&self) -> u128 {
        let at = (self.at.total_micros() as u64) ^ (1 << 63);
        (u128::from(at) << 64) | u128::from(self.seq)
    }
}

/// The packed key of an empty lane: after every frame's.
const NO_FRAME: u128 = u128::MAX;

/// Frames sent with one delay, in sending order (and so in landing order).
#[derive(Debug, Default)]
struct Lane {
    delay: i64,
    frames: VecDeque<InFlight>,
}

/// Where the next frame to land waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    Lane(usize),
    Heap,
}

/// Every frame in flight.
#[derive(Debug)]
pub struct Flight {
    lanes: [Lane; LANES],
    /// Each lane's first frame's packed key, side by side ([`NO_FRAME`]: empty), so that
    /// finding the next frame reads one cache line, not every lane's buffer.
    fronts: [u128; LANES],
    heap: BinaryHeap<Reverse<InFlight>>,
    seq: u64,
    /// Where the frame that lands next waits, and when it lands (kept by push and pop).
    next: Option<(Head, Instant)>,
}

impl Default for Flight {
    fn default() -> Self {
        Flight {
            lanes: Default::default(),
            fronts: [NO_FRAME; LANES],
            heap: BinaryHeap::new(),
            seq: 0,
            next: None,
        }
    }
}

impl Flight {
    /// A frame sent at `now` (never before the previous call's `now`) lands at `hop` at `at`.
    pub fn push(&mut self, now: Instant, at: Instant, hop: Hop, buf: u32, len: u32) {
        self.seq += 1;
        let frame = InFlight {
            at,
            seq: self.seq,
            hop,
            buf,
            len,
        };
        // A lane stays sorted as long as every frame in it came with its delay: an empty lane
        // may take any delay.
        let delay = at.total_micros() - now.total_micros();
        let (mut lane, mut free) = (None, None);
        for (k, l) in self.lanes.iter().enumerate() {
            if l.frames.is_empty() {
                free = free.or(Some(k));
            } else if l.delay == delay {
                lane = Some(k);
                break;
            }
        }
        let lane = lane.or(free);
        let head = match lane {
            Some(k) if delay >= 0 => {
                let lane = &mut self.lanes[k];
                if lane.frames.is_empty() {
                    self.fronts[k] = frame.packed();
                }
                lane.delay = delay;
                lane.frames.push_back(frame);
                Head::Lane(k)
            }
            _ => {
                self.heap.push(Reverse(frame));
                Head::Heap
            }
        };
        // Sent last, it goes first only by landing strictly earlier than the first so far,
        // and then it is the head of its lane or of the heap.
        if self.next.is_none_or(|(_, first)| at < first) {
            self.next = Some((head, at));
        }
    }

    /// Where the frame that lands next waits, found by a look at every lane and the heap.
    fn head(&self) -> Option<(Head, Instant)> {
        let (mut best, mut lane) = (NO_FRAME, 0);
        for (k, &front) in self.fronts.iter().enumerate() {
            if front < best {
                (best, lane) = (front, k);
            }
        }
        let heap = self.heap.peek().map(|f| f.0);
        match heap {
            Some(f) if f.packed() < best => Some((Head::Heap, f.at)),
            _ if best != NO_FRAME => self.lanes[lane]
                .frames
                .front()
                .map(|f| (Head::Lane(lane), f.at)),
            _ => None,
        }
    }

    /// When the next frame lands.
    pub fn peek_at(&self) -> Option<Instant> {
        self.next.map(|(_, at)| at)
    }

    /// The next frame to land, taken out.
    pub fn pop(&mut self) -> Option<InFlight> {
        let frame = match self.next?.0 {
            Head::Lane(k) => {
                let frames = &mut self.lanes[k].frames;
                let frame = frames.pop_front();
                self.fronts[k] = frames.front().map_or(NO_FRAME, InFlight::packed);
                frame
            }
            Head::Heap => self.heap.pop().map(|Reverse(f)| f),
        };
        self.next = self.head();
        frame
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(|l| l.frames.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
