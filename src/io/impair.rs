//! A fault injector that wraps any [`Port`]: seeded loss, delay with jitter, duplication,
//! reordering and a token-bucket rate limit, applied to the frames it is asked to `send`
//! (received frames pass untouched: `tapvs wire` wraps both of its ports, so both directions
//! are impaired). A [`Filter`] picks the frames to impair (all, VRRP, sync); the others pass
//! at once. Time comes from the caller: held frames leave in [`Port::poll`], and
//! [`Port::poll_at`] says when the next one is due, so a hand-moved clock drives it exactly.
//!
//! The path of one matched frame: loss draw → duplicate draw (the copy takes the same path)
//! → rate limiter (GCRA, the token bucket's equivalent: a frame leaves once the bucket holds
//! its bytes; the backlog is bounded, beyond it the frame is tail-dropped) → delay ± jitter
//! (without reordering a frame never leaves before the one ahead of it; a frame drawn for
//! reordering skips the delay, as netem's `reorder` does) → the port below.
//!
//! Held frames live in a pool of slots allocated once, with a heap of release times allocated
//! once: the per-frame path allocates nothing. Must not import the data plane.

mod settings;
#[cfg(test)]
mod tests;

pub use settings::{Counters, Filter, MAX_DELAY_US, MIN_QUEUE_BYTES, Settings};

use super::port::Port;
use super::vnet::VnetHeader;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::Instant;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;

/// The held-frame pool: how many frames can be held at once, and the longest one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSize {
    pub slots: usize,
    pub slot_len: usize,
}

impl Default for PoolSize {
    /// 1024 frames of up to 2048 bytes (plain Ethernet frames): 2 MiB.
    fn default() -> PoolSize {
        PoolSize {
            slots: 1024,
            slot_len: 2048,
        }
    }
}

/// One frame held back: when it leaves, its place in arrival order, where it is.
#[derive(Debug, Clone, Copy)]
struct Held {
    release_us: u64,
    seq: u64,
    arrived_us: u64,
    slot: u32,
    len: u32,
    header: VnetHeader,
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        (self.release_us, self.seq) == (other.release_us, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Held) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// By release time, then arrival order (frames due together leave in the order they came).
    fn cmp(&self, other: &Held) -> Ordering {
        (self.release_us, self.seq).cmp(&(other.release_us, other.seq))
    }
}

/// A port whose outgoing frames are impaired (see the module's comment).
pub struct Impair<P: Port> {
    inner: P,
    settings: Settings,
    rng: ChaCha8Rng,
    pool: Box<[u8]>,
    slot_len: usize,
    free: Vec<u32>,
    held: BinaryHeap<Reverse<Held>>,
    seq: u64,
    /// The latest release time given so far (frames must not leave before it without reordering).
    last_release_us: u64,
    /// The rate limiter's theoretical arrival time (GCRA), nanoseconds.
    tat_ns: u64,
    counters: Counters,
}

/// Microseconds of `now` (the clock never goes below 0 here).
fn micros(now: Instant) -> u64 {
    u64::try_from(now.total_micros()).unwrap_or(0)
}

