//! SYN-flood defence, after IPVS's (net/netfilter/ipvs/ip_vs_ctl.c `update_defense_level`,
//! ip_vs_conn.c `ip_vs_random_dropentry`). Policy and bookkeeping only: the data plane asks
//! it what to do and it never touches frames. Allocates only at start.
//!
//! What IPVS does, and what is followed here:
//! - IPVS re-evaluates a *defence level* every second from free memory (`amemthresh`); each of
//!   `drop_entry`, `drop_packet` and `secure_tcp` is 0 (off), 1 (automatic: on while memory is
//!   short), 2 (automatic, currently on) or 3 (always on). tapvs's table has a fixed capacity
//!   and memory never runs short, so the level follows the table's fill instead: on at
//!   `threshold`, off again below `threshold × 0.9` (IPVS has no hysteresis; without it the
//!   level would flap at every sweep on a table held at the threshold). Checked at every
//!   sweep (100 ms) instead of every second. The modes are `off`, `auto` and `always`.
//! - `drop_entry` (`ip_vs_random_dropentry`): every second IPVS looks at 1/32 of its hash
//!   buckets, chosen at random, and deletes the SYN_RECV and SYNACK connections found there
//!   (and ESTABLISHED ones with few packets, `todrop_entry`). Here: 1/32 of the slots per
//!   second at random slots, half-open entries only. Established connections and templates are
//!   never dropped by the defence (a deliberate difference). And, as IPVS never refuses for a
//!   full table, a new connection that finds the table full takes the slot of a half-open entry
//!   found by probing random slots, so a real client's SYN always finds room.
//! - `drop_packet` (`ip_vs_todrop`): while on, 1 of every `rate` new connections is refused,
//!   `rate = amemthresh / (amemthresh − availmem)`. Here: free slots in place of free memory,
//!   the threshold's free slots in place of `amemthresh`. It hurts real clients as much as the
//!   flood, so it is off by default.
//! - `secure_tcp`: IPVS switches to its DoS state table; 2.4's `vs_timeout_table_dos` also cut
//!   SYN_RECV to 10 s. Here: half-open entries expire `syn_recv_timeout_ms` after their last
//!   segment while it is on; when it goes off the normal 60 s apply again (the sweep compares
//!   with a later "now" for half-open entries, so no entry is rewritten).
//! - A per-source limit on half-open entries (IPVS has none): counted in a fixed array of
//!   counters indexed by a hash of the source address (sources sharing a counter share the
//!   limit). Off by default.

use super::tcp_state::ConnState;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// When a defence rule applies (IPVS's 0, 1 and 3; its 2 is "auto, currently on").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefenseMode {
    Off,
    /// While the table is filled past the threshold.
    Auto,
    Always,
}

/// The `[defense]` section of a director configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DefenseConfig {
    /// Table fill (entries ÷ `max_connections`) from which the defence is on (0 < t ≤ 1).
    pub threshold: f64,
    /// Drop half-open entries early: at random, and when the table is full.
    pub drop_entry: DefenseMode,
    /// Refuse a share of the new connections, more as the table fills.
    pub drop_packet: DefenseMode,
    /// Shorten the SYN_RECV timeout to `syn_recv_timeout_ms`.
    pub secure_tcp: DefenseMode,
    pub syn_recv_timeout_ms: u64,
    /// Most half-open entries per source address (0 = no limit).
    pub max_half_open_per_source: u32,
}

impl Default for DefenseConfig {
    fn default() -> Self {
        DefenseConfig {
            threshold: 0.75,
            drop_entry: DefenseMode::Auto,
            drop_packet: DefenseMode::Off,
            secure_tcp: DefenseMode::Auto,
            syn_recv_timeout_ms: 10_000,
            max_half_open_per_source: 0,
        }
    }
}

