//! The engine interface: what the runner's one walk through a scenario's timeline ([`super::walk`])
//! asks of a lab, whether it is built of network namespaces and runs in real time
//! ([`super::execute`]) or is emulated in virtual time ([`super::emulated`]). The timeline, the
//! faults, the sampling and what is made of the directors' event logs are written once, here and
//! in the walk; an engine only builds, acts and reports.

use super::director_events::DirectorLog;
use super::execute::{Collected, HealthChange, MemorySample};
use crate::dataplane::counters::Traffic;
use crate::dataplane::stats::Stats;
use crate::impairment::WireStats;
use crate::lab::LinkStats;
use crate::metrics::ClientReport;
use crate::scenario::{EventSpec, Scenario};

/// Which engine runs a scenario.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Network namespaces, TAP devices and real processes, in real time (root).
    #[default]
    Netns,
    /// The same directors on an in-memory fabric with simulated hosts, in virtual time.
    Emulated,
}

impl EngineKind {
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Netns => "netns",
            EngineKind::Emulated => "emulated",
        }
    }

    /// Why this engine cannot measure `metric`, if it cannot.
    pub fn unmeasured(self, metric: &str) -> Option<&'static str> {
        use crate::metrics::catalogue::{DIRECTOR_RSS_GROWTH_MB, DIRECTOR_RSS_MAX_MB};
        let memory = [DIRECTOR_RSS_MAX_MB.name, DIRECTOR_RSS_GROWTH_MB.name];
        (self == EngineKind::Emulated && memory.contains(&metric))
            .then_some("the emulated directors are no processes and have no resident memory")
    }

    /// `scenario` without its expectations on metrics this engine cannot measure, each named
    /// on stderr (they are not checked, rather than failed for a value that cannot exist).
    pub fn checkable(self, scenario: &Scenario) -> Scenario {
        let mut kept = scenario.clone();
        kept.expectations
            .retain(|x| match self.unmeasured(&x.metric) {
                Some(why) => {
                    eprintln!(
                        "run: {}: expectation {} {} not checked in the {} engine: {why}",
                        scenario.name,
                        x.metric,
                        x.bound_text(),
                        self.name()
                    );
                    false
                }
                None => true,
            });
        kept
    }
}

/// A lab with its directors, real servers and loads started, the load about to begin.
pub trait Engine {
    /// Milliseconds since the load start (0 until it starts).
    fn now_ms(&mut self) -> u64;
    /// Lets time pass, at most until `until_ms` after the load start (real time: a short
    /// sleep; virtual time: everything due until then happens).
    fn advance(&mut self, until_ms: u64) -> anyhow::Result<()>;
    /// Director `name`'s counters now; `None` when it does not answer (killed, frozen).
    fn director_stats(&mut self, name: &str) -> Option<Stats>;
    /// Each director process's resident memory now (none where directors are no processes).
    fn memory(&mut self, t_ms: u64) -> Vec<MemorySample>;
    /// Plays one timeline event.
    fn apply(&mut self, event: &EventSpec) -> anyhow::Result<()>;
    /// Fails when a director that the timeline did not end has ended.
    fn check_directors(&mut self, gone: &[String]) -> anyhow::Result<()>;
    /// Whether every load generator has finished.
    fn loads_done(&mut self) -> bool;
    /// Requests answered and failed so far, where the engine can tell while the load runs.
    fn tally(&mut self) -> Option<(u64, u64)>;
    /// The load is over: stops the directors and brings back what everyone reported.
    fn finish(&mut self) -> anyhow::Result<Finished>;
}

/// What an engine brings back once the load is over.
#[derive(Default)]
pub struct Finished {
    /// One report per load, in scenario order.
    pub clients: Vec<ClientReport>,
    /// The router's LAN interface counters over the load.
    pub router_lan: LinkStats,
    /// The first director's port counters over the load (switch side).
    pub director_tap: LinkStats,
    /// Each `[[link]]`'s wire: its last stats, by link name.
    pub wires: Vec<(String, WireStats)>,
    /// Each director's event log, with times on the engine's clock.
    pub logs: Vec<(String, DirectorLog)>,
    /// The load start on the logs' clock: their times minus this are ms from the load start.
    pub log_epoch_ms: u64,
    /// Status-port probes of the directors' host stacks before the load that got no answer.
    pub host_probe_failures: u64,
}

