//! Running one scenario in a fresh lab: build it, start the director and the real servers,
//! start the loads together, play the timeline while sampling the director, collect what
//! everyone measured, and tear it all down (on every way out).

use super::director_config::director_config;
use super::director_events::DirectorLog;
use super::engine::{Engine, Finished};
use super::keepalived::{self, KeepalivedFiles};
use super::procs::Procs;
use super::progress::Progress;
use crate::config::Protocol;
use crate::dataplane::counters::Traffic;
use crate::dataplane::stats::Stats;
use crate::director::control;
use crate::lab::{Interrupt, KnatProtocol, KnatService, Lab, LinkStats, RealServerHost, Topology};
use crate::metrics::ClientReport;
use crate::node::event::{DirectorEvent, ServerHealth, SyncReport, VrrpReport};
use crate::scenario::{Action, EventSpec, LoadMode, Mode, Scenario};
use crate::unix_ms;
use anyhow::{Context, bail};
use std::fs::File;
use std::net::SocketAddrV4;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod first_checks;
mod links;

/// How long a real server's command must keep running before the load starts.
const SERVER_GRACE: Duration = Duration::from_millis(300);

/// What a run brings back from the lab.
#[derive(Default)]
pub struct Collected {
    /// Events as they happened: time from the load start, and the event.
    pub events: Vec<(u64, EventSpec)>,
    /// Director forwarding counters, sampled: (ms from the load start, cumulative traffic).
    pub director_samples: Vec<(u64, Traffic)>,
    /// Status-port probes (TCP and UDP, from the clients' namespace) of the directors' own host
    /// stacks before the load that got no status line.
    pub host_probe_failures: u64,
    /// Each director's state over time: (ms from the load start, director, active, table size).
    pub director_tables: Vec<(u64, String, bool, usize)>,
    /// The seed the directors' random choices came from.
    pub seed: u64,
    /// Each director's last connection-sync counters (from its event log), by name.
    pub sync: Vec<(String, SyncReport)>,
    /// The first director's counters at the end of the load.
    pub director_final: Stats,
    /// What all directors forwarded (last known counters of each).
    pub director_forwarded: Traffic,
    /// Which directors were active at each sample: (ms from the load start, their names).
    pub masters: Vec<(u64, Vec<String>)>,
    /// Failover transitions the directors logged: (director, ms from the load start, event).
    pub transitions: Vec<(String, u64, DirectorEvent)>,
    /// One report per load, in scenario order.
    pub clients: Vec<ClientReport>,
    /// Health-check state changes the directors logged, in time order: (ms from the load
    /// start, director, server, up).
    pub health: Vec<HealthChange>,
    /// Each director's last health-check counters, one per checked server, by name.
    pub health_counters: Vec<(String, Vec<ServerHealth>)>,
    /// Router's LAN interface counters over the load.
    pub router_lan: LinkStats,
    /// Each director's last VRRP counters, by name.
    pub vrrp: Vec<(String, VrrpReport)>,
    /// The first director's TAP counters over the load (switch side).
    pub director_tap: LinkStats,
    /// Each director process's resident memory, sampled once a second: (ms from the load
    /// start, director, PID, RSS in KiB).
    pub memory: Vec<MemorySample>,
    /// Each `[[link]]`'s wire: its last stats, by link name.
    pub wires: Vec<(String, crate::impairment::WireStats)>,
}

/// One director process's resident set size at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemorySample {
    pub t_ms: u64,
    pub director: String,
    pub pid: u32,
    pub rss_kib: u64,
}

/// VmRSS of a process, in KiB, from /proc.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A real server's health changed, as a director saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthChange {
    /// Milliseconds from the load start (0 for changes before it).
    pub at: u64,
    pub director: String,
    pub server: String,
    pub up: bool,
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<File> {
    let path = dir.join(name);
    File::create(&path).with_context(|| format!("creating {}", path.display()))
}

/// The lab a scenario needs.
pub fn topology(scenario: &Scenario) -> Topology {
    let layout = scenario.lab.layout();
    Topology {
        real_servers: scenario
            .real_servers
            .iter()
            .enumerate()
            .map(|(i, rs)| RealServerHost {
                name: rs.name.clone(),
                address: scenario.server_address(i),
            })
            .collect(),
        directors: scenario.tapvs_directors(),
        vips: vec![scenario.service.vip],
        arp_suppression: scenario.lab.arp_suppression,
        layout,
        nat_gateway: super::director_config::nat_gateway(scenario),
        // keepalived standing in for a director: a plain LAN host at that director's address.
        peers: scenario
            .directors()
            .iter()
            .enumerate()
            .filter(|(_, d)| scenario.is_keepalived(d))
            .map(|(i, d)| RealServerHost {
                name: d.clone(),
                address: std::net::Ipv4Addr::new(198, 18, 0, 2 + i as u8),
            })
            // Each director's Heartbeat (`manager = "heartbeat"`): a kernel host on the LAN.
            .chain(
                super::heartbeat::hosts(scenario)
                    .into_iter()
                    .map(|(name, address)| RealServerHost { name, address }),
            )
            // The foreign host of `spoof_vrrp` events.
            .chain(scenario.spoofer().map(|(name, address)| RealServerHost {
                name: name.into(),
                address,
            }))
            .collect(),
        // ldirectord checks real servers behind two-armed NAT directors from the inside.
        inside_legs: super::heartbeat::hosts(scenario)
            .into_iter()
            .filter(|_| layout == crate::lab::Layout::NatTwoArmed)
            .filter(|_| scenario.checker() == crate::scenario::Checker::Ldirectord)
            .map(|(name, lan)| RealServerHost {
                name,
                address: super::heartbeat::inside_leg(lan),
            })
            .collect(),
        wired: scenario
            .links
            .iter()
            .map(|l| scenario.link_port(&l.name))
            .collect(),
    }
}