impl DefenseConfig {
    /// Every rule off (as IPVS's defaults).
    pub fn off() -> Self {
        DefenseConfig {
            drop_entry: DefenseMode::Off,
            drop_packet: DefenseMode::Off,
            secure_tcp: DefenseMode::Off,
            ..DefenseConfig::default()
        }
    }

    /// The field and reason of the first unusable value.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if !(self.threshold > 0.0 && self.threshold <= 1.0) {
            return Err((
                "defense.threshold",
                format!("{} is not a fill fraction in (0, 1]", self.threshold),
            ));
        }
        let normal = u64::from(ConnState::SynRecv.timeout_s()) * 1000;
        if self.syn_recv_timeout_ms == 0 || self.syn_recv_timeout_ms > normal {
            return Err((
                "defense.syn_recv_timeout_ms",
                format!("must be between 1 and {normal} (the normal SYN_RECV timeout)"),
            ));
        }
        Ok(())
    }
}

/// Counters of every defence action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefenseCounters {
    /// Whether the level is on now.
    pub on: bool,
    /// Times the level went on or off.
    pub level_changes: u64,
    /// Half-open entries removed to make room for a new connection (table full).
    pub half_open_evicted: u64,
    /// Half-open entries removed by the random scan (`drop_entry`).
    pub half_open_dropped: u64,
    /// Half-open entries expired by the short SYN_RECV timeout before the normal one.
    pub half_open_expired_early: u64,
    /// New connections refused by `drop_packet`.
    pub syns_refused: u64,
    /// New connections refused by the per-source limit.
    pub syns_refused_per_source: u64,
    /// Most entries the table held.
    pub table_peak: u64,
}

/// Slots probed at random for a half-open entry when the table is full.
pub const EVICT_PROBES: usize = 64;
/// Counters of the per-source limit (a power of two).
const SOURCE_BUCKETS: usize = 1 << 16;
/// Sweeps per second (the data plane sweeps every 100 ms): the random scan does 1/32 of the
/// table per second, as IPVS.
const SWEEPS_PER_S: usize = 10;

/// A random slot drawn before it is asked for, from `0..capacity`.
#[derive(Debug, Clone, Copy)]
struct Ahead {
    slot: usize,
}

/// The defence's state.
pub struct Defense {
    config: DefenseConfig,
    capacity: usize,
    /// drop_packet's countdown (`ip_vs_todrop`) and rate.
    drop_counter: u64,
    drop_rate: u64,
    rng: ChaCha8Rng,
    /// A draw taken ahead by [`Defense::peek_slot`], given out by the next
    /// [`Defense::random_slot`].
    ahead: Option<Ahead>,
    /// Half-open entries per source-address hash; empty when there is no limit.
    per_source: Vec<u16>,
    pub counters: DefenseCounters,
}

impl Defense {
    pub fn new(config: DefenseConfig, capacity: usize, seed: u64) -> Self {
        let buckets = if config.max_half_open_per_source > 0 {
            SOURCE_BUCKETS
        } else {
            0
        };
        Defense {
            config,
            capacity: capacity.max(1),
            drop_counter: 0,
            drop_rate: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            ahead: None,
            per_source: vec![0; buckets],
            counters: DefenseCounters::default(),
        }
    }

    fn applies(&self, mode: DefenseMode) -> bool {
        match mode {
            DefenseMode::Off => false,
            DefenseMode::Auto => self.counters.on,
            DefenseMode::Always => true,
        }
    }

    /// Re-evaluates the level for a table of `len` entries (IPVS `update_defense_level`).
    pub fn update_level(&mut self, len: usize) {
        let fill = len as f64 / self.capacity as f64;
        let on = if self.counters.on {
            fill >= self.config.threshold * 0.9
        } else {
            fill >= self.config.threshold
        };
        if on != self.counters.on {
            self.counters.on = on;
            self.counters.level_changes += 1;
        }
        // drop_packet's rate, from free slots as IPVS's from free memory.
        let limit = ((1.0 - self.config.threshold) * self.capacity as f64) as u64;
        let free = (self.capacity - len.min(self.capacity)) as u64;
        self.drop_rate = if self.applies(self.config.drop_packet) && free < limit {
            limit / (limit - free)
        } else {
            0
        };
        if self.drop_rate == 0 {
            self.drop_counter = 0;
        }
    }