/// What the walk through the timeline recorded.
#[derive(Default)]
pub struct Walked {
    pub events: Vec<(u64, EventSpec)>,
    pub samples: Vec<(u64, Traffic)>,
    pub masters: Vec<(u64, Vec<String>)>,
    pub tables: Vec<(u64, String, bool, usize)>,
    pub memory: Vec<MemorySample>,
    /// Each director's last known counters, in the order of the walk's directors.
    pub last: Vec<Stats>,
}

/// Forwarded traffic of all directors together.
pub fn sum_forwarded(stats: &[Stats]) -> Traffic {
    let mut t = Traffic::default();
    for s in stats {
        t.add(&s.forwarded());
    }
    t
}

/// Puts the walk and the engine's reports together into what the metrics are derived from.
pub fn collect(scenario: &Scenario, seed: u64, walked: Walked, finished: Finished) -> Collected {
    let (mut transitions, mut health) = (Vec::new(), Vec::new());
    let (mut sync, mut health_counters, mut vrrp) = (Vec::new(), Vec::new(), Vec::new());
    let by_ldirectord = scenario.checker() == crate::scenario::Checker::Ldirectord;
    for (name, log) in finished.logs {
        if log.unreadable > 0 {
            eprintln!("run: {name}: {} unreadable event line(s)", log.unreadable);
        }
        let since = |at: u64| at.saturating_sub(finished.log_epoch_ms);
        for (at, event) in log.transitions {
            transitions.push((name.clone(), since(at), event));
        }
        // ldirectord's verdicts are the weights it sets: 0 is down, any other weight up.
        let weights = by_ldirectord
            .then_some(log.weights)
            .into_iter()
            .flatten()
            .map(|(at, server, weight)| (at, server, weight > 0));
        for (at, server, up) in log.health.into_iter().chain(weights) {
            health.push(HealthChange {
                at: since(at),
                director: name.clone(),
                server,
                up,
            });
        }
        sync.extend(log.last_sync.map(|r| (name.clone(), r)));
        vrrp.extend(log.last_vrrp.map(|r| (name.clone(), r)));
        health_counters.extend(log.last_health.map(|r| (name.clone(), r)));
    }
    health.sort_by_key(|h| h.at);
    Collected {
        wires: finished.wires,
        seed,
        memory: walked.memory,
        director_tap: finished.director_tap,
        vrrp,
        health,
        health_counters,
        director_tables: walked.tables,
        sync,
        host_probe_failures: finished.host_probe_failures,
        director_forwarded: sum_forwarded(&walked.last),
        director_final: walked.last.first().cloned().unwrap_or_default(),
        masters: walked.masters,
        transitions,
        events: walked.events,
        director_samples: walked.samples,
        clients: finished.clients,
        router_lan: finished.router_lan,
    }
}

#[cfg(test)]
mod tests {
    use super::EngineKind;
    use crate::scenario::Scenario;
    use std::path::Path;

    #[test]
    fn memory_expectations_are_not_checked_emulated_and_kept_in_netns() {
        let text = "[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n\
             [[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\nduration = \"2s\"\n\
             [[expect]]\nmetric = \"director_rss_max_mb\"\nmax = 64\n\
             [[expect]]\nmetric = \"failed_requests\"\nmax = 0\n";
        let s = Scenario::parse(Path::new("memory.toml"), text).expect("parses");
        let metrics = |s: &Scenario| -> Vec<String> {
            s.expectations.iter().map(|x| x.metric.clone()).collect()
        };
        assert_eq!(
            metrics(&EngineKind::Netns.checkable(&s)),
            ["director_rss_max_mb", "failed_requests"]
        );
        assert_eq!(
            metrics(&EngineKind::Emulated.checkable(&s)),
            ["failed_requests"]
        );
    }
}