/// What the kernel NAT box forwards in `Mode::Kernel` (nothing otherwise): the service, round
/// robin over the real servers, with their ports.
pub fn knat_services(scenario: &Scenario) -> Vec<KnatService> {
    if scenario.lab.mode != Mode::Kernel {
        return Vec::new();
    }
    let s = &scenario.service;
    let protocol = match s.protocol {
        Protocol::Tcp => KnatProtocol::Tcp,
        Protocol::Udp => KnatProtocol::Udp,
    };
    let targets = (0..scenario.real_servers.len())
        .map(|i| SocketAddrV4::new(scenario.server_address(i), scenario.server_port(i)));
    vec![KnatService::new(protocol, s.vip, s.port, targets)]
}

/// Runs `scenario` in a new lab; process logs are copied to `out_dir`.
pub fn execute(
    scenario: &Scenario,
    interrupt: &Interrupt,
    out_dir: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Collected> {
    let topology = topology(scenario);
    let mut lab =
        Lab::up_kernel_nat(&topology, &knat_services(scenario)).context("building the lab")?;
    // Should this process die with the lab up (kill -9), the guardian removes it.
    let exe = std::env::current_exe().context("finding the tapvs executable")?;
    lab.guard(&exe).context("starting the lab's guardian")?;
    eprintln!("run: lab {} is up", lab.prefix());
    // Declared after `lab`, so dropped (processes ended) before the lab is removed.
    let mut procs = Procs::default();
    let result = drive(scenario, interrupt, &lab, &mut procs, out_dir, progress);
    procs.stop_all();
    copy_logs(&lab.state_dir(), out_dir);
    lab.down().context("removing the lab")?;
    result
}

fn copy_logs(state: &Path, out_dir: &Path) {
    let logs = out_dir.join("logs");
    let _ = std::fs::create_dir_all(&logs);
    if let Ok(entries) = std::fs::read_dir(state) {
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let kept = [".log", ".toml", ".json", ".events"];
            if kept.iter().any(|ext| name.ends_with(ext)) {
                let _ = std::fs::copy(e.path(), logs.join(&*name));
            }
        }
    }
}

struct Ctx<'a> {
    scenario: &'a Scenario,
    lab: &'a Lab,
    exe: PathBuf,
    state: PathBuf,
    /// Safety net passed to every process: it exits by itself after this long.
    max_seconds: u64,
    /// The run's seed: each director's comes from it.
    seed: u64,
    /// Where the directors write their captures (`[lab] pcap`): the run's `pcap/`.
    pcap: Option<PathBuf>,
}

