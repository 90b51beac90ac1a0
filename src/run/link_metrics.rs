//! What the impaired links did, measured on their wires (`<metric>:<link>`), and what a lossy
//! heartbeat costs: takeovers by a backup whose master was alive, the time two directors
//! were master by their own event logs, and the takeovers RFC 5798's rule predicts.
//!
//! The prediction: a backup takes over when Master_Down_Interval (3 × interval + skew, the
//! skew under one interval) passes without an advert, i.e. after three adverts in a row are
//! lost. With each advert lost with probability p, a run of losses begins after a received
//! advert with probability (1 − p), so each advert interval starts a takeover with
//! probability (1 − p)·p³: 0.64 % at 20 % loss, 8.6 % at 60 %.

use super::execute::Collected;
use crate::metrics::catalogue as cat;
use crate::metrics::registry::{Family, Values};
use crate::node::event::{DirectorEvent, VrrpState};
use crate::scenario::{Action, Scenario, link::HEARTBEAT};

/// Director events after which a takeover is no longer spurious.
fn is_director_fault(a: Action) -> bool {
    matches!(
        a,
        Action::KillDirector
            | Action::FreezeDirector
            | Action::StopDirector
            | Action::CutLink
            | Action::PartitionHeartbeat
    )
}

pub fn link_metrics(m: &mut Values, scenario: &Scenario, c: &Collected) {
    for (link, stats) in &c.wires {
        let t = stats.total();
        let dropped = t.dropped_loss + t.dropped_queue + t.dropped_oversize;
        let mut put = |family: &Family, v: f64| m.set_for(family, link, v);
        put(&cat::LINK_FRAMES, t.matched as f64);
        put(&cat::LINK_DROPPED, dropped as f64);
        let loss = 100.0 * t.dropped_loss as f64 / (t.matched as f64).max(1.0);
        put(&cat::LINK_LOSS_PCT, loss);
        put(&cat::LINK_DELAYED, t.delayed as f64);
        put(&cat::LINK_DELAY_MEAN_MS, t.mean_delay_ms());
        put(&cat::LINK_DELAY_MAX_MS, t.delay_max_us as f64 / 1000.0);
    }
    let two_tapvs = scenario.failover.is_some()
        && scenario.lab.mode.has_director()
        && scenario.tapvs_directors().len() == 2;
    if !two_tapvs {
        return;
    }
    // Up to the first director fault (after it a takeover is what should happen).
    let end = c
        .events
        .iter()
        .find(|(_, e)| is_director_fault(e.action))
        .map_or(scenario.load_end().as_millis() as u64, |(at, _)| *at);
    let (spurious, split) = takeovers(&c.transitions, end);
    m.set(&cat::SPURIOUS_TAKEOVERS, spurious as f64);
    m.set(&cat::SPLIT_BRAIN_LOGGED_MS, split as f64);
    let expected = expected_takeovers(scenario, c, end);
    m.set(&cat::SPURIOUS_TAKEOVERS_EXPECTED, expected);
}

/// From the event logs, up to `end` ms: how many times a director became master after the
/// load start while another was master, and how long two were master together.
fn takeovers(transitions: &[(String, u64, DirectorEvent)], end: u64) -> (u64, u64) {
    let mut log: Vec<(&String, u64, VrrpState)> = transitions
        .iter()
        .filter_map(|(d, t, what)| match what {
            DirectorEvent::Vrrp { state } => Some((d, *t, *state)),
            _ => None,
        })
        .collect();
    log.sort_by_key(|(_, t, _)| *t);
    let mut masters: Vec<&str> = Vec::new();
    let (mut spurious, mut split, mut since) = (0, 0, 0);
    for (director, t, state) in log {
        if t > end {
            break;
        }
        if masters.len() > 1 {
            split += t - since;
        }
        since = t;
        masters.retain(|d| *d != director.as_str());
        if state == VrrpState::Master {
            if t > 0 && !masters.is_empty() {
                spurious += 1;
            }
            masters.push(director.as_str());
        }
    }
    if masters.len() > 1 {
        split += end.saturating_sub(since);
    }
    (spurious, split)
}

/// Σ over the heartbeat link's phases (its `[[link]]` loss, then each degrade or repair) of
/// the adverts sent × (1 − p)·p³, up to `end` ms.
fn expected_takeovers(scenario: &Scenario, c: &Collected, end: u64) -> f64 {
    let (Some(f), Some(link)) = (&scenario.failover, scenario.link(HEARTBEAT)) else {
        return 0.0;
    };
    let advert_ms = f.advert_interval.as_secs_f64() * 1000.0;
    let mut phases = vec![(0u64, link.loss)];
    for (at, e) in &c.events {
        if e.link == HEARTBEAT {
            let loss = match (e.action, &e.impair) {
                (Action::DegradeLink, Some(imp)) => imp.loss,
                _ => 0.0,
            };
            phases.push((*at, loss));
        }
    }
    let mut expected = 0.0;
    for (i, (from, loss)) in phases.iter().enumerate() {
        let to = phases.get(i + 1).map_or(end, |(t, _)| *t).min(end);
        let p = loss / 100.0;
        expected += to.saturating_sub(*from) as f64 / advert_ms * (1.0 - p) * p.powi(3);
    }
    expected
}

#[cfg(test)]
mod tests {
    use super::takeovers;
    use crate::node::event::{DirectorEvent, VrrpState};

    fn t(d: &str, at: u64, what: &str) -> (String, u64, DirectorEvent) {
        let event = match what {
            "master" => DirectorEvent::Vrrp {
                state: VrrpState::Master,
            },
            "backup" => DirectorEvent::Vrrp {
                state: VrrpState::Backup,
            },
            "stopped" => DirectorEvent::Vrrp {
                state: VrrpState::Stopped,
            },
            _ => DirectorEvent::GratuitousArp,
        };
        (d.into(), at, event)
    }

    #[test]
    fn spurious_takeovers_and_split_brain_come_from_the_logs() {
        let log = [
            t("d1", 0, "master"),
            t("d2", 0, "backup"),
            t("d2", 1000, "master"),
            t("d1", 1000, "garp"),
            t("d2", 1150, "backup"),
            t("d2", 3000, "master"),
            t("d2", 3400, "backup"),
            t("d2", 9000, "master"),
        ];
        assert_eq!(takeovers(&log, 8000), (2, 550));
        // A takeover while nobody else is master is not spurious.
        let alone = [
            t("d1", 0, "master"),
            t("d1", 500, "stopped"),
            t("d2", 900, "master"),
        ];
        assert_eq!(takeovers(&alone, 8000), (0, 0));
        // Split brain still going at the end counts up to the end.
        assert_eq!(takeovers(&log[..3], 1500), (1, 500));
    }
}
