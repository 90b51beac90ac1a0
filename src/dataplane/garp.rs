//! Gratuitous ARP on becoming active, as keepalived does it: a burst for every VIP and
//! floating address at once, the same burst again after a delay, and optionally a refresh
//! every so often; so the router and switches learn the new MAC at once after a takeover.

use super::Iface;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// When and how often gratuitous ARPs go out (keepalived's `garp_master_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GarpConfig {
    /// ARPs per address in the burst sent on becoming active (`garp_master_repeat`).
    pub count: u8,
    /// Delay before the second burst, in milliseconds; 0 = none (`garp_master_delay`).
    pub repeat_delay_ms: u64,
    /// ARPs per address in the second burst.
    pub repeat_count: u8,
    /// Period of a refresh burst while active, in milliseconds; 0 = off
    /// (`garp_master_refresh`).
    pub refresh_ms: u64,
}

impl Default for GarpConfig {
    fn default() -> Self {
        GarpConfig {
            count: 5,
            repeat_delay_ms: 5000,
            repeat_count: 5,
            refresh_ms: 0,
        }
    }
}

/// Which burst is due next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    First,
    Repeat,
    Refresh,
}

/// The gratuitous-ARP schedule of one director.
#[derive(Debug, Clone)]
pub struct Garp {
    config: GarpConfig,
    /// Every address announced, with its interface (VIPs on the outside, floating ones where
    /// they are configured). Built at start; grows only when `ipvsadm -A` adds a VIP.
    addresses: Vec<(Iface, Ipv4Addr)>,
    /// When the current or next burst is due; `None` when idle.
    due_ms: Option<u64>,
    phase: Phase,
    /// Rounds left in the current burst, and the next address of the round.
    rounds_left: u8,
    next_address: usize,
}

impl Garp {
    pub fn new(config: GarpConfig, addresses: Vec<(Iface, Ipv4Addr)>) -> Self {
        Garp {
            config,
            addresses,
            due_ms: None,
            phase: Phase::First,
            rounds_left: 0,
            next_address: 0,
        }
    }

    /// Announces one more address from the next burst on (a service added with a new VIP).
    pub fn add(&mut self, iface: Iface, addr: Ipv4Addr) {
        if !self.addresses.contains(&(iface, addr)) {
            self.addresses.push((iface, addr));
        }
    }

    /// Starts the schedule: becoming active.
    pub fn start(&mut self, now_ms: u64) {
        self.begin(Phase::First, now_ms);
    }

    /// Stops everything: becoming passive.
    pub fn stop(&mut self) {
        self.due_ms = None;
    }

    fn begin(&mut self, phase: Phase, at_ms: u64) {
        self.phase = phase;
        self.rounds_left = match phase {
            Phase::First | Phase::Refresh => self.config.count,
            Phase::Repeat => self.config.repeat_count,
        };
        self.next_address = 0;
        self.due_ms = (self.rounds_left > 0 && !self.addresses.is_empty()).then_some(at_ms);
        if self.due_ms.is_none() {
            self.after_burst(at_ms);
        }
    }

    /// What follows a finished burst.
    fn after_burst(&mut self, now_ms: u64) {
        let (phase, delay) = match self.phase {
            Phase::First if self.config.repeat_delay_ms > 0 && self.config.repeat_count > 0 => {
                (Phase::Repeat, self.config.repeat_delay_ms)
            }
            _ if self.config.refresh_ms > 0 => (Phase::Refresh, self.config.refresh_ms),
            _ => {
                self.due_ms = None;
                return;
            }
        };
        self.phase = phase;
        self.rounds_left = match phase {
            Phase::Repeat => self.config.repeat_count,
            _ => self.config.count,
        };
        self.next_address = 0;
        self.due_ms = Some(now_ms + delay);
    }

    /// The next address to announce now, if one is due; `first` when it opens a takeover.
    pub fn take_due(&mut self, now_ms: u64) -> Option<(Iface, Ipv4Addr, bool)> {
        if self.due_ms.is_none_or(|t| t > now_ms) {
            return None;
        }
        let first = self.phase == Phase::First
            && self.next_address == 0
            && self.rounds_left == self.config.count;
        let (iface, addr) = self.addresses[self.next_address];
        self.next_address += 1;
        if self.next_address == self.addresses.len() {
            self.next_address = 0;
            self.rounds_left -= 1;
            if self.rounds_left == 0 {
                self.after_burst(now_ms);
            }
        }
        Some((iface, addr, first))
    }

    /// When the next ARP is due.
    pub fn poll_at(&self) -> Option<u64> {
        self.due_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garp(config: GarpConfig) -> Garp {
        let vip = Ipv4Addr::new(198, 18, 0, 100);
        let gw = Ipv4Addr::new(198, 18, 1, 1);
        Garp::new(config, vec![(Iface::OUTSIDE, vip), (Iface::INSIDE, gw)])
    }

    fn drain(g: &mut Garp, now: u64) -> Vec<(Iface, Ipv4Addr, bool)> {
        std::iter::from_fn(|| g.take_due(now)).collect()
    }

    #[test]
    fn keepalived_defaults_five_now_and_five_after_five_seconds() {
        let mut g = garp(GarpConfig::default());
        assert_eq!(g.poll_at(), None, "idle until active");
        g.start(1000);
        let first = drain(&mut g, 1000);
        assert_eq!(first.len(), 10, "5 rounds of 2 addresses");
        assert!(
            first[0].2 && first.iter().skip(1).all(|a| !a.2),
            "only the first opens the takeover"
        );
        assert_eq!(g.poll_at(), Some(6000));
        assert!(drain(&mut g, 5999).is_empty());
        let again = drain(&mut g, 6000);
        assert_eq!(again.len(), 10);
        assert!(again.iter().all(|a| !a.2));
        assert_eq!(g.poll_at(), None, "no refresh by default");
    }

    #[test]
    fn refresh_repeats_and_stop_silences() {
        let mut g = garp(GarpConfig {
            count: 1,
            repeat_delay_ms: 0,
            repeat_count: 0,
            refresh_ms: 60_000,
        });
        g.start(0);
        assert_eq!(drain(&mut g, 0).len(), 2);
        assert_eq!(g.poll_at(), Some(60_000));
        assert_eq!(drain(&mut g, 60_000).len(), 2);
        assert_eq!(g.poll_at(), Some(120_000));
        g.stop();
        assert_eq!(g.poll_at(), None);
        assert!(drain(&mut g, 200_000).is_empty());
    }
}
