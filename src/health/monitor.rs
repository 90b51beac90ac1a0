//! When each real server is checked and what its verdicts make of it: every server on its own
//! clock (`interval_ms`, first checks spread over one interval), one attempt at a time, a
//! timeout as a failure, and the rise/fall hysteresis. Milliseconds on the caller's clock.

use super::config::Params;

/// One server to check: where it is in the director's service table, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub service: usize,
    pub server: usize,
    pub params: Params,
}

/// A server changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Index of the target (as given to [`Monitor::new`]).
    pub index: usize,
    pub up: bool,
    pub at_ms: u64,
}

/// Counters of one server's checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckCounters {
    pub checks: u64,
    pub ok: u64,
    pub failed: u64,
    pub timeouts: u64,
    /// Duration of the latest attempt that got a verdict (not a timeout).
    pub last_latency_ms: u64,
    /// Slowest successful attempt.
    pub max_latency_ms: u64,
    pub transitions: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Waiting { next_ms: u64 },
    Running { started_ms: u64 },
}

#[derive(Debug, Clone)]
struct Tracked {
    target: Target,
    up: bool,
    /// Consecutive verdicts against the current state.
    streak: u32,
    phase: Phase,
    counters: CheckCounters,
}

/// The checks of every server of a director.
#[derive(Debug, Clone, Default)]
pub struct Monitor {
    tracked: Vec<Tracked>,
}

impl Monitor {
    /// Starts watching `targets` at `now_ms`, each in its initial state. The first checks are
    /// spread over one interval so that they do not all go at once.
    pub fn new(now_ms: u64, targets: &[Target]) -> Monitor {
        let n = targets.len().max(1) as u64;
        let tracked = targets
            .iter()
            .enumerate()
            .map(|(i, &target)| Tracked {
                target,
                up: target.params.initially_up,
                streak: 0,
                phase: Phase::Waiting {
                    next_ms: now_ms + target.params.interval_ms * i as u64 / n,
                },
                counters: CheckCounters::default(),
            })
            .collect();
        Monitor { tracked }
    }

    pub fn len(&self) -> usize {
        self.tracked.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tracked.is_empty()
    }

    pub fn target(&self, i: usize) -> Target {
        self.tracked[i].target
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.tracked[i].up
    }

    pub fn counters(&self, i: usize) -> CheckCounters {
        self.tracked[i].counters
    }

    /// A server whose check is due: it is now running (start the attempt, then [`report`]).
    ///
    /// [`report`]: Monitor::report
    pub fn poll_start(&mut self, now_ms: u64) -> Option<usize> {
        let i = self
            .tracked
            .iter()
            .position(|t| matches!(t.phase, Phase::Waiting { next_ms } if next_ms <= now_ms))?;
        let t = &mut self.tracked[i];
        t.phase = Phase::Running { started_ms: now_ms };
        t.counters.checks += 1;
        Some(i)
    }

    /// A running check past its timeout: the caller abandons the attempt; it counted as a
    /// failure, and may have taken the server down.
    pub fn poll_expired(&mut self, now_ms: u64) -> Option<(usize, Option<Transition>)> {
        let i = self.tracked.iter().position(|t| match t.phase {
            Phase::Running { started_ms } => now_ms >= started_ms + t.target.params.timeout_ms,
            Phase::Waiting { .. } => false,
        })?;
        self.tracked[i].counters.timeouts += 1;
        Some((i, self.verdict(now_ms, i, false, None)))
    }

    /// The verdict of server `i`'s running check; ignored when none is running (a late answer
    /// after a timeout).
    pub fn report(&mut self, now_ms: u64, i: usize, ok: bool) -> Option<Transition> {
        let Phase::Running { started_ms } = self.tracked.get(i)?.phase else {
            return None;
        };
        self.verdict(now_ms, i, ok, Some(now_ms.saturating_sub(started_ms)))
    }

    /// When something is next due: a check to start or a timeout.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.tracked
            .iter()
            .map(|t| match t.phase {
                Phase::Waiting { next_ms } => next_ms,
                Phase::Running { started_ms } => started_ms + t.target.params.timeout_ms,
            })
            .min()
    }

    fn verdict(
        &mut self,
        now_ms: u64,
        i: usize,
        ok: bool,
        latency_ms: Option<u64>,
    ) -> Option<Transition> {
        let t = &mut self.tracked[i];
        let Phase::Running { started_ms } = t.phase else {
            return None;
        };
        let p = t.target.params;
        t.phase = Phase::Waiting {
            next_ms: (started_ms + p.interval_ms).max(now_ms),
        };
        let c = &mut t.counters;
        if ok {
            c.ok += 1;
        } else {
            c.failed += 1;
        }
        if let Some(latency) = latency_ms {
            c.last_latency_ms = latency;
            if ok {
                c.max_latency_ms = c.max_latency_ms.max(latency);
            }
        }
        if ok == t.up {
            t.streak = 0;
            return None;
        }
        t.streak += 1;
        let needed = if t.up { p.fall } else { p.rise };
        if t.streak < needed {
            return None;
        }
        t.up = ok;
        t.streak = 0;
        c.transitions += 1;
        Some(Transition {
            index: i,
            up: ok,
            at_ms: now_ms,
        })
    }
}
