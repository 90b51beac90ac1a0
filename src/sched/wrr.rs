//! `wrr`: weighted round robin as IPVS does it. Passes over the server list with a falling
//! threshold, so picks interleave (1:2:3 gives C B C A B C, not A B B C C C).

use super::{Flow, Scheduler, ServerView};

/// The IPVS wrr walk: a cursor over the list and a current weight `cw`. Each pass picks, in
/// order, the servers whose weight is at least `cw`; at the end of a pass `cw` drops by the gcd
/// of the weights, and after the pass at `cw == gcd` the cycle restarts at the largest weight.
/// Also fills the sh/dh tables.
#[derive(Debug, Default, Clone)]
pub struct WeightedCycle {
    /// Index of the next server to look at; `servers.len()` means "end of pass".
    next: usize,
    /// Current weight threshold, a multiple of `gcd` in `gcd..=max`.
    cw: u32,
    /// Largest weight (0 = every server quiescent).
    max: u32,
    /// Greatest common divisor of the nonzero weights: the step of `cw`.
    gcd: u32,
}

impl WeightedCycle {
    /// A walk at the start of a cycle for these weights.
    pub fn new(servers: &[ServerView]) -> Self {
        let max = servers.iter().map(|s| s.weight).max().unwrap_or(0);
        let gcd = servers.iter().fold(0, |g, s| gcd(g, s.weight));
        Self {
            next: 0,
            cw: max,
            max,
            gcd,
        }
    }

    /// The next server of the cycle, or `None` when every weight is 0. `servers` must have the
    /// weights this walk was made for.
    pub fn next_pick(&mut self, servers: &[ServerView]) -> Option<usize> {
        if self.max == 0 || servers.is_empty() {
            return None;
        }
        // The heaviest server passes every threshold, so two passes always find one; the bound
        // only matters if the weights changed behind our back.
        for _ in 0..=2 * servers.len() {
            if self.next >= servers.len() {
                self.next = 0;
                self.cw = self.cw.saturating_sub(self.gcd);
                if self.cw == 0 {
                    self.cw = self.max;
                }
            }
            let i = self.next;
            self.next += 1;
            if servers[i].weight >= self.cw {
                return Some(i);
            }
        }
        None
    }
}

/// Euclid's greatest common divisor; `gcd(0, x) == x`.
pub fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Weighted round robin scheduler.
#[derive(Debug, Default, Clone)]
pub struct WeightedRoundRobin {
    cycle: WeightedCycle,
}

impl WeightedRoundRobin {
    pub fn new(servers: &[ServerView]) -> Self {
        Self {
            cycle: WeightedCycle::new(servers),
        }
    }
}

impl Scheduler for WeightedRoundRobin {
    /// Restarts the cycle from the first server at the highest weight.
    fn update(&mut self, servers: &[ServerView]) {
        self.cycle = WeightedCycle::new(servers);
    }

    fn schedule(&mut self, servers: &[ServerView], _flow: &Flow) -> Option<usize> {
        self.cycle.next_pick(servers)
    }

    fn name(&self) -> &'static str {
        "wrr"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_support::{picks, servers};

    #[test]
    fn one_two_three_interleaves_every_cycle() {
        let servers = servers(&[1, 2, 3]);
        let mut wrr = WeightedRoundRobin::new(&servers);
        let seq = picks(&mut wrr, &servers, 600);
        for cycle in seq.chunks(6) {
            assert_eq!(cycle, [2, 1, 2, 0, 1, 2]);
        }
    }

    #[test]
    fn common_factor_is_stepped_over() {
        // 20:40:60 must behave exactly like 1:2:3 (cw steps by the gcd, 20).
        let big = servers(&[20, 40, 60]);
        let small = servers(&[1, 2, 3]);
        let mut a = WeightedRoundRobin::new(&big);
        let mut b = WeightedRoundRobin::new(&small);
        assert_eq!(picks(&mut a, &big, 60), picks(&mut b, &small, 60));
    }

    #[test]
    fn counts_follow_coprime_weights() {
        let servers = servers(&[3, 5, 7]);
        let mut wrr = WeightedRoundRobin::new(&servers);
        let seq = picks(&mut wrr, &servers, 15 * 10);
        let counts: Vec<usize> = (0..3)
            .map(|s| seq.iter().filter(|&&p| p == s).count())
            .collect();
        assert_eq!(counts, [30, 50, 70]);
    }

    #[test]
    fn quiescent_never_picked_and_all_zero_is_none() {
        let servers_ = servers(&[2, 0, 1]);
        let mut wrr = WeightedRoundRobin::new(&servers_);
        assert!(picks(&mut wrr, &servers_, 30).iter().all(|&p| p != 1));
        let zero = servers(&[0, 0, 0]);
        wrr.update(&zero);
        assert_eq!(wrr.cycle.next_pick(&zero), None);
    }

    #[test]
    fn update_restarts_with_the_new_weights() {
        let mut wrr = WeightedRoundRobin::new(&servers(&[1, 1]));
        let new = servers(&[1, 3]);
        wrr.update(&new);
        assert_eq!(picks(&mut wrr, &new, 8), [1, 1, 0, 1, 1, 1, 0, 1]);
    }

    #[test]
    fn gcd_basics() {
        assert_eq!(gcd(0, 6), 6);
        assert_eq!(gcd(12, 18), 6);
        assert_eq!(gcd(7, 0), 7);
    }
}