impl Ctx<'_> {
    fn spawn(
        &self,
        procs: &mut Procs,
        host: &str,
        name: &str,
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<()> {
        self.spawn_as(procs, host, name, name, program, args)
    }

    /// [`Ctx::spawn`] with logs named `log` instead of `name`.
    fn spawn_as(
        &self,
        procs: &mut Procs,
        host: &str,
        name: &str,
        log: &str,
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<()> {
        let child = self.start(host, name, log, program, args)?;
        procs.add(name, child);
        Ok(())
    }

    /// Starts `program` in `host`'s namespace in a process group of its own, recorded as
    /// `name`, its output in `<log>.out.log` and `<log>.log`.
    fn start(
        &self,
        host: &str,
        name: &str,
        log: &str,
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<std::process::Child> {
        let mut cmd: Command = self.lab.command(host, program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log_file(&self.state, &format!("{log}.out.log"))?)
            .stderr(log_file(&self.state, &format!("{log}.log"))?)
            .process_group(0);
        self.lab
            .spawn(name, &mut cmd)
            .with_context(|| format!("starting {name} in {host}"))
    }

    fn spawn_server(&self, procs: &mut Procs, i: usize) -> anyhow::Result<()> {
        let rs = &self.scenario.real_servers[i];
        let ready = self.state.join(format!("{}.ready", rs.name));
        let _ = std::fs::remove_file(&ready);
        if let Some((program, args)) = rs.command.split_first() {
            return self.spawn(procs, &rs.name, &rs.name, Path::new(program), args);
        }
        let args = [
            "server".to_string(),
            "--name".into(),
            rs.name.clone(),
            match self.scenario.service.protocol {
                Protocol::Tcp => "--listen".into(),
                Protocol::Udp => "--udp-listen".into(),
            },
            self.listen_list(i),
            "--ready-file".into(),
            ready.display().to_string(),
            "--max-seconds".into(),
            self.max_seconds.to_string(),
        ];
        self.spawn(procs, &rs.name, &rs.name, &self.exe, &args)?;
        wait_for("real server", Duration::from_secs(5), || {
            ready.exists() || procs.exited(&rs.name).is_some()
        })?;
        self.check_server_running(procs, i)
    }

    /// Fails the run, naming the server, its command and what it said on stderr, if real server
    /// `i` has exited already (a command that cannot start, or exits at once).
    fn check_server_running(&self, procs: &mut Procs, i: usize) -> anyhow::Result<()> {
        let rs = &self.scenario.real_servers[i];
        let Some(status) = procs.exited(&rs.name) else {
            return Ok(());
        };
        let command = if rs.command.is_empty() {
            "tapvs server".to_owned()
        } else {
            rs.command.join(" ")
        };
        let log = std::fs::read_to_string(self.state.join(format!("{}.log", rs.name)));
        let said = log.unwrap_or_default();
        let said = said.lines().rev().find(|l| !l.trim().is_empty());
        bail!(
            "real server `{}` ({}) exited at once ({status}): {} (see logs/{}.log)",
            rs.name,
            crate::scenario::echo::shown(&command),
            said.map_or("nothing on stderr".into(), crate::scenario::echo::shown),
            rs.name
        )
    }

    /// Where a built-in real server binds. A UDP server under direct routing binds the VIP:
    /// an unbound UDP socket would answer from its own address, not the VIP the client asked
    /// (the classic LVS-DR caveat; DNS servers bind each address for the same reason).
    fn listen_address(&self) -> std::net::Ipv4Addr {
        let s = &self.scenario.service;
        if s.protocol == Protocol::Udp && self.scenario.lab.mode == Mode::Dr {
            s.vip
        } else {
            std::net::Ipv4Addr::UNSPECIFIED
        }
    }

    /// The `--listen`/`--udp-listen` list of real server `i`: [`Self::listen_address`], and
    /// its own address too when that is the VIP, for the directors' health checks.
    fn listen_list(&self, i: usize) -> String {
        let (addr, port) = (self.listen_address(), self.scenario.server_port(i));
        if addr.is_unspecified() {
            format!("{addr}:{port}")
        } else {
            format!("{addr}:{port},{}:{port}", self.scenario.server_address(i))
        }
    }

    /// Writes director `name`'s configuration (`d1` is number 1) and starts it in the switch
    /// namespace, where its TAPs are. A restart reuses the configuration and appends to its
    /// state log.
    fn spawn_director(&self, procs: &mut Procs, name: &str) -> anyhow::Result<()> {
        let number: u8 = name
            .strip_prefix('d')
            .and_then(|n| n.parse().ok())
            .context("director names are d1, d2")?;
        if self.scenario.is_keepalived(name) {
            return self.spawn_keepalived(procs, name, number);
        }
        let config_path = self.state.join(format!("{name}.toml"));
        let seed = director_seed(self.seed, number);
        let config = director_config(self.scenario, number, seed);
        std::fs::write(&config_path, toml::to_string(&config)?)
            .context("writing the director config")?;
        let mut args = vec![
            "director".to_string(),
            "--config".into(),
            config_path.display().to_string(),
            "--max-seconds".into(),
            self.max_seconds.to_string(),
            "--control".into(),
            self.control(name).display().to_string(),
            "--events".into(),
            self.events(name).display().to_string(),
            "--name".into(),
            name.to_string(),
        ];
        let log = self.director_log(name);
        if let Some(dir) = &self.pcap {
            // A restarted director's capture goes on in new files, as its log does.
            args.extend([
                "--pcap".into(),
                dir.display().to_string(),
                "--pcap-name".into(),
                log.clone(),
                "--pcap-limit-mb".into(),
                self.scenario.lab.pcap_limit().to_string(),
            ]);
        }
        self.spawn_as(procs, "sw", name, &log, &self.exe, &args)
    }

    /// Starts director `name`'s Heartbeat (`manager = "heartbeat"`; nothing otherwise) in its
    /// host's namespace, once the director answers on its control socket.
    fn spawn_heartbeat(&self, procs: &mut Procs, name: &str) -> anyhow::Result<()> {
        let Some(hb) = self
            .scenario
            .failover
            .as_ref()
            .and_then(|f| f.heartbeat_manager())
        else {
            return Ok(());
        };
        let (n, host) = self.host_beside(name)?;
        super::heartbeat::find()?;
        let files = super::heartbeat::HeartbeatFiles::new(&self.state, n);
        // ldirectord as the group's second resource (the seed's set-up).
        let cf = self.ldirectord_cf()?;
        let name_in_ha_d = hb.ldirectord.as_deref().unwrap_or("ldirectord.cf");
        let ldirectord = cf.as_deref().map(|text| (name_in_ha_d, text));
        let socket = self.control(name);
        let (program, args) = files.prepare(self.scenario, hb, (&self.exe, &socket), ldirectord)?;
        self.spawn_daemon(procs, (&host, &host), &program, &args)
    }

    /// Director `name`'s number and the kernel host beside it (`dNhb`), once the director
    /// answers on its control socket (what runs there talks to it).
    fn host_beside(&self, name: &str) -> anyhow::Result<(u8, String)> {
        let n: u8 = name
            .strip_prefix('d')
            .and_then(|n| n.parse().ok())
            .context("director names are d1, d2")?;
        wait_for("director", Duration::from_secs(5), || {
            self.director_stats(name).is_ok()
        })?;
        Ok((n, super::heartbeat::host(n).0))
    }

    /// Starts `program` with `args` in `host`'s namespace as process group `name` (its
    /// output in `<name>.out.log` and `<name>.log`): a daemon beside a director.
    fn spawn_daemon(
        &self,
        procs: &mut Procs,
        (host, name): (&str, &str),
        program: &Path,
        args: &[String],
    ) -> anyhow::Result<()> {
        let child = self.start(host, name, name, program, args)?;
        procs.add_group(name, child);
        Ok(())
    }

    /// Starts the real ldirectord for director `name` (`[health] checker = "ldirectord"`;
    /// nothing otherwise) in its host's namespace, with the scenario's ldirectord.cf (the one it
    /// names, or one written from its `[service]` and `[health]`).
    fn spawn_ldirectord(&self, procs: &mut Procs, name: &str) -> anyhow::Result<()> {
        let managed =
            (self.scenario.failover.as_ref()).is_some_and(|f| f.heartbeat_manager().is_some());
        // Under Heartbeat, ldirectord is its resource (see `spawn_heartbeat`).
        let Some(cf) = self.ldirectord_cf()?.filter(|_| !managed) else {
            return Ok(());
        };
        // Its first `ipvsadm -L -n` must reach the director.
        let (_, host) = self.host_beside(name)?;
        let files = super::ldirectord::LdirectordFiles::new(&self.state, name);
        let (program, args) = files.prepare(&cf, &self.exe, &self.control(name))?;
        self.spawn_daemon(procs, (&host, &ldirectord_of(name)), &program, &args)
    }

    /// The ldirectord.cf ldirectord reads (`[health] checker = "ldirectord"`; none otherwise):
    /// the one the scenario names, or one written from its `[service]` and `[health]`.
    fn ldirectord_cf(&self) -> anyhow::Result<Option<String>> {
        if self.scenario.checker() != crate::scenario::Checker::Ldirectord {
            return Ok(None);
        }
        super::ldirectord::find()?;
        let text = match &self.scenario.ldirectord_cf_text {
            Some(text) => text.clone(),
            None => crate::ldirectord::render::render(self.scenario)
                .map_err(|(field, reason)| anyhow::anyhow!("{field}: {reason}"))?,
        };
        Ok(Some(text))
    }

    /// Waits until ldirectord has given every real server of director `name` its weight (its
    /// first checks passed), within its check timing; a server still out then is reported,
    /// and the run goes on (a scenario may start with a dead server).
    fn wait_for_ldirectord(&self, name: &str) {
        let Some(h) = self.scenario.health.as_ref() else {
            return;
        };
        if self.scenario.checker() != crate::scenario::Checker::Ldirectord {
            return;
        }
        let expected: Vec<&str> = (self.scenario.real_servers.iter())
            .filter(|rs| !rs.sorry && rs.weight > 0)
            .map(|rs| rs.name.as_str())
            .collect();
        // Under Heartbeat, only the master runs ldirectord.
        let managed =
            (self.scenario.failover.as_ref()).is_some_and(|f| f.heartbeat_manager().is_some());
        if managed && !self.director_stats(name).is_ok_and(|s| s.active) {
            return;
        }
        let all_in = || {
            self.director_stats(name).is_ok_and(|s| {
                let servers = s.services.iter().flat_map(|svc| &svc.servers);
                let weighted: Vec<&str> = servers
                    .filter(|rs| rs.weight > 0)
                    .map(|rs| rs.name.as_str())
                    .collect();
                expected.iter().all(|e| weighted.contains(e))
            })
        };
        // ldirectord (perl) starts in a second or two, then checks one server after another.
        let limit =
            (h.interval + h.timeout) * (expected.len() as u32 + 1) + Duration::from_secs(10);
        if wait_for("ldirectord's first checks", limit, all_in).is_err() {
            eprintln!("run: {name}: ldirectord has not given every real server its weight yet");
        }
    }

    /// Starts keepalived (VRRP only) in the peer's namespace and waits for its VRRP process.
    fn spawn_keepalived(&self, procs: &mut Procs, name: &str, number: u8) -> anyhow::Result<()> {
        let files = KeepalivedFiles::new(&self.state, name);
        let args = keepalived::prepare(self.scenario, number, &files, &self.events(name))?;
        let log = self.director_log(name);
        self.spawn_as(procs, name, name, &log, &keepalived::find()?, &args)?;
        wait_for("keepalived's VRRP process", Duration::from_secs(5), || {
            files.vrrp_child().is_some()
        })
    }

    /// The log name of a director being started: a restarted one's log goes on in a second
    /// file (the first one is kept).
    fn director_log(&self, name: &str) -> String {
        if self.state.join(format!("{name}.log")).exists() {
            format!("{name}-restarted")
        } else {
            name.to_owned()
        }
    }

    /// Starts `tapvs spoof vrrp` in the foreign host's namespace for a `spoof_vrrp` event: to
    /// the group and to each director's own address (what a unicast director listens on). It
    /// ends by itself after `event.duration`; its log is `spoof-<ms>.log`.
    fn spawn_spoofer(
        &self,
        procs: &mut Procs,
        event: &EventSpec,
        directors: &[String],
    ) -> anyhow::Result<()> {
        let (host, src) = crate::scenario::SPOOFER;
        let f = self
            .scenario
            .failover
            .as_ref()
            .context("spoof_vrrp needs [failover]")?;
        let to: Vec<String> = std::iter::once(crate::wire::vrrp::GROUP.to_string())
            .chain(directors.iter().filter_map(|d| {
                let n: u8 = d.strip_prefix('d')?.parse().ok()?;
                Some(super::director_config::director_address(n).to_string())
            }))
            .collect();
        let args = [
            "spoof".to_string(),
            "vrrp".into(),
            "--vrid".into(),
            f.vrid.to_string(),
            "--priority".into(),
            event.priority.unwrap_or(255).to_string(),
            "--vip".into(),
            self.scenario.service.vip.to_string(),
            "--src".into(),
            src.to_string(),
            "--to".into(),
            to.join(","),
            "--interval".into(),
            format!("{}ms", event.interval.as_millis()),
            "--count".into(),
            event.spoof_count().to_string(),
        ];
        let name = format!("spoof-{}", event.at.as_millis());
        self.spawn(procs, host, &name, &self.exe, &args)
    }

    fn control(&self, director: &str) -> PathBuf {
        self.state.join(format!("{director}.sock"))
    }

    /// A director's event log (JSON lines of `EventLine`).
    fn events(&self, director: &str) -> PathBuf {
        self.state.join(format!("{director}.events"))
    }

    /// `tapvs ipvsadm -Ln` of each director, as `logs/<director>-ipvsadm-<when>.log` (what an
    /// IPVS user would look at; the lab test compares dr-weighted's with a golden file).
    fn ipvsadm_listing(&self, directors: &[String], when: &str) {
        for name in directors {
            let mut socket = crate::ipvsadm::Socket(self.control(name));
            let names = crate::ipvsadm::names::PortNames::default();
            let args = ["-Ln".to_string()];
            let out = crate::ipvsadm::run(&args, &mut socket, &names, &mut std::io::empty());
            let path = self.state.join(format!("{name}-ipvsadm-{when}.log"));
            let _ = std::fs::write(path, out.stdout + &out.stderr);
        }
    }

    fn director_stats(&self, director: &str) -> anyhow::Result<Stats> {
        let line = control::request(&self.control(director), "stats")
            .with_context(|| format!("asking director {director} for stats"))?;
        serde_json::from_str(&line).with_context(|| format!("director stats: {line}"))
    }
}

/// Asks each tapvs director's status port, over TCP and over UDP, from the clients' namespace
/// (through the router, as any client would): checks the directors' own host stacks (ARP for
/// the router, TCP, UDP) apart from the VIP. The answers go to `probe.log`; returns how many
/// probes got no status line.
fn probe_directors(ctx: &Ctx, directors: &[String]) -> u64 {
    let mut failures = 0;
    let mut log = String::new();
    for name in directors {
        let Some(n) = name.strip_prefix('d').and_then(|n| n.parse::<u8>().ok()) else {
            continue;
        };
        let target = format!("198.18.0.{}:{}", 1 + n, crate::config::DEFAULT_STATUS_PORT);
        for udp in [false, true] {
            let mut cmd = ctx.lab.command("cl", &ctx.exe);
            cmd.args(["probe", "--target", &target, "--timeout-ms", "2000"]);
            if udp {
                cmd.arg("--udp");
            }
            let out = cmd.output();
            let proto = if udp { "udp" } else { "tcp" };
            match out {
                Ok(o) if o.status.success() => {
                    log.push_str(&format!(
                        "{name} {proto}: {}",
                        String::from_utf8_lossy(&o.stdout)
                    ));
                }
                Ok(o) => {
                    failures += 1;
                    log.push_str(&format!(
                        "{name} {proto}: FAILED {}",
                        String::from_utf8_lossy(&o.stderr)
                    ));
                }
                Err(e) => {
                    failures += 1;
                    log.push_str(&format!("{name} {proto}: FAILED {e}\n"));
                }
            }
        }
    }
    let _ = std::fs::write(ctx.state.join("probe.log"), log);
    failures
}

fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) -> anyhow::Result<()> {
    let start = Instant::now();
    while !ready() {
        if start.elapsed() > limit {
            bail!("{what} not ready after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// Director `number`'s seed, from the run's: 63 bits, as a TOML integer holds at most
/// `i64::MAX` (its configuration file carries it).
pub(super) fn director_seed(run_seed: u64, number: u8) -> u64 {
    crate::node::sub_seed(run_seed, u64::from(number)) >> 1
}

/// A seed for a run whose scenario gives none.
pub(super) fn drawn_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(unix_ms())
}

/// Builds the netns engine on a lab that is up: every process started, the directors converged,
/// the loads about to begin.
fn drive(
    scenario: &Scenario,
    interrupt: &Interrupt,
    lab: &Lab,
    procs: &mut Procs,
    out_dir: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Collected> {
    let pcap = scenario
        .lab
        .pcap
        .then(|| std::path::absolute(out_dir.join("pcap")))
        .transpose()
        .context("finding the results folder")?;
    let ctx = Ctx {
        scenario,
        lab,
        exe: std::env::current_exe().context("finding the tapvs executable")?,
        state: lab.state_dir(),
        max_seconds: scenario.load_end().as_secs() + 120,
        seed: scenario.lab.seed.unwrap_or_else(drawn_seed),
        pcap,
    };
    eprintln!("run: seed {}", ctx.seed);
    let directors = if scenario.lab.mode.has_director() {
        scenario.tapvs_directors()
    } else {
        Vec::new()
    };
    let seed = ctx.seed;
    let mut engine = NetnsEngine::start(ctx, procs, interrupt, directors.clone())?;
    let walked = super::walk::walk(scenario, &mut engine, interrupt, &directors, progress)?;
    let finished = engine.finish()?;
    Ok(super::engine::collect(scenario, seed, walked, finished))
}

/// The netns engine: a lab of namespaces, TAPs and processes, in real time.
struct NetnsEngine<'a> {
    ctx: Ctx<'a>,
    procs: &'a mut Procs,
    directors: Vec<String>,
    /// The load start, in Unix milliseconds.
    start_unix_ms: u64,
    router_before: LinkStats,
    tap_before: LinkStats,
    host_probe_failures: u64,
}

impl<'a> NetnsEngine<'a> {
    /// Starts the wires, the directors, the real servers and the daemons beside the directors,
    /// waits for a master, checks the servers and the directors' host stacks, and starts the
    /// loads 300 ms from now.
    fn start(
        ctx: Ctx<'a>,
        procs: &'a mut Procs,
        interrupt: &Interrupt,
        directors: Vec<String>,
    ) -> anyhow::Result<NetnsEngine<'a>> {
        let scenario = ctx.scenario;
        // The impaired links first: they carry nothing until their wire runs.
        ctx.spawn_wires(procs)?;
        for name in &directors {
            ctx.spawn_director(procs, name)?;
        }
        // keepalived peers (not sampled: they have no control socket).
        for name in scenario
            .directors()
            .iter()
            .filter(|d| scenario.is_keepalived(d))
        {
            ctx.spawn_director(procs, name)?;
        }
        for i in 0..scenario.real_servers.len() {
            ctx.spawn_server(procs, i)?;
        }
        let servers_started = Instant::now();
        for name in &directors {
            wait_for("director", Duration::from_secs(5), || {
                ctx.director_stats(name).is_ok()
            })?;
            ctx.spawn_heartbeat(procs, name)?;
            ctx.spawn_ldirectord(procs, name)?;
        }
        // VRRP routers start as backups and elect a master after Master_Down_Interval (3.4 s
        // at 1 s adverts): the load starts on a converged pair, not during the election.
        if let Some(f) = scenario.failover.as_ref().filter(|_| directors.len() > 1) {
            let limit = match &f.heartbeat {
                // Heartbeat acquires its resources ~10 s after both nodes are up.
                Some(hb) => hb.initdead() + Duration::from_secs(20),
                None => f.advert_interval * 4 + Duration::from_secs(2),
            };
            let what = match &f.heartbeat {
                Some(_) => "a Heartbeat master",
                None => "a VRRP master",
            };
            wait_for(what, limit, || {
                directors
                    .iter()
                    .any(|d| ctx.director_stats(d).is_ok_and(|s| s.active))
            })?;
        }
        for name in &directors {
            ctx.wait_for_ldirectord(name);
        }
        // The load measures a settled balancer, not the directors' first check round.
        ctx.wait_for_first_checks(&directors);
        std::thread::sleep(scenario.lab.settle);
        interrupt.check()?;
        // A server command that cannot start (or exits at once) is gone by now.
        std::thread::sleep(SERVER_GRACE.saturating_sub(servers_started.elapsed()));
        for i in 0..scenario.real_servers.len() {
            ctx.check_server_running(procs, i)?;
        }
        let host_probe_failures = probe_directors(&ctx, &directors);
        ctx.ipvsadm_listing(&directors, "start");
        let lab = ctx.lab;
        let router_before = lab.link_stats("rt", "eth0")?;
        let tap_before = super::flood::tap_stats(lab, scenario);
        if scenario.loads.iter().any(|l| l.mode == LoadMode::SynFlood) {
            super::flood::drop_replies_to_flood(lab)?;
        }
        let start_unix_ms = unix_ms() + 300;
        for (i, load) in scenario.loads.iter().enumerate() {
            let out = ctx.state.join(format!("load-{}.json", load.name));
            let args = super::loads::client_args(scenario, i, load, &out, start_unix_ms);
            let name = format!("load-{}", load.name);
            ctx.spawn(procs, "cl", &name, &ctx.exe, &args.command_line())?;
        }
        Ok(NetnsEngine {
            ctx,
            procs,
            directors,
            start_unix_ms,
            router_before,
            tap_before,
            host_probe_failures,
        })
    }
}

impl Engine for NetnsEngine<'_> {
    fn now_ms(&mut self) -> u64 {
        unix_ms().saturating_sub(self.start_unix_ms)
    }

    fn advance(&mut self, until_ms: u64) -> anyhow::Result<()> {
        // Until the load starts, then in small steps (a frozen director must not stall it).
        let now = unix_ms();
        let until = (self.start_unix_ms + until_ms)
            .min(now + 5)
            .max(self.start_unix_ms);
        std::thread::sleep(Duration::from_millis(until.saturating_sub(now)));
        Ok(())
    }

    fn director_stats(&mut self, name: &str) -> Option<Stats> {
        self.ctx.director_stats(name).ok()
    }

    fn memory(&mut self, t_ms: u64) -> Vec<MemorySample> {
        let procs = &self.procs;
        self.directors
            .iter()
            .filter_map(|name| {
                let pid = procs.pid(name)?;
                Some(MemorySample {
                    t_ms,
                    director: name.clone(),
                    pid,
                    rss_kib: rss_kib(pid)?,
                })
            })
            .collect()
    }

    fn apply(&mut self, event: &EventSpec) -> anyhow::Result<()> {
        apply(&self.ctx, self.procs, event, &self.directors)
    }

    fn check_directors(&mut self, gone: &[String]) -> anyhow::Result<()> {
        let scenario = self.ctx.scenario;
        for name in scenario
            .directors()
            .iter()
            .filter(|d| scenario.lab.mode.has_director() && !gone.contains(d))
        {
            if let Some(status) = self.procs.exited(name) {
                bail!("director {name} exited during the run ({status}); see logs/{name}.log");
            }
        }
        Ok(())
    }

    fn loads_done(&mut self) -> bool {
        self.ctx.scenario.loads.iter().all(|l| {
            let name = format!("load-{}", l.name);
            self.procs.pid(&name).is_none() || self.procs.exited(&name).is_some()
        })
    }

    fn tally(&mut self) -> Option<(u64, u64)> {
        // The load generators are processes; they report once, at the end.
        None
    }

    fn finish(&mut self) -> anyhow::Result<Finished> {
        let (ctx, scenario) = (&self.ctx, self.ctx.scenario);
        ctx.ipvsadm_listing(&self.directors, "end");
        let router_after = ctx.lab.link_stats("rt", "eth0")?;
        let tap_after = super::flood::tap_stats(ctx.lab, scenario);
        let mut clients = Vec::new();
        for load in &scenario.loads {
            let path = ctx.state.join(format!("load-{}.json", load.name));
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!(
                    "load `{}` wrote no report (see logs/load-{}.log)",
                    load.name, load.name
                )
            })?;
            clients.push(
                serde_json::from_str(&text)
                    .with_context(|| format!("reading {}", path.display()))?,
            );
        }
        for name in &self.directors {
            self.procs.stop(name, Duration::from_secs(2));
        }
        let wires = ctx.stop_wires(self.procs);
        // Every director's event log, now that they have stopped (keepalived's too: its
        // notify script writes the same lines).
        let logs = (scenario.directors().iter())
            .filter(|_| scenario.lab.mode.has_director())
            .map(|name| (name.clone(), DirectorLog::read(&ctx.events(name))))
            .collect();
        Ok(Finished {
            clients,
            router_lan: router_after.since(&self.router_before),
            director_tap: tap_after.since(&self.tap_before),
            wires,
            logs,
            log_epoch_ms: self.start_unix_ms,
            host_probe_failures: self.host_probe_failures,
        })
    }
}

