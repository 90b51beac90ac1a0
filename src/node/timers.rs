//! The node's one timer table: one deadline per part, and the earliest of them.

use smoltcp::time::Instant;

/// The parts of a node that have deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    Dataplane,
    Vrrp,
    Sync,
    Health,
    Host,
    /// Counters of VRRP, sync and the checks, and a table sample.
    Sample,
    /// The data plane's counters.
    Stats,
}

const TIMERS: usize = 7;

/// Deadlines by part (`None`: nothing due).
#[derive(Debug, Default)]
pub struct Timers {
    at: [Option<Instant>; TIMERS],
}

impl Timers {
    pub fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.at[timer as usize] = at;
    }

    /// Whether `timer` is set and due by `now`.
    pub fn due(&self, timer: Timer, now: Instant) -> bool {
        self.at[timer as usize].is_some_and(|at| at <= now)
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_deadline_wins_and_unset_ones_do_not_count() {
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Vrrp, Some(Instant::from_millis(30)));
        t.set(Timer::Stats, Some(Instant::from_millis(10)));
        t.set(Timer::Host, None);
        assert_eq!(t.next(), Some(Instant::from_millis(10)));
        assert!(t.due(Timer::Stats, Instant::from_millis(10)));
        assert!(!t.due(Timer::Vrrp, Instant::from_millis(10)));
        assert!(!t.due(Timer::Host, Instant::from_millis(99)));
    }
}
