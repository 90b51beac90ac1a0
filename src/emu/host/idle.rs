//! The free workers of a [`super::SimClient`]: which one takes the next request (of those whose
//! think time is over, the one free the longest, then the lowest numbered: `tapvs client`'s
//! free workers each claim the next arrival as soon as they are free) and when the
//! first one may, at a heap step each instead of a walk over every worker. Entries are
//! checked when they come out (a worker filed twice, or busy again, is skipped).

use smoltcp::time::Instant;
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

#[derive(Debug, Default)]
pub struct Idle {
    /// Free workers by the time they may start (`not_before`), and their number.
    waiting: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Free workers whose time has come, by (free since, number); only a claim makes them busy.
    ready: BTreeSet<(Instant, usize)>,
}

impl Idle {
    /// Worker `i` is free from `not_before` on.
    pub fn file(&mut self, i: usize, not_before: Instant) {
        self.waiting.push(Reverse((not_before, i)));
    }

    /// Moves the workers free by `now` to the ready ones; `valid(i, t)`: worker `i` is free
    /// and may start at `t`.
    fn settle(&mut self, now: Instant, valid: impl Fn(usize, Instant) -> bool) {
        while let Some(&Reverse((t, i))) = self.waiting.peek() {
            if t > now {
                break;
            }
            self.waiting.pop();
            if valid(i, t) {
                self.ready.insert((t, i));
            }
        }
    }

    /// The worker free the longest by `now` (then the lowest numbered), taken (it is about to
    /// be busy).
    pub fn claim(&mut self, now: Instant, valid: impl Fn(usize, Instant) -> bool) -> Option<usize> {
        self.settle(now, valid);
        self.ready.pop_first().map(|(_, i)| i)
    }

    /// When the first free worker may start: `Instant::ZERO` if one may already.
    pub fn first(&mut self, valid: impl Fn(usize, Instant) -> bool) -> Option<Instant> {
        if !self.ready.is_empty() {
            return Some(Instant::ZERO);
        }
        while let Some(&Reverse((t, i))) = self.waiting.peek() {
            if valid(i, t) {
                return Some(t);
            }
            self.waiting.pop();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn the_worker_free_the_longest_is_claimed_and_stale_entries_are_skipped() {
        let mut idle = Idle::default();
        // Worker 5 free from 10 ms, worker 2 from 20 ms, worker 7 from 5 ms but busy again.
        let free = |i: usize, t: Instant| (i == 5 && t == at(10)) || (i == 2 && t == at(20));
        for (i, t) in [(5, 10), (2, 20), (7, 5)] {
            idle.file(i, at(t));
        }
        assert_eq!(idle.first(free), Some(at(10)), "7 is busy: 5 is first");
        assert_eq!(idle.claim(at(9), free), None, "nobody yet");
        assert_eq!(
            idle.claim(at(30), free),
            Some(5),
            "both free: the one free since 10 ms"
        );
        assert_eq!(idle.first(free), Some(Instant::ZERO), "2 may start already");
        assert_eq!(idle.claim(at(30), free), Some(2));
        assert_eq!(idle.claim(at(40), free), None);
        assert_eq!(idle.first(free), None);
    }
}
