//! The checks of `[health] checker` and `compare_checkers`: the real ldirectord runs only what
//! it can (TCP services, a director in DR or NAT, checks it can express), and a comparison
//! names each checker once and is not combined with a sweep.

use super::{Checker, Mode, Scenario};

type Check = Result<(), (String, String)>;

fn bad(field: &str, reason: impl Into<String>) -> Check {
    Err((field.to_string(), reason.into()))
}

impl Scenario {
    pub(super) fn check_checker(&self) -> Check {
        let resource = (self.failover.as_ref())
            .and_then(|f| Some((f, f.heartbeat.as_ref()?.ldirectord.as_ref()?)));
        if let Some((f, _)) = resource {
            if f.heartbeat_manager().is_none() {
                return bad(
                    "failover.haresources",
                    "ldirectord is Heartbeat's resource only with manager = \"heartbeat\"",
                );
            }
            if self.checker() != Checker::Ldirectord {
                return bad(
                    "health.checker",
                    "haresources runs ldirectord: give [health] checker = \"ldirectord\"",
                );
            }
        }
        let Some(h) = &self.health else {
            return Ok(());
        };
        let list = &h.compare_checkers;
        if list.len() == 1 || (1..list.len()).any(|i| list[..i].contains(&list[i])) {
            return bad(
                "health.compare_checkers",
                "name two different checkers (\"tapvs\", \"ldirectord\")",
            );
        }
        let sweeps = self
            .failover
            .as_ref()
            .is_some_and(|f| !f.sweep_advert_intervals.is_empty() || !f.sweep_deadtimes.is_empty());
        if !list.is_empty() && sweeps {
            return bad(
                "health.compare_checkers",
                "a scenario sweeps failover timings or compares checkers, not both",
            );
        }
        if h.checker != Checker::Ldirectord {
            return Ok(());
        }
        if !matches!(self.lab.mode, Mode::Dr | Mode::Nat) {
            return bad(
                "health.checker",
                format!(
                    "ldirectord drives a director's table: mode `{}` has none",
                    self.lab.mode.name()
                ),
            );
        }
        if self.service.protocol != crate::config::Protocol::Tcp {
            return bad(
                "health.checker",
                "ldirectord's connect and negotiate checks are for TCP services",
            );
        }
        // With `ldirectord_cf`, ldirectord reads that file as it is (tapvs's reader took it).
        if self.ldirectord_cf_text.is_none() {
            crate::ldirectord::render::render(self)
                .map(drop)
                .map_err(|(field, reason)| {
                    (field, format!("{reason} (with checker = \"ldirectord\")"))
                })?;
        }
        Ok(())
    }
}
