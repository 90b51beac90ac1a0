//! The router's neighbour (ARP) cache, modelled on Linux's `net/core/neighbour.c` and
//! `net/ipv4/arp.c` (default sysctls, `arp_accept=0`) as far as a 10–60 s lab run needs:
//!
//! - **Output.** REACHABLE: sent to the cached MAC (the fast path does not touch `used`).
//!   STALE: sent, and the entry goes DELAY (timer `delay_first_probe_time`, 5 s). DELAY and
//!   PROBE: sent to the cached MAC. NONE or FAILED: the entry goes INCOMPLETE and one
//!   broadcast request goes at once. INCOMPLETE: the frame is queued, at most
//!   `unres_qlen_bytes` per neighbour, the oldest dropped first (`unres_discards`).
//! - **Timers.** INCOMPLETE: a broadcast request every `retrans_time` (1 s), 3 in all
//!   (`mcast_solicit`), FAILED at the 4th tick (3 s), its queue dropped. REACHABLE for
//!   `reachable_time` (uniform in [base/2, 3·base/2), base 30 s, drawn once from the seed) after
//!   the last confirmation, then STALE (DELAY if used in the last 5 s). DELAY after 5 s:
//!   REACHABLE if confirmed meanwhile, else PROBE: 3 unicast requests to the cached MAC
//!   (`ucast_solicit`) 1 s apart, then FAILED.
//! - **ARP in** (`arp_process` + `neigh_update`). A request for one of our addresses creates
//!   or updates its sender's entry as STALE, overriding. Any other ARP only updates an EXISTING
//!   entry of its sender: as REACHABLE if it is a reply sent to our MAC, else as STALE. A
//!   different MAC replaces the cached one only if the entry last changed more than
//!   `locktime` (1 s) ago, or if the ARP is gratuitous (sender IP = target IP; a reply also
//!   needs target MAC = sender MAC); so of several replies to one request the FIRST wins (the
//!   DR "ARP problem"), and a VRRP takeover's gratuitous ARP moves the VIP at once. A REACHABLE
//!   update confirms the entry even when its MAC is refused. `updated` moves only when the
//!   state or the MAC changes (and on STALE → DELAY and the start of INCOMPLETE). The same MAC
//!   offered as STALE leaves the state as it was. Queued frames leave once the entry is valid.
//!
//! Not modelled: garbage collection (`gc_stale_time`), `arp_accept`, proxy ARP, ICMP host
//! unreachable for dropped queued frames, `app_solicit`. Storage is fixed at [`Neighbours::new`].
//! It must not import the router, the fabric or the nodes.

use super::neighq::FrameQueues;
pub use super::neightypes::{ArpIn, NeighParams, NeighStats, Resolve, Solicit, State};
use crate::wire::EthernetAddress;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// Frames queued over all unresolved neighbours at most (Linux is bounded by memory only;
/// 4096 slots of a full frame are 6 MB).
const QUEUED_FRAMES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Entry {
    port: usize,
    ip: Ipv4Addr,
    mac: EthernetAddress,
    state: State,
    confirmed: Instant,
    updated: Instant,
    used: Instant,
    timer: Option<Instant>,
    probes: u32,
}

/// The cache: a fixed number of entries, their queues and the requests to send.
pub struct Neighbours {
    params: NeighParams,
    reachable_time: Duration,
    entries: Vec<Entry>,
    capacity: usize,
    queues: FrameQueues,
    solicits: VecDeque<Solicit>,
    /// The earliest entry timer, as of the last change to any of them (`timers_moved` false).
    earliest: Option<Instant>,
    timers_moved: bool,
    pub stats: NeighStats,
}

impl Neighbours {
    /// A cache of at most `capacity` entries; `seed` draws `reachable_time`.
    pub fn new(params: NeighParams, capacity: usize, seed: u64) -> Neighbours {
        let base = params.base_reachable_time.total_micros();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let reachable = base / 2 + rng.random_range(0..base.max(1));
        Neighbours {
            params,
            reachable_time: Duration::from_micros(reachable),
            entries: Vec::with_capacity(capacity),
            capacity,
            queues: FrameQueues::new(capacity, params.unres_qlen_bytes, QUEUED_FRAMES),
            solicits: VecDeque::with_capacity(2 * capacity),
            earliest: None,
            timers_moved: false,
            stats: NeighStats::default(),
        }
    }

