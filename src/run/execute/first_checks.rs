//! Before the load starts, the netns runner waits for the tapvs directors' first check round:
//! every checked real server has a verdict the director stands by, as an ldirectord user waits
//! for ldirectord's first checks. Read from each director's event log (its `health_counters`).

use super::{Ctx, wait_for};
use crate::node::event::ServerHealth;
use crate::run::director_events::DirectorLog;
use std::time::Duration;

/// Whether one server's checks have settled: it has a verdict and its state is what its
/// verdicts say. Up after a passed check, or down without ever having passed one (a server
/// dead from the start). Not settled: no verdict yet, up with only failures so far (its fall
/// is pending: the first checks of a start-up timed out), or down after passing a check (it
/// is rising, or flapping).
pub(super) fn settled(server: &ServerHealth) -> bool {
    let c = &server.counters;
    match (server.up, c.ok + c.failed) {
        (_, 0) => false,
        (true, _) => c.ok > 0,
        (false, _) => c.ok == 0,
    }
}

/// The servers of a director's latest health report that have not settled (all of them,
/// as one name "every server", when there is no report yet).
pub(super) fn unsettled(report: Option<&[ServerHealth]>) -> Vec<String> {
    match report {
        None => vec!["every server (no health report yet)".to_owned()],
        Some(servers) => (servers.iter())
            .filter(|s| !settled(s))
            .map(|s| s.server.clone())
            .collect(),
    }
}

impl Ctx<'_> {
    /// Waits until the first checks of every real server of every director in `directors`
    /// have settled (see [`settled`]), within a few check rounds; a director still unsettled
    /// then is reported with its servers, and the run goes on.
    pub(super) fn wait_for_first_checks(&self, directors: &[String]) {
        let Some(h) = self.scenario.health.as_ref() else {
            return;
        };
        if self.scenario.checker() != crate::scenario::Checker::Tapvs {
            return;
        }
        // A failed first round (an ARP answer lost at start-up: smoltcp asks again after 1 s)
        // takes `fall` checks down and `rise` checks up again.
        let rounds = h.fall + h.rise + 2;
        let limit = h.interval * rounds + h.timeout + Duration::from_secs(2);
        let pending = |name: &str| {
            let log = DirectorLog::read(&self.events(name));
            unsettled(log.last_health.as_deref())
        };
        let all_settled = || directors.iter().all(|d| pending(d).is_empty());
        if wait_for("the directors' first checks", limit, all_settled).is_ok() {
            return;
        }
        for name in directors {
            let servers = pending(name);
            if !servers.is_empty() {
                eprintln!(
                    "run: {name}: the first checks have not settled after {limit:?} ({}); \
                     the load starts anyway",
                    servers.join(", ")
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::monitor::CheckCounters;

    fn server(up: bool, ok: u64, failed: u64) -> ServerHealth {
        ServerHealth {
            server: format!("rs{ok}{failed}"),
            up,
            counters: CheckCounters {
                checks: ok + failed,
                ok,
                failed,
                ..CheckCounters::default()
            },
        }
    }

    #[test]
    fn a_server_settles_with_a_verdict_it_stands_by() {
        assert!(settled(&server(true, 1, 0)), "up after a pass");
        assert!(settled(&server(true, 2, 2)), "up again after a rise");
        assert!(settled(&server(false, 0, 2)), "dead from the start");
    }

    #[test]
    fn a_start_up_timeout_is_not_a_settled_verdict() {
        assert!(!settled(&server(true, 0, 0)), "no verdict yet");
        assert!(
            !settled(&server(true, 0, 1)),
            "first check timed out, fall pending"
        );
        assert!(!settled(&server(false, 1, 2)), "down and rising");
    }

    #[test]
    fn the_unsettled_servers_are_named() {
        assert_eq!(unsettled(None).len(), 1);
        let report = [server(true, 1, 0), server(true, 0, 1), server(false, 1, 2)];
        assert_eq!(unsettled(Some(&report)), ["rs01", "rs12"]);
        assert!(unsettled(Some(&report[..1])).is_empty());
    }
}
