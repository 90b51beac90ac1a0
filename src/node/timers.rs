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

/// Deadlines by part, in microseconds, [`UNSET`] when nothing is due: the earliest is a plain
/// minimum (asked after every frame).
#[derive(Debug)]
pub struct Timers {
    at: [i64; TIMERS],
}

/// A deadline that is not set (later than any instant).
const UNSET: i64 = i64::MAX;

impl Default for Timers {
    fn default() -> Self {
        Timers {
            at: [UNSET; TIMERS],
        }
    }
}

impl Timers {
    #[inline]
    pub fn set(&mut self, timer: Timer, at: Option<Instant>) {
        // An instant at the very end of time reads as unset; none is ever that late.
        self.at[timer as usize] = at.map_or(UNSET, |at| at.total_micros());
    }

    /// Whether `timer` is set and due by `now`.
    pub fn due(&self, timer: Timer, now: Instant) -> bool {
        let at = self.at[timer as usize];
        at != UNSET && at <= now.total_micros()
    }

    /// The earliest deadline.
    #[inline]
    pub fn next(&self) -> Option<Instant> {
        let at = self.at.iter().fold(UNSET, |a, &b| a.min(b));
        (at != UNSET).then(|| Instant::from_micros(at))
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
        t.set(Timer::Stats, None);
        t.set(Timer::Vrrp, Some(Instant::from_micros(-5)));
        assert_eq!(
            t.next(),
            Some(Instant::from_micros(-5)),
            "before the epoch too"
        );
        t.set(Timer::Vrrp, None);
        assert_eq!(t.next(), None, "all unset again");
    }
}
