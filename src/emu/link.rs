//! One direction of a cable in virtual time: loss, a token-bucket rate in front of a bounded
//! queue (tail drop), one-way latency and jitter, every draw from the direction's own seeded
//! RNG. Pure arithmetic on the instants it is given: no clock, no allocation, no lock; it must
//! not import the fabric or the nodes.
//!
//! The order is netem's then tbf's: a frame is lost (or not) when it is sent, then waits its
//! turn behind the token bucket, then travels for latency ± jitter. The queue is modelled as
//! the bucket's debt (the bytes admitted but not yet paid for), so a frame's departure is known
//! when it is admitted and nothing has to wake up to drain a queue.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::{Duration, Instant};

/// The one-way latency of a cable unless told otherwise (node to switch: a frame between two
/// hosts on one switch crosses two cables).
pub const DEFAULT_LATENCY: Duration = Duration::from_micros(20);

/// Micro-bits: the token bucket's unit (a rate in bit/s gains this many per microsecond).
const MICRO: i64 = 1_000_000;

/// What happens to frames in one direction of a cable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairments {
    /// One-way delay of every frame.
    pub latency: Duration,
    /// Each frame's delay moves by a uniform draw within ± this (never below zero).
    pub jitter: Duration,
    /// Jitter may reorder frames; otherwise a frame never arrives before the one sent before it.
    pub reorder: bool,
    /// The probability that a frame is lost, 0.0 to 1.0.
    pub loss: f64,
    /// A rate limit, or none (a frame leaves as soon as it is sent).
    pub rate: Option<Rate>,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            latency: DEFAULT_LATENCY,
            jitter: Duration::ZERO,
            reorder: false,
            loss: 0.0,
            rate: None,
        }
    }
}

/// A token bucket (tbf's `rate`, `burst`, `limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub bits_per_s: u64,
    /// The bytes that may leave back to back after an idle time.
    pub burst_bytes: u32,
    /// The bytes that may wait for tokens; a frame that would exceed it is dropped (tail drop).
    pub queue_bytes: u32,
}

/// Why impairments cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImpairmentError {
    /// A loss probability outside 0.0..=1.0 (or not a number).
    #[error("loss {0} is not a probability (0.0 to 1.0)")]
    Loss(f64),
    /// A rate of zero, or one whose arithmetic would overflow (over 1 Tbit/s).
    #[error("rate {0} bit/s is outside 1 bit/s ..= 1 Tbit/s")]
    Rate(u64),
}

impl Impairments {
    /// Checks the values once, at the edge.
    pub fn check(&self) -> Result<(), ImpairmentError> {
        if !(0.0..=1.0).contains(&self.loss) {
            return Err(ImpairmentError::Loss(self.loss));
        }
        match self.rate {
            Some(r) if r.bits_per_s == 0 || r.bits_per_s > 1_000_000_000_000 => {
                Err(ImpairmentError::Rate(r.bits_per_s))
            }
            _ => Ok(()),
        }
    }
}

/// Why a direction dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// The loss draw.
    Lost,
    /// The rate limiter's queue was full.
    QueueFull,
}

/// One direction's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirectionStats {
    /// Frames admitted (they will arrive).
    pub sent: u64,
    pub lost: u64,
    pub queue_full: u64,
}

/// One direction of a cable: its impairments and their state.
#[derive(Debug, Clone)]
pub struct Direction {
    imp: Impairments,
    /// Boxed: drawn from only on lossy or jittery cables, it would otherwise spread every
    /// cable's hot fields over several cache lines.
    rng: Box<ChaCha8Rng>,
    /// Token-bucket credit in micro-bits; below zero, the bytes queued ahead (as debt).
    credit: i64,
    /// When `credit` was last brought up to date.
    refilled: Instant,
    /// The latest arrival given so far (order kept without `reorder`).
    last_arrival: Instant,
    /// No loss, no jitter, no rate limit ([`Direction::is_plain`]), kept with the impairments.
    plain: bool,
    pub stats: DirectionStats,
}

