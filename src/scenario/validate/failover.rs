//! Checks of `[failover]`: VRRP, the keepalived peer, Heartbeat as manager or protocol.

use super::{Check, bad, in_range};
use crate::scenario::*;
use std::time::Duration;

impl Scenario {
    pub(super) fn check_failover(&self) -> Check {
        let Some(f) = &self.failover else {
            return Ok(());
        };
        // VRRPv3 carries the interval in centiseconds, 12 bits.
        let advert = |field: &str, d: Duration| {
            in_range(
                field,
                d,
                Duration::from_millis(10),
                Duration::from_millis(40_950),
            )?;
            if !d.as_millis().is_multiple_of(10) || !d.subsec_nanos().is_multiple_of(1_000_000) {
                return bad(
                    field,
                    "VRRPv3 counts it in centiseconds: use a multiple of 10ms",
                );
            }
            Ok(())
        };
        advert("failover.advert_interval", f.advert_interval)?;
        for (i, d) in f.sweep_advert_intervals.iter().enumerate() {
            advert(&format!("failover.sweep_advert_intervals[{i}]"), *d)?;
        }
        if f.sweep_advert_intervals.len() > 8 {
            return bad("failover.sweep_advert_intervals", "at most 8 intervals");
        }
        if !f.sweep_advert_intervals.is_empty() && !self.lab.compare_modes.is_empty() {
            return bad(
                "failover.sweep_advert_intervals",
                "a scenario sweeps intervals or compares modes, not both",
            );
        }
        if f.priorities.contains(&0) || f.priorities.contains(&255) {
            return bad(
                "failover.priorities",
                "must be 1 – 254 (0 means resigning, 255 the address owner)",
            );
        }
        if f.peer == crate::scenario::Peer::Keepalived && self.lab.mode != crate::scenario::Mode::Dr
        {
            return bad(
                "failover.peer",
                "keepalived as a peer is set up for direct routing only (mode = \"dr\")",
            );
        }
        if f.unicast && !f.peer_filter {
            return bad(
                "failover.unicast",
                "unicast adverts go to the peer list, which also filters: keep peer_filter",
            );
        }
        if f.unicast && f.peer == crate::scenario::Peer::Keepalived {
            return bad(
                "failover.unicast",
                "the keepalived peer is set up for multicast adverts",
            );
        }
        if f.peer == crate::scenario::Peer::Keepalived && !f.sweep_advert_intervals.is_empty() {
            return bad(
                "failover.peer",
                "a keepalived peer does not take part in sweeps",
            );
        }
        let refresh = f.sync_refresh;
        if refresh.subsec_nanos() != 0 || refresh > Duration::from_secs(86_400) {
            return bad(
                "failover.sync_refresh",
                "the director counts it in whole seconds: 0s (off) to 86400s",
            );
        }
        if f.vrid == 0 {
            return bad("failover.vrid", "must be 1 – 255");
        }
        if f.manager == crate::scenario::heartbeat::Manager::Heartbeat {
            self.check_heartbeat_manager(f)?;
        }
        if f.protocol == crate::scenario::FailoverProtocol::Heartbeat {
            self.check_heartbeat_protocol(f)?;
        }
        if !self.lab.mode.has_director() {
            return bad(
                "failover",
                format!("mode `{}` has no director", self.lab.mode.name()),
            );
        }
        Ok(())
    }

    /// `manager = "heartbeat"`: two tapvs directors, and faults that Heartbeat can see (its
    /// timing and files were checked as the scenario was read).
    pub(super) fn check_heartbeat_manager(&self, f: &crate::scenario::FailoverSpec) -> Check {
        if f.peer != crate::scenario::Peer::Tapvs {
            return bad(
                "failover.peer",
                "Heartbeat manages two tapvs directors: keep peer = \"tapvs\"",
            );
        }
        if !f.sweep_advert_intervals.is_empty() {
            let reason = "VRRP's interval sweep: with Heartbeat, sweep_deadtimes";
            return bad("failover.sweep_advert_intervals", reason);
        }
        if !f.sweep_deadtimes.is_empty() && !self.lab.compare_modes.is_empty() {
            let reason = "a scenario sweeps deadtimes or compares modes, not both";
            return bad("failover.sweep_deadtimes", reason);
        }
        if let Some(l) = self.links.iter().position(|l| l.name == "heartbeat") {
            let reason = "the heartbeat link filters VRRP adverts; Heartbeat speaks UDP 694";
            return bad(format!("link[{l}].name"), reason);
        }
        for (i, e) in self.events.iter().enumerate() {
            use crate::scenario::Action::*;
            // The director and its Heartbeat are one machine: these act on the director only.
            if matches!(
                e.action,
                FreezeDirector
                    | ResumeDirector
                    | CutLink
                    | RestoreLink
                    | PartitionHeartbeat
                    | HealHeartbeat
                    | SpoofVrrp
            ) {
                let reason = "not with manager = \"heartbeat\" (kill_director, stop_director \
                              and restart_director act on the director and its Heartbeat)";
                return bad(format!("event[{i}].action"), reason);
            }
        }
        Ok(())
    }

    /// `[failover] protocol = "heartbeat"`: two tapvs directors by unicast, a secret without
    /// spaces, and no VRRP-only faults (the timing was checked as the scenario was read).
    pub(super) fn check_heartbeat_protocol(&self, f: &crate::scenario::FailoverSpec) -> Check {
        if f.peer != crate::scenario::Peer::Tapvs || !f.sweep_advert_intervals.is_empty() {
            return bad(
                "failover.protocol",
                "heartbeat is spoken by two tapvs directors, without advert sweeps",
            );
        }
        if f.media == Some(crate::scenario::heartbeat::Media::Bcast) {
            return bad(
                "failover.media",
                "tapvs speaks heartbeat by unicast to the other director only",
            );
        }
        if let Some(key) = &f.auth_key
            && (key.is_empty() || key.chars().any(char::is_whitespace))
        {
            return bad("failover.auth_key", "a non-empty secret without spaces");
        }
        // The switch's heartbeat filter and the `heartbeat` wire take VRRP frames only.
        let vrrp_only = [
            crate::scenario::Action::PartitionHeartbeat,
            crate::scenario::Action::SpoofVrrp,
        ];
        if let Some(i) = self
            .events
            .iter()
            .position(|e| vrrp_only.contains(&e.action))
        {
            return bad(
                format!("event[{i}].action"),
                "acts on VRRP frames only, not on heartbeat's protocol (UDP 694)",
            );
        }
        if let Some(i) = self
            .links
            .iter()
            .position(|l| l.name == crate::scenario::link::HEARTBEAT)
        {
            return bad(
                format!("link[{i}].name"),
                "the heartbeat wire impairs VRRP frames only, not heartbeat's protocol",
            );
        }
        Ok(())
    }
}
