//! Checks of `[[event]]`: times, the servers and directors named, spoofed adverts.

use super::{Check, bad, in_range};
use crate::scenario::echo::shown;
use crate::scenario::*;
use std::collections::HashSet;
use std::time::Duration;

impl Scenario {
    pub(super) fn check_events(&self) -> Check {
        let mut killed: HashSet<&str> = HashSet::new();
        let mut hung: HashSet<&str> = HashSet::new();
        // Directors ended (killed/stopped) and cut off, and whether the heartbeat is cut.
        let mut ended: HashSet<&str> = HashSet::new();
        let mut cut: HashSet<&str> = HashSet::new();
        let mut partitioned = false;
        for (i, e) in self.events.iter().enumerate() {
            let f = |name: &str| format!("event[{i}].{name}");
            if e.at > self.load_end() {
                return bad(f("at"), "after the end of the load");
            }
            if e.action == Action::SpoofVrrp {
                self.check_spoof(i, e)?;
                continue;
            }
            if matches!(e.action, Action::DegradeLink | Action::RepairLink) {
                self.check_link_event(i)?;
                continue;
            }
            if !e.link.is_empty() || e.impair.is_some() {
                return bad(f("link"), "only degrade_link and repair_link take a link");
            }
            if e.priority.is_some() || !e.interval.is_zero() || !e.duration.is_zero() {
                return bad(
                    f("priority"),
                    "only spoof_vrrp takes priority, interval and duration",
                );
            }
            if matches!(e.action, Action::PartitionHeartbeat | Action::HealHeartbeat) {
                if self.failover.is_none() {
                    return bad(
                        f("action"),
                        "there is no heartbeat without [failover] (two directors)",
                    );
                }
                if !e.director.is_empty() || !e.server.is_empty() || e.weight.is_some() {
                    return bad(f("action"), "takes neither director, server nor weight");
                }
                let healing = e.action == Action::HealHeartbeat;
                if partitioned != healing {
                    let why = if healing {
                        "the heartbeat is not partitioned here"
                    } else {
                        "the heartbeat is already partitioned"
                    };
                    return bad(f("action"), why);
                }
                partitioned = !healing;
                continue;
            }
            if e.action.is_director_action() {
                if !self.directors().contains(&e.director) {
                    return bad(
                        f("director"),
                        format!(
                            "no director named `{}` (the lab has {})",
                            shown(&e.director),
                            self.directors().join(", ")
                        ),
                    );
                }
                if !e.server.is_empty() || e.weight.is_some() {
                    return bad(f("server"), "a director action takes only `director`");
                }
                if !self.lab.mode.has_director() {
                    return bad(
                        f("action"),
                        format!("mode `{}` has no director", self.lab.mode.name()),
                    );
                }
                let d = e.director.as_str();
                let order = match e.action {
                    Action::KillDirector | Action::StopDirector if !ended.insert(d) => {
                        Some("is already ended")
                    }
                    Action::RestartDirector if !ended.remove(d) => {
                        Some("was not killed or stopped before")
                    }
                    Action::CutLink if !cut.insert(d) => Some("is already cut off"),
                    Action::RestoreLink if !cut.remove(d) => Some("was not cut off before"),
                    _ => None,
                };
                if let Some(why) = order {
                    return bad(f("action"), format!("director `{d}` {why}"));
                }
                continue;
            }
            if !e.director.is_empty() {
                return bad(f("director"), "only director actions take a director");
            }
            if !self.real_servers.iter().any(|r| r.name == e.server) {
                return bad(
                    f("server"),
                    format!("no real server named `{}`", shown(&e.server)),
                );
            }
            if matches!(e.action, Action::Drain | Action::SetWeight)
                && !self.lab.mode.has_director()
            {
                return bad(
                    f("action"),
                    format!(
                        "mode `{}` has no director to change weights on",
                        self.lab.mode.name()
                    ),
                );
            }
            match (e.action, e.weight) {
                (Action::SetWeight, None) => return bad(f("weight"), "set_weight needs a weight"),
                (Action::SetWeight, Some(w)) if w > 65_535 => {
                    return bad(f("weight"), "must be 0 – 65535");
                }
                (Action::SetWeight, _) => {}
                (_, Some(_)) => return bad(f("weight"), "only set_weight takes a weight"),
                (Action::KillServer, _) if !killed.insert(&e.server) => {
                    return bad(f("action"), format!("`{}` is already killed", e.server));
                }
                (Action::RestoreServer, _) if !killed.remove(e.server.as_str()) => {
                    return bad(f("action"), format!("`{}` was not killed before", e.server));
                }
                (Action::HangServer, _) if !hung.insert(&e.server) => {
                    return bad(f("action"), format!("`{}` already hangs", e.server));
                }
                (Action::UnhangServer, _) if !hung.remove(e.server.as_str()) => {
                    return bad(f("action"), format!("`{}` was not hung before", e.server));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A `spoof_vrrp` event: two directors to attack, a priority, a bounded stream.
    pub(super) fn check_spoof(&self, i: usize, e: &crate::scenario::EventSpec) -> Check {
        let f = |name: &str| format!("event[{i}].{name}");
        if self.failover.is_none() || !self.lab.mode.has_director() {
            return bad(
                f("action"),
                "spoof_vrrp needs [failover] and tapvs directors",
            );
        }
        if !e.director.is_empty() || !e.server.is_empty() || e.weight.is_some() {
            return bad(
                f("action"),
                "spoof_vrrp takes neither director, server nor weight",
            );
        }
        if e.priority.is_none() {
            return bad(
                f("priority"),
                "spoof_vrrp needs the priority to claim (0 – 255)",
            );
        }
        let min = crate::spoof::MIN_INTERVAL;
        in_range(&f("interval"), e.interval, min, Duration::from_secs(10))?;
        // At most 60 s / 10 ms = 6000 adverts: within `tapvs spoof`'s own bound.
        in_range(
            &f("duration"),
            e.duration,
            e.interval,
            Duration::from_secs(60),
        )?;
        if e.at + e.duration > self.load_end() {
            return bad(f("duration"), "the spoofing must end with the load");
        }
        Ok(())
    }
}
