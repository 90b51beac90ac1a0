//! Event times as ranges (`at = "3s..4s"`) and the scenario of one seed: each ranged event at a
//! time drawn uniformly from its range by an RNG seeded with the run's seed, so the same seed
//! always gives the same timeline. Pure data: no clock, no I/O.

use super::{EventSpec, Scenario, duration};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// When an event happens, as the file says it: at one time, or somewhere in a range (both ends
/// included), drawn per seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum When {
    #[default]
    Zero,
    At(Duration),
    Between(Duration, Duration),
}

impl When {
    /// Reads `3s` or `3s..4s`.
    pub fn parse(text: &str) -> Result<When, String> {
        match text.split_once("..") {
            None => duration::parse(text).map(When::At),
            Some((a, b)) => Ok(When::Between(duration::parse(a)?, duration::parse(b)?)),
        }
    }

    /// The earliest time it may happen.
    pub fn start(self) -> Duration {
        match self {
            When::Zero => Duration::ZERO,
            When::At(t) | When::Between(t, _) => t,
        }
    }

    /// The latest time it may happen.
    pub fn end(self) -> Duration {
        match self {
            When::Between(_, t) => t,
            other => other.start(),
        }
    }

    pub fn is_range(self) -> bool {
        matches!(self, When::Between(..))
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            When::Between(a, b) => write!(f, "{}..{}", duration::format(a), duration::format(b)),
            other => f.write_str(&duration::format(other.start())),
        }
    }
}

/// Serde glue for `at`: a duration or a range of two, as a string.
pub(super) mod when_field {
    use super::When;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<When, D::Error> {
        When::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    pub fn serialize<S: Serializer>(w: &When, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(w)
    }
}

/// One ranged event's time in one seed's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrawnTime {
    /// `event<i>_<action>_ms`: `i` is the event's place in the file's timeline.
    pub column: String,
    pub at: Duration,
}

/// Checks the ranges of the file's events (before repeats are expanded): each ends no earlier
/// than it starts and by the end of the load, does not repeat, and does not overlap the events
/// around it (so the timeline keeps its order whatever is drawn).
pub(super) fn check_ranges(s: &Scenario) -> Result<(), (String, String)> {
    let mut last_end = Duration::ZERO;
    for (i, e) in s.events.iter().enumerate() {
        let bad = |reason: String| Err((format!("event[{i}].at"), reason));
        if let When::Between(a, b) = e.when {
            if b < a {
                return bad(format!("the range `{}` ends before it starts", e.when));
            }
            if b > s.load_end() {
                let end = duration::format(s.load_end());
                return bad(format!(
                    "the range `{}` ends after the load ({end})",
                    e.when
                ));
            }
            if e.every.is_some() {
                return bad("a repeated event (`every`) takes one time, not a range".into());
            }
        }
        if e.when.start() < last_end {
            return bad(
                "events must be in time order (a range may not overlap the event before)".into(),
            );
        }
        last_end = e.when.end();
    }
    Ok(())
}

impl Scenario {
    /// Whether any event has a range of times.
    pub fn has_ranges(&self) -> bool {
        self.events.iter().any(|e| e.when.is_range())
    }

    /// The ranged events' times drawn for `seed`, in timeline order.
    pub fn drawn_times(&self, seed: u64) -> Vec<DrawnTime> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        self.events
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match e.when {
                When::Between(a, b) => {
                    let us = rng.random_range(a.as_micros() as u64..=b.as_micros() as u64);
                    Some(DrawnTime {
                        column: format!("event{i}_{}_ms", e.action.name()),
                        at: Duration::from_micros(us),
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// A copy for one run with `seed`: `lab.seed` set, every ranged event at its drawn time
    /// (the events sorted by time again).
    pub fn with_seed(&self, seed: u64) -> Scenario {
        let mut s = self.clone();
        s.lab.seed = Some(seed);
        let mut drawn = self.drawn_times(seed).into_iter();
        for e in s.events.iter_mut().filter(|e| e.when.is_range()) {
            let at = drawn.next().map_or(e.at, |d| d.at);
            e.at = at;
            e.when = When::At(at);
        }
        s.events.sort_by_key(|e| e.at);
        s
    }

    /// The same scenario with every ranged event at the end of its range: what the checks of
    /// times against the load (e.g. a spoofing that must end with it) see at worst.
    pub(super) fn at_latest(&self) -> Scenario {
        let mut s = self.clone();
        for e in &mut s.events {
            e.at = e.when.end();
        }
        s
    }
}

/// Sets each event's `at` from what the file says (`when`): the range's start until a seed
/// draws it.
pub(super) fn resolve(events: &mut [EventSpec]) {
    for e in events {
        e.at = e.when.start();
    }
}