    /// Whether the level is on.
    pub fn is_on(&self) -> bool {
        self.counters.on
    }

    /// Notes the table's size after an insert.
    #[inline]
    pub fn note_len(&mut self, len: usize) {
        self.counters.table_peak = self.counters.table_peak.max(len as u64);
    }

    /// `drop_packet`: whether to refuse this new connection (`ip_vs_todrop`: one in `rate`).
    #[inline]
    pub fn refuse_new(&mut self) -> bool {
        if self.drop_rate == 0 {
            return false;
        }
        if self.drop_counter > 1 {
            self.drop_counter -= 1;
            return false;
        }
        self.drop_counter = self.drop_rate;
        self.counters.syns_refused += 1;
        true
    }

    /// Whether half-open entries may be dropped early (random scan, room for new ones).
    pub fn drops_entries(&self) -> bool {
        self.applies(self.config.drop_entry)
    }

    /// Whether a full table may make room by evicting a half-open entry: a full table is past
    /// any threshold, so `auto` counts as on even before the next level update.
    pub fn evicts_when_full(&self) -> bool {
        self.config.drop_entry != DefenseMode::Off
    }

    /// How much later than `now` the sweep's "now" is for half-open entries: the normal
    /// SYN_RECV timeout minus the short one while `secure_tcp` applies, else 0.
    pub fn half_open_advance_ms(&self) -> u64 {
        if self.applies(self.config.secure_tcp) {
            u64::from(ConnState::SynRecv.timeout_s()) * 1000 - self.config.syn_recv_timeout_ms
        } else {
            0
        }
    }

    /// Random slots the scan looks at in one sweep, for a table with `slots` used slots.
    pub fn scan_size(&self, slots: usize) -> usize {
        (slots / 32).div_ceil(SWEEPS_PER_S)
    }

    /// A random slot index below `n` (> 0), from the seeded generator: the same sequence
    /// whether or not [`Defense::peek_slot`] looked ahead.
    #[inline]
    pub fn random_slot(&mut self, n: usize) -> usize {
        if let Some(ahead) = self.ahead.take() {
            // Drawn for a table that uses all its slots, and its slots never go away.
            debug_assert_eq!(n, self.capacity, "a range that only grows is full");
            return ahead.slot;
        }
        self.rng.random_range(0..n)
    }

    /// The slot the next [`Defense::random_slot`] will give, drawn now (so the caller can
    /// fetch it from memory early), without changing the sequence. Only for a range of the
    /// whole capacity (`n`: the slots in use, which never decrease): when they are all in use,
    /// the next draw is from that range whatever comes; `None` before.
    #[inline]
    pub fn peek_slot(&mut self, n: usize) -> Option<usize> {
        if n != self.capacity {
            return None;
        }
        let ahead = match self.ahead {
            Some(ahead) => ahead,
            None => {
                let ahead = Ahead {
                    slot: self.rng.random_range(0..n),
                };
                self.ahead = Some(ahead);
                ahead
            }
        };
        Some(ahead.slot)
    }

    /// The slot drawn ahead by [`Defense::peek_slot`], if any (whatever its range).
    #[inline]
    pub fn peeked_slot(&self) -> Option<usize> {
        self.ahead.map(|a| a.slot)
    }

    fn bucket(&self, client: Ipv4Addr) -> Option<usize> {
        if self.per_source.is_empty() {
            return None;
        }
        let h = u32::from(client).wrapping_mul(0x9e37_79b1);
        Some((h >> 16) as usize & (SOURCE_BUCKETS - 1))
    }

