//! The emulated engine: a scenario's lab on the emulator's in-memory fabric in virtual time
//! (issue #13). The tapvs directors are the same `node::Director`s the `tapvs director`
//! process runs; the real servers and the loads are simulated hosts on smoltcp speaking
//! `tapvs server`'s and `tapvs client`'s protocol; the timeline, the sampling and the metrics
//! are the runner's own ([`super::walk`]). A run is a function of its seed: no wall clock, no
//! thread, every draw from the seed. What only real daemons can do (keepalived, Heartbeat,
//! ldirectord, a server `command`) is refused before anything runs, by [`supports`].

mod buffers;
mod build;
mod lab_node;
mod wire;

use super::director_events::DirectorLog;
use super::engine::{Engine, Finished};
use super::execute::{Collected, MemorySample};
use super::progress::Progress;
use crate::dataplane::stats::Stats;
use crate::emu::host::ServerState;
use crate::emu::sim::Sim;
use crate::lab::Interrupt;
use crate::node::event::EventLine;
use crate::scenario::{Action, EventSpec, Scenario};
use anyhow::{Context, bail};
use build::Built;
use lab_node::{Host, LabNode};
use smoltcp::time::{Duration, Instant};
use std::path::Path;

/// How far virtual time goes between two looks at the directors' events (their times are
/// this exact).
const STEP: Duration = Duration::from_millis(1);

/// Why the emulator cannot run `scenario`, if it cannot.
pub fn supports(scenario: &Scenario) -> Result<(), String> {
    build::unsupported(scenario).map_or(Ok(()), |why| {
        Err(format!(
            "the emulated engine cannot run this scenario: {why}; run it with `--engine netns`"
        ))
    })
}

