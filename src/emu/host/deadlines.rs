//! The workers' deadlines of a [`super::SimClient`]: a heap with lazy invalidation (an entry is
//! stale unless it is its worker's deadline now) that files a deadline once, not again at
//! every step of its worker while it stands (a keep-alive worker steps at every segment, and
//! the copies made the heap deep and its stale pops many). The entries that count are the
//! ones filing at every step would keep, so the due workers and the first deadline are the
//! same. Must not import the client: it asks for a worker's deadline by a closure.

use smoltcp::time::Instant;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Debug, Default)]
pub struct Deadlines {
    heap: BinaryHeap<Reverse<(Instant, usize)>>,
    /// Per worker: a deadline that has an entry in the heap (filed and not taken out since).
    filed: Vec<Option<Instant>>,
}

impl Deadlines {
    /// Worker `i`'s deadline is `at` (`None`: it has none).
    pub fn watch(&mut self, i: usize, at: Option<Instant>) {
        let Some(at) = at else { return };
        if self.filed.len() <= i {
            self.filed.resize(i + 1, None);
        }
        if self.filed[i] != Some(at) {
            self.filed[i] = Some(at);
            self.heap.push(Reverse((at, i)));
        }
    }

    /// The top entry, taken out.
    fn pop(&mut self) -> Option<(Instant, usize)> {
        let Reverse((at, i)) = self.heap.pop()?;
        if self.filed[i] == Some(at) {
            self.filed[i] = None;
        }
        Some((at, i))
    }

    /// Adds to `due` every worker whose deadline (`deadline(i)`) came by `now`; their
    /// entries are taken out.
    pub fn take_due(
        &mut self,
        now: Instant,
        deadline: impl Fn(usize) -> Option<Instant>,
        due: &mut Vec<usize>,
    ) {
        while let Some(&Reverse((at, _))) = self.heap.peek() {
            if at > now {
                break;
            }
            if let Some((at, i)) = self.pop()
                && deadline(i) == Some(at)
            {
                due.push(i);
            }
        }
    }

    /// The first deadline still standing (stale entries on top are dropped).
    pub fn first(&mut self, deadline: impl Fn(usize) -> Option<Instant>) -> Option<Instant> {
        while let Some(&Reverse((at, i))) = self.heap.peek() {
            if deadline(i) == Some(at) {
                return Some(at);
            }
            self.pop();
        }
        None
    }

    /// Entries in the heap, standing and stale.
    #[cfg(test)]
    pub fn entries(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn at(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn a_standing_deadline_is_filed_once() {
        let mut d = Deadlines::default();
        for _ in 0..100 {
            d.watch(3, Some(at(10)));
            d.watch(1, None);
        }
        assert_eq!(d.entries(), 1);
        assert_eq!(d.first(|i| (i == 3).then_some(at(10))), Some(at(10)));
        let mut due = Vec::new();
        d.take_due(at(10), |i| (i == 3).then_some(at(10)), &mut due);
        assert_eq!((due, d.entries()), (vec![3], 0));
        // Taken out, the same deadline set again is filed again.
        d.watch(3, Some(at(10)));
        assert_eq!(d.first(|_| Some(at(10))), Some(at(10)));
    }

    /// Filing at every step, as the client did: the reference.
    #[derive(Default)]
    struct EveryStep(BinaryHeap<Reverse<(Instant, usize)>>);

    impl EveryStep {
        fn take_due(&mut self, now: Instant, deadline: &[Option<Instant>]) -> Vec<usize> {
            let mut due = Vec::new();
            while let Some(&Reverse((t, i))) = self.0.peek() {
                if t > now {
                    break;
                }
                self.0.pop();
                if deadline[i] == Some(t) {
                    due.push(i);
                }
            }
            due
        }

        fn first(&mut self, deadline: &[Option<Instant>]) -> Option<Instant> {
            while let Some(&Reverse((t, i))) = self.0.peek() {
                if deadline[i] == Some(t) {
                    return Some(t);
                }
                self.0.pop();
            }
            None
        }
    }

    #[test]
    fn due_workers_and_the_first_deadline_are_those_of_filing_at_every_step() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (mut d, mut reference) = (Deadlines::default(), EveryStep::default());
        let mut deadline: Vec<Option<Instant>> = vec![None; 8];
        let mut now = 0;
        for _ in 0..100_000 {
            let i = rng.random_range(0..8);
            match rng.random_range(0..6) {
                // A new deadline, one it had before, none; not always watched after.
                0 => deadline[i] = Some(at(now + rng.random_range(0..20))),
                1 => deadline[i] = deadline[i].map(|_| at(now + 5)),
                2 => deadline[i] = None,
                3 => now += rng.random_range(0..4),
                _ => {}
            }
            if rng.random_bool(0.7) {
                d.watch(i, deadline[i]);
                reference.0.extend(deadline[i].map(|t| Reverse((t, i))));
            }
            // The client sorts and dedups the due workers.
            let (mut due, mut want) = (Vec::new(), reference.take_due(at(now), &deadline));
            d.take_due(at(now), |i| deadline[i], &mut due);
            for list in [&mut due, &mut want] {
                list.sort_unstable();
                list.dedup();
            }
            assert_eq!(due, want);
            assert_eq!(d.first(|i| deadline[i]), reference.first(&deadline));
        }
    }
}