impl<P: Port> Impair<P> {
    /// Wraps `inner` with `settings` (checked by [`Settings::problem`]), drawing every random
    /// choice from `seed`, with a held-frame pool of `pool`.
    pub fn new(inner: P, settings: Settings, seed: u64, pool: PoolSize) -> io::Result<Impair<P>> {
        if let Some(problem) = settings.problem() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, problem));
        }
        let slots = u32::try_from(pool.slots)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "too many pool slots"))?;
        Ok(Impair {
            inner,
            settings,
            rng: ChaCha8Rng::seed_from_u64(seed),
            pool: vec![0; pool.slots * pool.slot_len].into_boxed_slice(),
            slot_len: pool.slot_len,
            free: (0..slots).rev().collect(),
            held: BinaryHeap::with_capacity(pool.slots),
            seq: 0,
            last_release_us: 0,
            tat_ns: 0,
            counters: Counters::default(),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Changes the settings from now on (frames already held keep their release times).
    pub fn set_settings(&mut self, settings: Settings) -> Result<(), String> {
        if let Some(problem) = settings.problem() {
            return Err(problem);
        }
        self.settings = settings;
        Ok(())
    }

    /// What happened so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Frames held back now.
    pub fn held(&self) -> usize {
        self.held.len()
    }

    pub fn inner(&self) -> &P {
        &self.inner
    }

    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// A uniform draw: true with `pct` percent (no draw at 0, so an unused impairment does not
    /// shift the others' sequence).
    fn chance(&mut self, pct: f64) -> bool {
        pct > 0.0 && self.rng.random_range(0.0..100.0) < pct
    }

    /// When a frame of `len` bytes arriving at `now_us` may leave the rate limiter; `None`
    /// when its queue is full.
    fn rate_departure(&mut self, now_us: u64, len: usize) -> Option<u64> {
        let rate = self.settings.rate_bytes_per_s;
        if rate == 0 {
            return Some(now_us);
        }
        let now_ns = now_us.saturating_mul(1000);
        let ns_for = |bytes: u64| bytes.saturating_mul(1_000_000_000) / rate;
        // Burst: 5 ms at the rate, and at least two full frames.
        let tau = ns_for((rate / 200).max(2 * 1514));
        let tat = self.tat_ns.max(now_ns);
        let start = now_ns.max(tat.saturating_sub(tau));
        let backlog = (start - now_ns).saturating_mul(rate) / 1_000_000_000;
        if backlog + len as u64 > self.settings.queue_limit() {
            return None;
        }
        self.tat_ns = tat + ns_for(len as u64);
        Some(start.div_ceil(1000))
    }

    /// Schedules one copy of a matched frame; returns whether it was sent or held.
    fn schedule(&mut self, now_us: u64, header: &VnetHeader, frame: &[u8]) -> io::Result<()> {
        let Some(departure) = self.rate_departure(now_us, frame.len()) else {
            self.counters.dropped_queue += 1;
            return Ok(());
        };
        let s = self.settings;
        let ahead = self.chance(s.reorder_pct);
        let mut release = departure;
        if !ahead {
            release += s.delay_us;
            if s.jitter_us > 0 {
                let j = s.jitter_us as i64;
                let draw = self.rng.random_range(-j..=j);
                release = release.saturating_add_signed(draw).max(departure);
            }
            if s.reorder_pct == 0.0 {
                release = release.max(self.last_release_us);
            }
        }
        if release < self.last_release_us && !self.held.is_empty() {
            self.counters.reordered += 1;
        }
        self.last_release_us = self.last_release_us.max(release);
        if release <= now_us {
            return self.pass(header, frame, now_us);
        }
        if frame.len() > self.slot_len {
            self.counters.dropped_oversize += 1;
            return Ok(());
        }
        let Some(slot) = self.free.pop() else {
            self.counters.dropped_queue += 1;
            return Ok(());
        };
        let at = slot as usize * self.slot_len;
        self.pool[at..at + frame.len()].copy_from_slice(frame);
        self.seq += 1;
        self.held.push(Reverse(Held {
            release_us: release,
            seq: self.seq,
            arrived_us: now_us,
            slot,
            len: frame.len() as u32,
            header: *header,
        }));
        Ok(())
    }

    /// Hands a frame to the port below now, counting the outcome.
    fn pass(&mut self, header: &VnetHeader, frame: &[u8], now_us: u64) -> io::Result<()> {
        let now = Instant::from_micros(now_us as i64);
        if self.inner.send(now, header, frame)? {
            self.counters.passed += 1;
        } else {
            self.counters.dropped_below += 1;
        }
        Ok(())
    }

    /// Releases the held frames due by `now_us`, in release order.
    fn release_due(&mut self, now_us: u64) -> io::Result<()> {
        while let Some(Reverse(top)) = self.held.peek().copied() {
            if top.release_us > now_us {
                break;
            }
            self.held.pop();
            let held_for = now_us - top.arrived_us;
            self.counters.delayed += 1;
            self.counters.delay_sum_us += held_for;
            self.counters.delay_max_us = self.counters.delay_max_us.max(held_for);
            let at = top.slot as usize * self.slot_len;
            let now = Instant::from_micros(now_us as i64);
            let sent = self
                .inner
                .send(now, &top.header, &self.pool[at..at + top.len as usize]);
            self.free.push(top.slot);
            if sent? {
                self.counters.passed += 1;
            } else {
                self.counters.dropped_below += 1;
            }
        }
        Ok(())
    }
}

impl<P: Port> Port for Impair<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    #[inline]
    fn recv(&mut self, now: Instant, buf: &mut [u8]) -> io::Result<Option<(VnetHeader, usize)>> {
        self.inner.recv(now, buf)
    }

    /// Impairs one frame: `Ok(false)` when it was dropped (lost or no room), `Ok(true)` when it
    /// was passed or is held back.
    fn send(&mut self, now: Instant, header: &VnetHeader, frame: &[u8]) -> io::Result<bool> {
        let now_us = micros(now);
        // Frames due go first, so a frame never overtakes one that should have left already.
        self.release_due(now_us)?;
        self.counters.frames_in += 1;
        if self.settings.is_off() || !self.settings.filter.matches(frame) {
            if !self.held.is_empty() && self.settings.filter == Filter::All {
                // Settings just turned off: keep the order of what is still held.
                self.schedule(now_us, header, frame)?;
                return Ok(true);
            }
            self.pass(header, frame, now_us)?;
            return Ok(true);
        }
        self.counters.matched += 1;
        if self.chance(self.settings.loss_pct) {
            self.counters.dropped_loss += 1;
            return Ok(false);
        }
        let copies = if self.chance(self.settings.duplicate_pct) {
            self.counters.duplicated += 1;
            2
        } else {
            1
        };
        let (queue_drops, oversize) = (self.counters.dropped_queue, self.counters.dropped_oversize);
        for _ in 0..copies {
            self.schedule(now_us, header, frame)?;
        }
        let dropped =
            self.counters.dropped_queue + self.counters.dropped_oversize - queue_drops - oversize;
        Ok(dropped < copies)
    }

    fn poll_at(&self) -> Option<Instant> {
        let mine = self
            .held
            .peek()
            .map(|Reverse(h)| Instant::from_micros(h.release_us as i64));
        match (mine, self.inner.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll(&mut self, now: Instant) -> io::Result<()> {
        self.release_due(micros(now))?;
        self.inner.poll(now)
    }

    fn raw_fd(&self) -> Option<RawFd> {
        self.inner.raw_fd()
    }
}