/// A director event for keepalived: the daemon is a parent (the PID this run spawned) and its
/// VRRP child (which speaks VRRP; its PID from `--vrrp_pid`). A crash kills both without a
/// goodbye: the parent is stopped first so it cannot respawn the child. A killed keepalived
/// leaves the VIP on `eth0`, where the peer's kernel would go on answering ARP for it; a
/// crashed machine answers nothing, so the kill also takes the peer's port down (a restart
/// plugs it back and removes the stale VIP first).
fn apply_keepalived(ctx: &Ctx, procs: &mut Procs, event: &EventSpec) -> anyhow::Result<()> {
    let name = event.director.as_str();
    let files = KeepalivedFiles::new(&ctx.state, name);
    let parent = procs.pid(name).map(|p| p as libc::pid_t);
    let child = files.vrrp_child();
    let signal = |pid: Option<i32>, sig: i32| {
        if let Some(pid) = pid {
            // SAFETY: kill(2) on keepalived's parent (spawned by this run, not reaped) or on
            // its VRRP child, which the parent does not reap while it is stopped or alive.
            unsafe {
                libc::kill(pid, sig);
            }
        }
    };
    let running = || parent.with_context(|| format!("keepalived {name} is not running"));
    match event.action {
        Action::KillDirector => {
            let parent = running()?;
            signal(Some(parent), libc::SIGSTOP);
            signal(child, libc::SIGKILL);
            procs.kill(name);
            Ok(ctx.lab.set_director_link(name, false)?)
        }
        Action::FreezeDirector => {
            running()?;
            signal(parent, libc::SIGSTOP);
            signal(child, libc::SIGSTOP);
            Ok(())
        }
        Action::ResumeDirector => {
            running()?;
            signal(child, libc::SIGCONT);
            signal(parent, libc::SIGCONT);
            Ok(())
        }
        Action::StopDirector => {
            // keepalived's clean stop: the VRRP child sends priority 0 and exits.
            procs.stop(name, Duration::from_secs(3));
            Ok(())
        }
        Action::RestartDirector => {
            let vip = format!("{}/32", ctx.scenario.service.vip);
            let _ = ctx
                .lab
                .command(name, "ip")
                .args(["addr", "del", &vip, "dev", "eth0"])
                .output();
            ctx.lab.set_director_link(name, true)?;
            ctx.spawn_director(procs, name)
        }
        Action::CutLink | Action::RestoreLink => Ok(ctx
            .lab
            .set_director_link(name, event.action == Action::RestoreLink)?),
        _ => bail!("{} does not apply to keepalived", event.action.name()),
    }
}