/// Runs `scenario` in the emulator; the directors' event logs go to `out_dir/logs/`.
pub fn execute(
    scenario: &Scenario,
    interrupt: &Interrupt,
    out_dir: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Collected> {
    supports(scenario).map_err(anyhow::Error::msg)?;
    let seed = scenario.lab.seed.unwrap_or_else(super::execute::drawn_seed);
    eprintln!("run: seed {seed}");
    // The wall clock only measures the engine's speed, for the user; nothing in the run reads it.
    let wall = std::time::Instant::now();
    let cpu = thread_cpu();
    let mut engine = EmulatedEngine::start(scenario, seed)?;
    let directors = scenario.tapvs_directors();
    let walked = super::walk::walk(scenario, &mut engine, interrupt, &directors, progress)?;
    let finished = engine.finish()?;
    let (simulated, wall, cpu) = (
        engine.sim.now().total_millis() as f64 / 1000.0,
        wall.elapsed().as_secs_f64().max(1e-9),
        (thread_cpu() - cpu).max(1e-9),
    );
    eprintln!(
        "run: emulated {simulated:.1} s in {wall:.3} s of wall time ({:.0}x real time, {} events; \
         {cpu:.3} s of CPU, {:.0}x)",
        simulated / wall,
        engine.sim.counters.steps,
        simulated / cpu,
    );
    engine.write_logs(&out_dir.join("logs"))?;
    Ok(super::engine::collect(scenario, seed, walked, finished))
}

/// The CPU time this thread has used, in seconds: the engine's own cost, which a busy machine
/// does not inflate as it does the wall time (for the user only; nothing in the run reads it).
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill; the clock id is a constant.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// A running emulated lab.
struct EmulatedEngine {
    scenario: Scenario,
    sim: Sim<LabNode>,
    lab: Built,
    /// The load start on the virtual clock.
    start: Instant,
    /// Each director's event log so far, times in virtual ms since the lab started.
    logs: Vec<(String, DirectorLog)>,
    /// Each director's log as text lines, for `logs/<director>.events`.
    lines: Vec<String>,
    host_probe_failures: u64,
    /// Each `[[link]]`'s name and the frames it impairs.
    scenario_links: Vec<(String, crate::io::impair::Filter)>,
}

impl EmulatedEngine {
    /// Builds the lab, lets the directors elect a master and settle, and places the loads.
    fn start(scenario: &Scenario, seed: u64) -> anyhow::Result<EmulatedEngine> {
        let (sim, lab) = build::build(scenario, seed)?;
        let logs = (lab.directors.iter())
            .map(|(name, _)| (name.clone(), DirectorLog::default()))
            .collect();
        let mut engine = EmulatedEngine {
            scenario: scenario.clone(),
            sim,
            lab,
            start: Instant::ZERO,
            logs,
            lines: Vec::new(),
            host_probe_failures: 0,
            scenario_links: (scenario.links.iter())
                .map(|l| (l.name.clone(), l.filter()))
                .collect(),
        };
        // VRRP routers start as backups and elect a master after Master_Down_Interval: the
        // load starts on a converged pair, as in the lab.
        if let Some(f) = scenario
            .failover
            .as_ref()
            .filter(|_| engine.lab.directors.len() > 1)
        {
            let limit = match &f.heartbeat {
                Some(hb) => hb.initdead() + std::time::Duration::from_secs(20),
                None => f.advert_interval * 4 + std::time::Duration::from_secs(2),
            };
            let limit = engine.sim.now() + Duration::from_micros(limit.as_micros() as u64);
            while !engine.any_master() {
                if engine.sim.now() >= limit {
                    bail!("no director became master in the emulated lab");
                }
                engine.run_to(engine.sim.now() + Duration::from_millis(50))?;
            }
        }
        let settle = Duration::from_micros(scenario.lab.settle.as_micros() as u64);
        let t = engine.sim.now() + settle;
        engine.run_to(t)?;
        engine.host_probe_failures = engine.probe_directors(scenario, seed)?;
        // As in the lab, the loads begin 300 ms after they are started.
        engine.start = engine.sim.now() + Duration::from_millis(300);
        build::add_clients(
            &mut engine.sim,
            &mut engine.lab,
            scenario,
            engine.start,
            seed,
        )?;
        Ok(engine)
    }

    /// Asks each director's status port over TCP and UDP, as the lab's probes do; returns how
    /// many asks got no status line within 2 s. The probe then leaves the lab.
    fn probe_directors(&mut self, scenario: &Scenario, seed: u64) -> anyhow::Result<u64> {
        let Some(probe) = build::probe(&mut self.sim, &self.lab, scenario, seed)? else {
            return Ok(0);
        };
        loop {
            let now = self.sim.now();
            if let Host::Probe(p) = &self.sim.node(probe).host
                && let Some(failures) = p.failures(now)
            {
                self.sim.node_mut(probe).host = Host::Down;
                return Ok(failures);
            }
            self.run_to(now + Duration::from_millis(10))?;
        }
    }

    fn any_master(&self) -> bool {
        (self.lab.directors.iter()).any(|(_, i)| {
            (self.sim.node(*i).director()).is_some_and(|d| d.dataplane().stats().active)
        })
    }

    /// Runs the lab to `end` in [`STEP`]s, taking the directors' events after each.
    fn run_to(&mut self, end: Instant) -> anyhow::Result<()> {
        while self.sim.now() < end {
            let next = (self.sim.now() + STEP).min(end);
            self.sim
                .run_until(next)
                .context("the emulated lab stopped making progress")?;
            self.take_events();
        }
        Ok(())
    }

    fn take_events(&mut self) {
        let now_ms = self.sim.now().total_millis().max(0) as u64;
        for (k, (_, i)) in self.lab.directors.iter().enumerate() {
            // Only a director with events is taken out of the loop's hands: `node_mut` makes
            // the loop poll it again, a cost per millisecond stepped and per director.
            if !(self.sim.node(*i).director()).is_some_and(|d| d.has_events()) {
                continue;
            }
            let Some(d) = self.sim.node_mut(*i).director_mut() else {
                continue;
            };
            while let Some(event) = d.poll_event() {
                let line = EventLine {
                    unix_ms: now_ms,
                    t_ms: now_ms,
                    event,
                };
                if let Ok(text) = serde_json::to_string(&line) {
                    self.lines.push(format!("{k} {text}"));
                }
                self.logs[k].1.take(line);
            }
        }
    }

    /// `logs/<director>.events`: each director's events, as a `tapvs director` writes them
    /// (times in virtual milliseconds since the lab started).
    fn write_logs(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (k, (name, _)) in self.lab.directors.iter().enumerate() {
            let prefix = format!("{k} ");
            let text: String = (self.lines.iter())
                .filter_map(|l| l.strip_prefix(&prefix))
                .map(|l| format!("{l}\n"))
                .collect();
            let path = dir.join(format!("{name}.events"));
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    fn director_index(&self, name: &str) -> anyhow::Result<usize> {
        (self.lab.directors.iter())
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
            .with_context(|| format!("no director `{name}` in this lab"))
    }

    fn server_index(&self, name: &str) -> anyhow::Result<usize> {
        (self.lab.servers.iter())
            .find(|(n, _)| n == name)
            .map(|(_, i)| *i)
            .with_context(|| format!("no real server `{name}` in this lab"))
    }

    fn set_server(&mut self, name: &str, state: ServerState) -> anyhow::Result<()> {
        let i = self.server_index(name)?;
        let now = self.sim.now();
        match &mut self.sim.node_mut(i).host {
            Host::Server(s) => s.set_state(now, state),
            _ => bail!("`{name}` is not a real server"),
        }
        Ok(())
    }

    /// A weight change goes to every running director, as an operator would do it on both.
    fn set_weight(&mut self, server: &str, weight: u32) -> anyhow::Result<()> {
        for (name, i) in self.lab.directors.clone() {
            if let Some(d) = self.sim.node_mut(i).director_mut()
                && !d.dataplane_mut().set_weight(0, server, weight)
            {
                bail!("director {name} refused a weight change: no server `{server}`");
            }
        }
        Ok(())
    }
}

impl Engine for EmulatedEngine {
    fn now_ms(&mut self) -> u64 {
        (self.sim.now() - self.start.min(self.sim.now())).total_millis()
    }

    fn advance(&mut self, until_ms: u64) -> anyhow::Result<()> {
        let end = self.start + Duration::from_millis(until_ms);
        self.run_to(end.max(self.sim.now()))
    }

    fn director_stats(&mut self, name: &str) -> Option<Stats> {
        let i = self.director_index(name).ok()?;
        let node = self.sim.node(i);
        // A frozen or ending director answers nothing (its control socket is not served).
        if node.frozen || node.stopping {
            return None;
        }
        Some(node.director()?.dataplane().stats())
    }

    fn memory(&mut self, _t_ms: u64) -> Vec<MemorySample> {
        // The directors are no processes here.
        Vec::new()
    }

    fn apply(&mut self, event: &EventSpec) -> anyhow::Result<()> {
        let now = self.sim.now();
        match event.action {
            Action::Drain => self.set_weight(&event.server, 0),
            Action::SetWeight => self.set_weight(&event.server, event.weight.unwrap_or(0)),
            Action::KillServer => self.set_server(&event.server, ServerState::Killed),
            Action::HangServer => self.set_server(&event.server, ServerState::Hung),
            Action::UnhangServer | Action::RestoreServer => {
                self.set_server(&event.server, ServerState::Up)
            }
            Action::KillDirector => {
                let i = self.director_index(&event.director)?;
                self.sim.node_mut(i).host = Host::Down;
                Ok(())
            }
            Action::FreezeDirector | Action::ResumeDirector => {
                let i = self.director_index(&event.director)?;
                self.sim.node_mut(i).frozen = event.action == Action::FreezeDirector;
                Ok(())
            }
            Action::StopDirector => {
                let i = self.director_index(&event.director)?;
                let node = self.sim.node_mut(i);
                if let Some(d) = node.director_mut() {
                    d.shutdown(now);
                }
                node.stopping = true;
                Ok(())
            }
            Action::RestartDirector => {
                let i = self.director_index(&event.director)?;
                let director = self.lab.new_director(&event.director, now)?;
                let node = self.sim.node_mut(i);
                *node = LabNode::new(Host::Director(Box::new(director)));
                Ok(())
            }
            Action::CutLink | Action::RestoreLink => {
                let i = self.director_index(&event.director)?;
                self.sim.node_mut(i).cut = event.action == Action::CutLink;
                Ok(())
            }
            Action::PartitionHeartbeat | Action::HealHeartbeat => {
                for (_, i) in self.lab.directors.clone() {
                    self.sim.node_mut(i).partitioned = event.action == Action::PartitionHeartbeat;
                }
                Ok(())
            }
            Action::DegradeLink | Action::RepairLink => {
                let link = (self.scenario_links.iter())
                    .find(|(name, _)| *name == event.link)
                    .with_context(|| format!("no link `{}`", event.link))?;
                let settings = match (event.action, &event.impair) {
                    (Action::DegradeLink, Some(imp)) => imp.settings(link.1),
                    _ => crate::scenario::LinkImpair::default().settings(link.1),
                }
                .map_err(|(field, why)| anyhow::anyhow!("link {}: {field}: {why}", event.link))?;
                for i in self.lab.hosts() {
                    if let Some(w) = self
                        .sim
                        .node_mut(i)
                        .wire
                        .as_mut()
                        .filter(|w| w.name == event.link)
                    {
                        w.set_settings(settings).map_err(anyhow::Error::msg)?;
                    }
                }
                Ok(())
            }
            Action::SpoofVrrp => {
                build::spoofer(&mut self.sim, &self.lab, &self.scenario, event)?;
                Ok(())
            }
        }
    }

    fn check_directors(&mut self, _gone: &[String]) -> anyhow::Result<()> {
        // A director here ends only when the timeline ends it.
        Ok(())
    }

    fn loads_done(&mut self) -> bool {
        (self.lab.clients.iter()).all(|i| match &self.sim.node(*i).host {
            Host::Client(c) => c.is_done(),
            Host::Flooder(f) => f.is_done(),
            _ => true,
        })
    }

    fn tally(&mut self) -> Option<(u64, u64)> {
        let mut sum = (0, 0);
        for i in &self.lab.clients {
            if let Host::Client(c) = &self.sim.node(*i).host {
                let (ok, failed) = c.tally();
                sum = (sum.0 + ok, sum.1 + failed);
            }
        }
        Some(sum)
    }

    fn finish(&mut self) -> anyhow::Result<Finished> {
        let mut clients = Vec::new();
        for i in self.lab.clients.clone() {
            match &mut self.sim.node_mut(i).host {
                Host::Client(c) => {
                    clients.push(c.take_report().context("a load's report was taken twice")?)
                }
                Host::Flooder(f) => clients.push(f.report(0)),
                _ => {}
            }
        }
        let first = self.lab.directors.first().map(|(_, i)| *i);
        let director_tap = first.map_or_else(Default::default, |i| {
            // Switch side: what the director sent is the switch port's rx, and so on.
            let p = &self.sim.node(i).ports[0];
            crate::lab::LinkStats {
                rx_bytes: p.tx_bytes,
                rx_packets: p.tx_packets,
                rx_dropped: 0,
                tx_bytes: p.rx_bytes,
                tx_packets: p.rx_packets,
                tx_dropped: p.rx_dropped,
            }
        });
        Ok(Finished {
            clients,
            router_lan: match &self.sim.node(self.lab.router).host {
                Host::Router(r) => r.links[0],
                _ => Default::default(),
            },
            director_tap,
            wires: (self.lab.hosts().into_iter())
                .filter_map(|i| self.sim.node(i).wire.as_ref())
                .map(|w| (w.name.clone(), w.stats()))
                .collect(),
            logs: std::mem::take(&mut self.logs),
            log_epoch_ms: self.start.total_millis().max(0) as u64,
            host_probe_failures: self.host_probe_failures,
        })
    }
}