impl Direction {
    /// A direction whose draws all come from `seed`; `imp` must have passed [`Impairments::check`].
    pub fn new(imp: Impairments, seed: u64) -> Direction {
        Direction {
            imp,
            rng: Box::new(ChaCha8Rng::seed_from_u64(seed)),
            credit: burst(&imp),
            refilled: Instant::ZERO,
            last_arrival: Instant::ZERO,
            plain: is_plain(&imp),
            stats: DirectionStats::default(),
        }
    }

    pub fn impairments(&self) -> &Impairments {
        &self.imp
    }

    /// New impairments from now on (the bucket starts full, the RNG goes on).
    pub fn set_impairments(&mut self, imp: Impairments) -> Result<(), ImpairmentError> {
        imp.check()?;
        self.imp = imp;
        self.plain = is_plain(&imp);
        self.credit = burst(&imp);
        Ok(())
    }

    /// Whether every frame just takes the latency: no loss, no jitter, no rate limit (then the
    /// arrival depends on the departure alone, whatever the order frames are handed in).
    pub fn is_plain(&self) -> bool {
        self.plain
    }

    /// A frame leaves a plain direction ([`Direction::is_plain`]) at `departure`, which may lie
    /// ahead of frames already handed in: when it arrives.
    pub fn pass(&mut self, departure: Instant) -> Instant {
        self.stats.sent += 1;
        departure + self.imp.latency
    }

    /// A frame of `len` bytes is sent at `now` (never before the previous call's `now`): when
    /// it arrives at the far end, or why it never does.
    pub fn admit(&mut self, now: Instant, len: usize) -> Result<Instant, Dropped> {
        if self.plain {
            // What follows, with nothing drawn and nothing queued.
            let mut arrival = now + self.imp.latency;
            if !self.imp.reorder {
                arrival = arrival.max(self.last_arrival);
            }
            self.last_arrival = self.last_arrival.max(arrival);
            self.stats.sent += 1;
            return Ok(arrival);
        }
        if self.imp.loss > 0.0 && self.rng.random::<f64>() < self.imp.loss {
            self.stats.lost += 1;
            return Err(Dropped::Lost);
        }
        let departure = match self.imp.rate {
            Some(rate) => self.queue(now, len, rate).inspect_err(|_| {
                self.stats.queue_full += 1;
            })?,
            None => now,
        };
        let mut delay = self.imp.latency.total_micros() as i64;
        let jitter = self.imp.jitter.total_micros() as i64;
        if jitter > 0 {
            delay = (delay + self.rng.random_range(-jitter..=jitter)).max(0);
        }
        let mut arrival = departure + Duration::from_micros(delay as u64);
        if !self.imp.reorder {
            arrival = arrival.max(self.last_arrival);
        }
        self.last_arrival = self.last_arrival.max(arrival);
        self.stats.sent += 1;
        Ok(arrival)
    }

    /// The token bucket: when a frame admitted at `now` leaves, or a full queue.
    fn queue(&mut self, now: Instant, len: usize, rate: Rate) -> Result<Instant, Dropped> {
        let bps = rate.bits_per_s as i64;
        let elapsed = (now.total_micros() - self.refilled.total_micros()).max(0);
        self.refilled = self.refilled.max(now);
        let full = burst(&self.imp);
        self.credit = self
            .credit
            .saturating_add(bps.saturating_mul(elapsed))
            .min(full);
        let cost = len as i64 * 8 * MICRO;
        let after = self.credit - cost;
        if after < -(rate.queue_bytes as i64 * 8 * MICRO) {
            return Err(Dropped::QueueFull);
        }
        self.credit = after;
        let debt = (-after).max(0);
        let wait = (debt + bps - 1) / bps;
        Ok(now + Duration::from_micros(wait as u64))
    }
}

/// Whether frames under `imp` just take the latency.
fn is_plain(imp: &Impairments) -> bool {
    imp.loss == 0.0 && imp.jitter == Duration::ZERO && imp.rate.is_none()
}

/// A full bucket, in micro-bits.
fn burst(imp: &Impairments) -> i64 {
    imp.rate.map_or(0, |r| r.burst_bytes as i64 * 8 * MICRO)
}