    /// Per-source limit: whether `client` may open one more half-open entry.
    #[inline]
    pub fn source_allows(&mut self, client: Ipv4Addr) -> bool {
        let Some(b) = self.bucket(client) else {
            return true;
        };
        if u32::from(self.per_source[b]) >= self.config.max_half_open_per_source {
            self.counters.syns_refused_per_source += 1;
            return false;
        }
        true
    }

    /// Keeps the per-source counts: an entry of `client` went from `old` to `new` (`None`: it
    /// does not exist).
    #[inline]
    pub fn track(&mut self, client: Ipv4Addr, old: Option<ConnState>, new: Option<ConnState>) {
        let Some(b) = self.bucket(client) else {
            return;
        };
        let was = old.is_some_and(ConnState::is_half_open);
        let is = new.is_some_and(ConnState::is_half_open);
        let c = &mut self.per_source[b];
        match (was, is) {
            (false, true) => *c = c.saturating_add(1),
            (true, false) => *c = c.saturating_sub(1),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_goes_on_at_the_threshold_and_off_below_its_hysteresis() {
        let mut d = Defense::new(DefenseConfig::default(), 1000, 1);
        d.update_level(749);
        assert!(!d.is_on());
        d.update_level(750);
        assert!(d.is_on());
        d.update_level(680);
        assert!(d.is_on(), "above 0.9 × threshold it stays on");
        d.update_level(674);
        assert!(!d.is_on());
        assert_eq!(d.counters.level_changes, 2);
    }

    #[test]
    fn drop_packet_refuses_more_as_the_table_fills() {
        let config = DefenseConfig {
            drop_packet: DefenseMode::Auto,
            ..DefenseConfig::default()
        };
        let mut d = Defense::new(config, 1000, 1);
        let refused = |d: &mut Defense, len| {
            d.update_level(len);
            (0..1000).filter(|_| d.refuse_new()).count()
        };
        assert_eq!(refused(&mut d, 500), 0, "below the threshold");
        let half = refused(&mut d, 875); // free 125 of 250: rate 2
        assert_eq!(half, 500);
        let all = refused(&mut d, 1000); // no free slot: rate 1
        assert_eq!(all, 1000);
    }

    #[test]
    fn random_slots_cover_the_range() {
        let mut d = Defense::new(DefenseConfig::default(), 10, 7);
        let mut seen = [0u32; 10];
        for _ in 0..10_000 {
            seen[d.random_slot(10)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800 && n < 1200), "{seen:?}");
    }

    #[test]
    fn looking_ahead_leaves_the_sequence_alone() {
        let mut plain = Defense::new(DefenseConfig::default(), 1000, 3);
        let mut ahead = Defense::new(DefenseConfig::default(), 1000, 3);
        // The table fills (no look-ahead), then uses every slot.
        for (i, n) in (1..=1000).step_by(37).chain([1000; 500]).enumerate() {
            if n < 1000 {
                assert_eq!(ahead.peek_slot(n), None, "no look-ahead while filling");
            } else if i % 3 != 2 {
                let peeked = ahead.peek_slot(n);
                assert!(peeked.is_some());
                assert_eq!(ahead.peek_slot(n), peeked, "a second look sees the same");
                assert_eq!(ahead.peeked_slot(), peeked);
            }
            assert_eq!(ahead.random_slot(n), plain.random_slot(n), "draw {i}");
            assert_eq!(ahead.peeked_slot(), None);
        }
    }

    #[test]
    fn bad_values_are_named() {
        let c = DefenseConfig {
            threshold: 1.5,
            ..DefenseConfig::default()
        };
        assert_eq!(c.check().unwrap_err().0, "defense.threshold");
        let c = DefenseConfig {
            syn_recv_timeout_ms: 0,
            ..DefenseConfig::default()
        };
        assert_eq!(c.check().unwrap_err().0, "defense.syn_recv_timeout_ms");
    }
}