    pub fn reachable_time(&self) -> Duration {
        self.reachable_time
    }

    fn find(&self, port: usize, ip: Ipv4Addr) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| e.port == port && e.ip == ip)
    }

    /// The state and MAC of `ip` on `port`.
    pub fn get(&self, port: usize, ip: Ipv4Addr) -> Option<(State, EthernetAddress)> {
        self.find(port, ip)
            .map(|i| (self.entries[i].state, self.entries[i].mac))
    }

    /// The entry of `ip` on `port`, made if missing (replacing the least recently used
    /// entry that is neither resolving nor holding frames when the table is full).
    fn find_or_create(&mut self, now: Instant, port: usize, ip: Ipv4Addr) -> Option<usize> {
        if let Some(i) = self.find(port, ip) {
            return Some(i);
        }
        let fresh = Entry {
            port,
            ip,
            mac: EthernetAddress([0; 6]),
            state: State::None,
            confirmed: now - self.params.base_reachable_time * 2,
            updated: now,
            used: now,
            timer: None,
            probes: 0,
        };
        if self.entries.len() < self.capacity {
            self.entries.push(fresh);
            return Some(self.entries.len() - 1);
        }
        let queues = &self.queues;
        let i = (0..self.entries.len())
            .filter(|&i| self.entries[i].state != State::Incomplete && queues.is_empty(i))
            .min_by_key(|&i| self.entries[i].used)?;
        self.entries[i] = fresh;
        Some(i)
    }

    /// Where a frame for next hop `ip` out of `port` goes (`neigh_resolve_output`).
    pub fn resolve(&mut self, now: Instant, port: usize, ip: Ipv4Addr) -> Resolve {
        let Some(i) = self.find_or_create(now, port, ip) else {
            self.stats.table_full += 1;
            return Resolve::Full;
        };
        let p = self.params;
        let e = &mut self.entries[i];
        if e.state == State::Reachable {
            return Resolve::Mac(e.mac);
        }
        // A new entry, or one whose timer may move (its slot may have held another's).
        self.timers_moved = true;
        let e = &mut self.entries[i];
        match e.state {
            State::Reachable | State::Delay | State::Probe => {}
            State::Stale => {
                e.state = State::Delay;
                e.updated = now;
                e.timer = Some(now + p.delay_first_probe_time);
            }
            State::Incomplete => {}
            State::None | State::Failed => {
                e.state = State::Incomplete;
                e.updated = now;
                e.probes = p.ucast_solicit;
                e.timer = Some(now + p.retrans_time);
                self.solicit(i);
            }
        }
        let e = &mut self.entries[i];
        e.used = now;
        if e.state.valid() {
            Resolve::Mac(e.mac)
        } else {
            Resolve::Queue(i)
        }
    }

    /// Queues `frame` on entry `entry` (from [`Resolve::Queue`]), dropping the oldest if full.
    pub fn enqueue(&mut self, entry: usize, frame: &[u8]) {
        self.stats.unres_discards += self.queues.push(entry, frame);
    }

    /// Sends a request for entry `i` (`neigh_probe`: unicast while `probes < ucast_solicit`).
    fn solicit(&mut self, i: usize) {
        let e = &mut self.entries[i];
        let to = (e.probes < self.params.ucast_solicit).then_some(e.mac);
        e.probes += 1;
        if self.solicits.len() == self.solicits.capacity() {
            self.stats.solicit_drops += 1;
            return;
        }
        self.solicits.push_back(Solicit {
            port: e.port,
            ip: e.ip,
            to,
        });
    }

    /// The next ARP request to send.
    pub fn poll_solicit(&mut self) -> Option<Solicit> {
        self.solicits.pop_front()
    }

    /// The next queued frame whose neighbour is now valid: written into `buf` with that
    /// MAC as its destination; its port and length.
    pub fn poll_flush(&mut self, buf: &mut [u8]) -> Option<(usize, usize)> {
        let entries = &self.entries;
        let (i, len) = self.queues.pop_ready(buf, |i| entries[i].state.valid())?;
        buf[0..6].copy_from_slice(&self.entries[i].mac.0);
        Some((self.entries[i].port, len))
    }

    /// An ARP message arrived on `port` (`arp_process`'s neighbour part).
    pub fn handle_arp(&mut self, now: Instant, port: usize, arp: &ArpIn) {
        self.timers_moved = true;
        if arp.sip.is_unspecified() || arp.sip.is_multicast() || arp.sip.is_broadcast() {
            return;
        }
        if !arp.reply && arp.for_us {
            if let Some(i) = self.find_or_create(now, port, arp.sip) {
                self.update(now, i, arp.sha, State::Stale, true);
            }
            return;
        }
        let Some(i) = self.find(port, arp.sip) else {
            return;
        };
        let garp = arp.sip == arp.tip && (!arp.reply || arp.tha == arp.sha);
        let unlocked = now > self.entries[i].updated + self.params.locktime;
        let state = if arp.reply && arp.to_us {
            State::Reachable
        } else {
            State::Stale
        };
        self.update(now, i, arp.sha, state, unlocked || garp);
    }

    /// `neigh_update` with a new MAC and state (REACHABLE or STALE).
    fn update(&mut self, now: Instant, i: usize, mac: EthernetAddress, new: State, over: bool) {
        let (base, reachable) = (self.params.base_reachable_time, self.reachable_time);
        let e = &mut self.entries[i];
        let old = e.state;
        let same_mac = old.valid() && e.mac == mac;
        if new == State::Reachable {
            e.confirmed = now;
        }
        let mut new = new;
        if old.valid() {
            if !same_mac && !over {
                return;
            }
            if same_mac && new == State::Stale {
                new = old;
            }
        }
        if new != old || !same_mac {
            e.updated = now;
        }
        if new != old {
            e.state = new;
            e.timer = (new == State::Reachable).then_some(now + reachable);
        }
        if !same_mac {
            e.mac = mac;
            if new != State::Reachable {
                e.confirmed = now - base * 2;
            }
        }
        if new != old && !old.valid() {
            self.queues.mark_ready(i);
        }
    }

    /// Runs every timer due at `now` (`neigh_timer_handler`).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timers_moved = true;
        for i in 0..self.entries.len() {
            if self.entries[i].timer.is_some_and(|t| t <= now) {
                self.tick(now, i);
            }
        }
    }

    fn tick(&mut self, now: Instant, i: usize) {
        let (p, reachable) = (self.params, self.reachable_time);
        let e = &mut self.entries[i];
        match e.state {
            State::Reachable if now <= e.confirmed + reachable => {
                e.timer = Some(e.confirmed + reachable);
            }
            State::Reachable if now <= e.used + p.delay_first_probe_time => {
                (e.state, e.updated) = (State::Delay, now);
                e.timer = Some(now + p.delay_first_probe_time);
            }
            State::Reachable => (e.state, e.updated, e.timer) = (State::Stale, now, None),
            State::Delay if now <= e.confirmed + p.delay_first_probe_time => {
                (e.state, e.updated) = (State::Reachable, now);
                e.timer = Some(e.confirmed + reachable);
            }
            State::Delay => {
                (e.state, e.updated, e.probes) = (State::Probe, now, 0);
                e.timer = Some(now + p.retrans_time);
            }
            State::Incomplete | State::Probe => e.timer = Some(now + p.retrans_time),
            State::None | State::Stale | State::Failed => e.timer = None,
        }
        // Linux never rearms a neighbour timer less than HZ/100 ahead.
        e.timer = e.timer.map(|t| t.max(now + Duration::from_millis(10)));
        let max = match e.state {
            State::Incomplete => p.ucast_solicit + p.mcast_solicit,
            State::Probe => p.ucast_solicit,
            _ => return,
        };
        if e.probes >= max {
            (e.state, e.timer) = (State::Failed, None);
            self.stats.failed_drops += self.queues.clear(i) as u64;
            return;
        }
        self.solicit(i);
    }

    /// The earliest timer.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        if self.timers_moved {
            self.timers_moved = false;
            self.earliest = self.entries.iter().filter_map(|e| e.timer).min();
        }
        self.earliest
    }
}