fn apply(
    ctx: &Ctx,
    procs: &mut Procs,
    event: &EventSpec,
    directors: &[String],
) -> anyhow::Result<()> {
    // A weight change goes to every director, as an operator would do it on both.
    let weight = |w: u32| -> anyhow::Result<()> {
        for name in directors {
            let reply = control::request(
                &ctx.control(name),
                &format!("weight 0 {} {w}", event.server),
            )?;
            if reply != "ok" {
                bail!("director {name} refused a weight change: {reply}");
            }
        }
        Ok(())
    };
    if ctx.scenario.is_keepalived(&event.director) {
        return apply_keepalived(ctx, procs, event);
    }
    let signal = |sig: i32| -> anyhow::Result<()> {
        let pid = procs
            .pid(&event.director)
            .with_context(|| format!("director {} is not running", event.director))?;
        // SAFETY: kill(2) on a PID this run spawned and has not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, sig);
        }
        Ok(())
    };
    match event.action {
        Action::Drain => weight(0),
        Action::SetWeight => weight(event.weight.unwrap_or(0)),
        Action::KillServer => {
            if !procs.kill(&event.server) {
                bail!("real server `{}` is not running", event.server);
            }
            Ok(())
        }
        Action::HangServer | Action::UnhangServer => {
            let pid = procs
                .pid(&event.server)
                .with_context(|| format!("real server `{}` is not running", event.server))?;
            let sig = if event.action == Action::HangServer {
                libc::SIGUSR1
            } else {
                libc::SIGUSR2
            };
            // SAFETY: kill(2) on a PID this run spawned and has not reaped.
            unsafe {
                libc::kill(pid as libc::pid_t, sig);
            }
            Ok(())
        }
        Action::RestoreServer => {
            let i = ctx
                .scenario
                .real_servers
                .iter()
                .position(|r| r.name == event.server)
                .expect("validated");
            ctx.spawn_server(procs, i)
        }
        Action::KillDirector => {
            // With Heartbeat or ldirectord, the machine dies: they die with the director.
            procs.kill(&heartbeat_of(&event.director));
            procs.kill(&ldirectord_of(&event.director));
            if !procs.kill(&event.director) {
                bail!("director `{}` is not running", event.director);
            }
            Ok(())
        }
        Action::FreezeDirector => signal(libc::SIGSTOP),
        Action::ResumeDirector => signal(libc::SIGCONT),
        Action::StopDirector => {
            // Heartbeat first: it gives the VIP up (and the peer takes it) before it exits.
            procs.stop(&heartbeat_of(&event.director), Duration::from_secs(10));
            procs.stop(&event.director, Duration::from_secs(2));
            // ldirectord last: its clean stop (`ipvsadm -D`) must not empty a serving table.
            procs.stop(&ldirectord_of(&event.director), Duration::from_secs(5));
            Ok(())
        }
        Action::RestartDirector => {
            ctx.spawn_director(procs, &event.director)?;
            ctx.spawn_heartbeat(procs, &event.director)?;
            ctx.spawn_ldirectord(procs, &event.director)
        }
        Action::CutLink | Action::RestoreLink => Ok(ctx
            .lab
            .set_director_link(&event.director, event.action == Action::RestoreLink)?),
        Action::PartitionHeartbeat | Action::HealHeartbeat => Ok(ctx
            .lab
            .partition_heartbeat(event.action == Action::PartitionHeartbeat)?),
        Action::SpoofVrrp => ctx.spawn_spoofer(procs, event, directors),
        Action::DegradeLink | Action::RepairLink => ctx.set_link(procs, event),
    }
}

