//! What forged VRRP adverts (`spoof_vrrp`) cost: time without any master, gratuitous-ARP
//! bursts begun while they went on, and how many of them the directors dropped as coming from
//! no peer.

use super::execute::Collected;
use crate::metrics::catalogue as cat;
use crate::metrics::registry::Values;
use crate::node::event::DirectorEvent;
use crate::scenario::{Action, Scenario};

/// After the last forged advert, how long a re-announcement still counts as caused by it.
const SPOOF_TAIL_MS: u64 = 1000;

/// Copies of each forged advert a director gets: the group's and its own unicast one.
pub const COPIES_PER_DIRECTOR: u64 = 2;

/// `no_master_ms` with two tapvs directors; the spoofing metrics with `spoof_vrrp` events.
pub fn vrrp_metrics(m: &mut Values, scenario: &Scenario, c: &Collected) {
    let tapvs_pair = scenario.failover.is_some()
        && scenario.lab.mode.has_director()
        && scenario.tapvs_directors().len() == 2;
    if tapvs_pair {
        // Sampled like split_brain_ms: intervals in which no director was active.
        let interval = scenario.interval.as_millis() as u64;
        let none = c.masters.iter().filter(|(_, who)| who.is_empty()).count() as u64;
        m.set(&cat::NO_MASTER_MS, (none * interval) as f64);
    }
    let spoofs: Vec<_> = c
        .events
        .iter()
        .filter(|(_, e)| e.action == Action::SpoofVrrp)
        .collect();
    if spoofs.is_empty() {
        return;
    }
    let from = spoofs.iter().map(|(at, _)| *at).min().unwrap_or(0);
    let to = spoofs
        .iter()
        .map(|(at, e)| at + e.duration.as_millis() as u64)
        .max()
        .unwrap_or(0)
        + SPOOF_TAIL_MS;
    let bursts = c
        .transitions
        .iter()
        .filter(|(_, t, what)| (from..=to).contains(t) && *what == DirectorEvent::GratuitousArp)
        .count();
    m.set(&cat::GARP_BURSTS_DURING_SPOOF, bursts as f64);
    let dropped: f64 = c
        .vrrp
        .iter()
        .map(|(_, v)| v.counters.dropped_not_peer as f64)
        .sum();
    m.set(&cat::VRRP_NOT_PEER_DROPPED, dropped);
    let forged: u64 = spoofs.iter().map(|(_, e)| u64::from(e.spoof_count())).sum();
    let expected = forged * COPIES_PER_DIRECTOR * scenario.tapvs_directors().len() as u64;
    m.set(
        &cat::VRRP_SPOOFED_COUNTED_SHARE,
        dropped / (expected as f64).max(1.0),
    );
}

#[cfg(test)]
mod tests;