/// The process name of director `name`'s ldirectord (`[health] checker = "ldirectord"`).
fn ldirectord_of(name: &str) -> String {
    format!("{name}ld")
}

/// The process name of director `name`'s Heartbeat (none runs without `manager =
/// "heartbeat"`, and the name then matches nothing).
fn heartbeat_of(name: &str) -> String {
    format!("{name}hb")
}

#[cfg(test)]
mod seed_tests {
    use super::*;

    #[test]
    fn every_director_seed_survives_its_configuration_file() {
        let scenario = Scenario::parse(
            Path::new("s.toml"),
            "[service]\nscheduler = \"rr\"\n[[real_server]]\nname = \"rs1\"\n\
             [[load]]\nname = \"web\"\nmode = \"open\"\nrate = 10\nconnection = \"new\"\nduration = \"1s\"\n",
        )
        .unwrap();
        for run_seed in [0, 1, u64::MAX, 15_022_496_155_205_379_176] {
            for number in [1, 2] {
                let seed = director_seed(run_seed, number);
                let config = director_config(&scenario, number, seed);
                let text = toml::to_string(&config).unwrap();
                let back = crate::config::DirectorConfig::parse(Path::new("d.toml"), &text)
                    .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                assert_eq!(back.seed, Some(seed));
                // Any TOML reader (integers are i64) reads it too.
                let plain: toml::Value = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(plain["seed"].as_integer(), i64::try_from(seed).ok());
            }
        }
    }
}
