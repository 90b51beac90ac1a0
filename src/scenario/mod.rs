//! Scenario files: a lab (mode, service, real servers), loads, a timeline of events and the
//! expectations a run must meet. Parsed and checked completely before anything is built, with
//! errors that name the file, the field and the reason.

pub mod command;
pub use crate::duration;
pub mod bounds;
mod checker;
pub mod echo;
mod fault;
pub mod heartbeat;
pub mod ldirectord_cf;
pub mod link;
pub mod over;
pub mod seeds;
mod validate;

pub use bounds::client_base;
pub use link::{LinkImpair, LinkSpec};

use crate::config::Protocol;
use crate::sched::SchedulerKind;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

/// A whole scenario file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name; results go to `results/<name>/`. Defaults to the file's stem.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Whether the lab tests run this scenario (in CI).
    #[serde(default)]
    pub ci: bool,
    /// Aggregation interval of the timeline.
    #[serde(default = "default_interval", with = "duration_field")]
    pub interval: Duration,
    #[serde(default)]
    pub lab: LabSpec,
    /// Two directors sharing the VIP with VRRP (keepalived's job); one director without it.
    #[serde(default)]
    pub failover: Option<FailoverSpec>,
    pub service: ServiceSpec,
    #[serde(rename = "real_server")]
    pub real_servers: Vec<RealServerSpec>,
    /// Health checks of the real servers by every director (ldirectord's job).
    #[serde(default)]
    pub health: Option<HealthSpec>,
    /// An ldirectord.cf (relative to the scenario) that gives `[service]`, `[health]` and the
    /// real servers' weights instead of this file.
    #[serde(default)]
    pub ldirectord_cf: Option<std::path::PathBuf>,
    /// That file's text, given as it is to the real ldirectord (`[health] checker =
    /// "ldirectord"`).
    #[serde(skip)]
    pub ldirectord_cf_text: Option<String>,
    /// The directors' SYN-flood defence (`[defense]` of their configuration; its defaults when
    /// absent).
    #[serde(default)]
    pub defense: Option<crate::dataplane::defense::DefenseConfig>,
    /// Impaired links (`[[link]]`): a `tapvs wire` each, in the named link.
    #[serde(rename = "link", default)]
    pub links: Vec<LinkSpec>,
    #[serde(rename = "load")]
    pub loads: Vec<LoadSpec>,
    #[serde(rename = "event", default)]
    pub events: Vec<EventSpec>,
    #[serde(rename = "expect", default)]
    pub expectations: Vec<Expectation>,
}

/// The lab's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LabSpec {
    /// Forwarding method: `dr` (direct routing) or `nat` (masquerading).
    pub mode: Mode,
    /// NAT only: 2 = real servers on their own network behind the director's inside arm;
    /// 1 = real servers on the LAN with the director as their gateway.
    pub nat_arms: u8,
    /// `arp_ignore=1`/`arp_announce=2` on the real servers. Turning it off shows the ARP problem.
    pub arp_suppression: bool,
    /// Time between starting the servers and the director and starting the load.
    #[serde(with = "duration_field")]
    pub settle: Duration,
    /// Open the director's TAPs with virtio-net headers and offloads (large segments).
    pub offload: bool,
    /// The directors' connection-table capacity.
    pub max_connections: usize,
    /// Run the scenario once per mode listed here (same load, same everything else) and
    /// write a comparison of them; `mode` is then ignored.
    pub compare_modes: Vec<Mode>,
    /// The seed of the directors' random choices (each director gets its own from it); none:
    /// one is drawn. Either way it is in the run's `run.json`.
    pub seed: Option<u64>,
    /// The engine that runs the scenario unless `tapvs run --engine` says otherwise.
    pub engine: crate::run::EngineKind,
    /// Capture every frame of each tapvs director's ports to the run's
    /// `pcap/<director>-<port>.pcap` (`tapvs director --pcap`).
    pub pcap: bool,
    /// Disk per captured port, in MB (a ring of two files); default [`PCAP_LIMIT_MB`].
    pub pcap_limit_mb: Option<u64>,
}

/// Disk per captured port when `pcap_limit_mb` is not given, in MB.
pub const PCAP_LIMIT_MB: u64 = 64;

impl LabSpec {
    /// The lab layout its mode needs.
    pub fn layout(&self) -> crate::lab::Layout {
        use crate::lab::Layout;
        match (self.mode, self.nat_arms) {
            (Mode::Dr | Mode::Direct, _) => Layout::DirectRouting,
            (Mode::Nat, 1) => Layout::NatOneArmed,
            (Mode::Nat, _) => Layout::NatTwoArmed,
            (Mode::Kernel, _) => Layout::KernelNat,
        }
    }

    /// `pcap_limit_mb` or its default.
    pub fn pcap_limit(&self) -> u64 {
        self.pcap_limit_mb.unwrap_or(PCAP_LIMIT_MB)
    }
}

impl Default for LabSpec {
    fn default() -> Self {
        LabSpec {
            mode: Mode::Dr,
            nat_arms: 2,
            arp_suppression: true,
            settle: Duration::from_millis(500),
            compare_modes: Vec::new(),
            offload: true,
            max_connections: 1 << 20,
            seed: None,
            engine: crate::run::EngineKind::Netns,
            pcap: false,
            pcap_limit_mb: None,
        }
    }
}

/// What balances the traffic: tapvs with an IPVS forwarding method, or a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// tapvs, direct routing.
    Dr,
    /// tapvs, NAT (masquerading).
    Nat,
    /// Reference: the Linux kernel doing the NAT (nftables DNAT in a namespace), no tapvs.
    Kernel,
    /// Reference: the clients talk straight to the (single) real server, no balancer at all.
    Direct,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dr => "dr",
            Mode::Nat => "nat",
            Mode::Kernel => "kernel",
            Mode::Direct => "direct",
        }
    }

    /// Whether a tapvs director runs (the reference modes have none).
    pub fn has_director(self) -> bool {
        matches!(self, Mode::Dr | Mode::Nat)
    }

    /// Whether the real servers sit behind a NAT box on their own network (two-armed).
    pub fn two_armed(self, nat_arms: u8) -> bool {
        match self {
            Mode::Nat => nat_arms == 2,
            Mode::Kernel => true,
            Mode::Dr | Mode::Direct => false,
        }
    }
}

/// Active/passive directors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    /// VRRP advertisement interval (a whole number of centiseconds).
    #[serde(default = "default_advert", with = "duration_field")]
    pub advert_interval: Duration,
    /// Priority of d1, d2 (d1 starts as master when it has the higher one).
    #[serde(default = "default_priorities")]
    pub priorities: [u8; 2],
    #[serde(default = "default_true")]
    pub preempt: bool,
    #[serde(default = "default_vrid")]
    pub vrid: u8,
    /// Run the scenario once per advertisement interval listed here (`advert_interval` is then
    /// ignored) and chart takeover and outage against Master_Down_Interval.
    #[serde(default, with = "duration_list")]
    pub sweep_advert_intervals: Vec<Duration>,
    /// What d2 is: another tapvs director, or the real keepalived (VRRP only) in its own
    /// namespace on the LAN, to show the two interoperate.
    #[serde(default)]
    pub peer: Peer,
    /// Connection-table sync from the master to the backup (IPVS sync v1 on 224.0.0.81:8848,
    /// plus sequence numbers, bulk transfer and refresh).
    #[serde(default)]
    pub sync: bool,
    /// With `sync`: every synced entry is sent again at least this often.
    #[serde(default = "default_sync_refresh", with = "duration_field")]
    pub sync_refresh: Duration,
    /// Each director accepts adverts only from the other one (keepalived's `unicast_peer`);
    /// `false`: from any host on the LAN (RFC 5798 alone).
    #[serde(default = "default_true")]
    pub peer_filter: bool,
    /// Adverts go by unicast to the other director instead of to 224.0.0.18.
    #[serde(default)]
    pub unicast: bool,
    /// Who moves the VIP: `vrrp` (tapvs's own), or `heartbeat` (the real Heartbeat beside each
    /// tapvs director, driving it through its control socket; see `heartbeat.rs`). The keys
    /// below are Heartbeat's and need it.
    #[serde(default)]
    pub manager: heartbeat::Manager,
    /// Heartbeat's keepalive interval (ha.cf's sample: 2s).
    #[serde(default, with = "duration_option")]
    pub keepalive: Option<Duration>,
    /// Silence after which Heartbeat declares the other node dead (ha.cf's sample: 30s).
    #[serde(default, with = "duration_option")]
    pub deadtime: Option<Duration>,
    /// A keepalive this late is warned of (default: halfway from keepalive to deadtime).
    #[serde(default, with = "duration_option")]
    pub warntime: Option<Duration>,
    /// The deadtime at start-up (default: twice the deadtime).
    #[serde(default, with = "duration_option")]
    pub initdead: Option<Duration>,
    /// The preferred node (d1) takes the VIP back when it returns (default: true).
    #[serde(default)]
    pub auto_failback: Option<bool>,
    /// `ucast` (to the other node, the default) or `bcast` on the LAN.
    #[serde(default)]
    pub media: Option<heartbeat::Media>,
    /// Heartbeat's own `ha.cf`, instead of the keys above (relative to this file).
    #[serde(default)]
    pub ha_cf: Option<std::path::PathBuf>,
    /// Heartbeat's own `haresources` (default: `d1 <VIP>`; relative to this file).
    #[serde(default)]
    pub haresources: Option<std::path::PathBuf>,
    /// Run the scenario once per deadtime listed here and chart the takeover against it.
    #[serde(default, with = "duration_list")]
    pub sweep_deadtimes: Vec<Duration>,
    /// Heartbeat's settings, read and checked from the keys or files above.
    #[serde(skip)]
    pub heartbeat: Option<heartbeat::Heartbeat>,
    /// What the two tapvs directors speak themselves: VRRPv3 (keepalived's, the default) or
    /// heartbeat 3's protocol (UDP 694, sha1), with the Heartbeat keys above.
    #[serde(default)]
    pub protocol: FailoverProtocol,
    /// `protocol = "heartbeat"`: the authkeys secret (`1 sha1 <auth_key>`; default `tapvs-lab`).
    #[serde(default)]
    pub auth_key: Option<String>,
}

/// The failover protocol of `[failover]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailoverProtocol {
    #[default]
    Vrrp,
    Heartbeat,
}

fn default_sync_refresh() -> Duration {
    Duration::from_secs(30)
}

/// Director d2's implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Peer {
    #[default]
    Tapvs,
    Keepalived,
}

fn default_advert() -> Duration {
    Duration::from_secs(1)
}
fn default_priorities() -> [u8; 2] {
    [150, 100]
}
fn default_true() -> bool {
    true
}
fn default_vrid() -> u8 {
    51
}

/// The virtual service.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default = "default_vip")]
    pub vip: Ipv4Addr,
    #[serde(default = "default_port")]
    pub port: u16,
    #[serde(default = "default_protocol")]
    pub protocol: Protocol,
    pub scheduler: SchedulerKind,
    /// Persistence timeout (`ipvsadm -p`); `0` = none.
    #[serde(default, with = "duration_field")]
    pub persistence: Duration,
    #[serde(default = "default_netmask")]
    pub persistence_netmask: Ipv4Addr,
    /// Accept mid-flow TCP without an entry (IPVS sloppy_tcp).
    #[serde(default)]
    pub sloppy: bool,
}

/// One real server; its address is 198.18.0.(10 + position).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealServerSpec {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// The port it listens on; NAT may map the service port to another (VIP:80 → RIP:8080).
    /// Defaults to the service port.
    #[serde(default)]
    pub port: Option<u16>,
    /// A command to run instead of `tapvs server` (it must listen on the service port and
    /// should name itself in an `X-Server` header).
    #[serde(default)]
    pub command: Vec<String>,
    /// The sorry server: not in the service, it takes new connections while no real server
    /// passes its checks. Must be named `sorry`; needs `[health]`.
    #[serde(default)]
    pub sorry: bool,
    /// This server's own check timing and hysteresis (`interval_ms`, `timeout_ms`, `rise`,
    /// `fall`, `initial`), over `[health]`'s.
    #[serde(default)]
    pub health: Option<crate::health::config::HealthOverride>,
}

/// How the directors check the real servers (`[health]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSpec {
    /// `tcp` (connect), `http` (GET, status range, body text) or `udp` (request/answer).
    pub check: crate::health::config::CheckKind,
    #[serde(default = "default_check_interval", with = "duration_field")]
    pub interval: Duration,
    #[serde(default = "default_check_timeout", with = "duration_field")]
    pub timeout: Duration,
    #[serde(default = "crate::health::config::default_rise")]
    pub rise: u32,
    #[serde(default = "crate::health::config::default_fall")]
    pub fall: u32,
    #[serde(default)]
    pub initial: crate::health::config::InitialState,
    /// `quiescent` (weight 0) or `remove` (weight 0 and its connections expired).
    #[serde(default)]
    pub on_failure: crate::health::config::OnFailure,
    #[serde(default = "crate::health::config::default_path")]
    pub path: String,
    #[serde(default = "crate::health::config::default_status")]
    pub status: [u16; 2],
    /// HTTP: text the body must contain; UDP: text the answer must contain.
    #[serde(default)]
    pub expect: Option<String>,
    /// Who checks: the directors themselves (`tapvs`), or the real ldirectord beside each
    /// director, changing its table through `tapvs ipvsadm` (`ldirectord`).
    #[serde(default)]
    pub checker: Checker,
    /// Runs the scenario once per checker (named `<name>-<checker>`), and charts them side by
    /// side.
    #[serde(default)]
    pub compare_checkers: Vec<Checker>,
}

/// Who runs a scenario's health checks (`[health] checker`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Checker {
    /// The tapvs directors' own checks.
    #[default]
    Tapvs,
    /// The real ldirectord (Debian's 4.12), one beside each director.
    Ldirectord,
}

impl Checker {
    pub fn name(self) -> &'static str {
        match self {
            Checker::Tapvs => "tapvs",
            Checker::Ldirectord => "ldirectord",
        }
    }
}

/// The director's defaults, as durations.
fn default_check_interval() -> Duration {
    Duration::from_millis(crate::health::config::default_interval_ms())
}
fn default_check_timeout() -> Duration {
    Duration::from_millis(crate::health::config::default_timeout_ms())
}

impl HealthSpec {
    /// The directors' `[service.health]` section.
    pub fn to_config(&self) -> crate::health::config::HealthConfig {
        crate::health::config::HealthConfig {
            check: self.check,
            interval_ms: self.interval.as_millis() as u64,
            timeout_ms: self.timeout.as_millis() as u64,
            rise: self.rise,
            fall: self.fall,
            initial: self.initial,
            on_failure: self.on_failure,
            path: self.path.clone(),
            status: self.status,
            expect: self.expect.clone(),
            request: crate::health::config::default_request(),
        }
    }
}

/// One load generator process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub name: String,
    /// `open` (fixed arrival rate) or `closed` (fixed concurrency).
    pub mode: LoadMode,
    /// Requests per second (open loop).
    #[serde(default)]
    pub rate: u32,
    /// Workers (closed loop) or most requests in flight (open loop).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// `new` connection per request or `keepalive`.
    #[serde(default = "default_connection")]
    pub connection: ConnectionMode,
    /// Keep-alive: requests per connection before reopening (0 = never).
    #[serde(default)]
    pub requests_per_conn: u32,
    /// Distinct client addresses (from 198.19.0.0/16).
    #[serde(default = "default_clients")]
    pub clients: u32,
    #[serde(with = "duration_field")]
    pub duration: Duration,
    /// Delay from the load start.
    #[serde(default, with = "duration_field")]
    pub start: Duration,
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u64,
    #[serde(default = "default_timeout", with = "duration_field")]
    pub timeout: Duration,
    /// Closed loop: pause after each successful request. With `keepalive` and
    /// `requests_per_conn = 0`, `concurrency` long-lived, mostly quiet connections.
    #[serde(default, with = "duration_field")]
    pub think: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Open,
    Closed,
    /// Spoofed TCP SYNs at `rate` per second from 198.19.128.0/17 (`tapvs client --syn-flood`).
    #[serde(rename = "syn_flood")]
    SynFlood,
}

fn default_connection() -> ConnectionMode {
    ConnectionMode::New
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    New,
    Keepalive,
}

/// Something that happens at a time of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// Time from the load start, as the file gives it: `3s`, or a range `3s..4s` drawn per
    /// seed ([`Scenario::with_seed`]).
    #[serde(rename = "at", with = "seeds::when_field")]
    pub when: seeds::When,
    /// The time the run uses: `when`, or a range's start until [`Scenario::with_seed`] draws it.
    #[serde(skip)]
    pub at: Duration,
    pub action: Action,
    /// The real server concerned (server actions).
    #[serde(default)]
    pub server: String,
    /// The director concerned (director actions): `d1` or `d2`.
    #[serde(default)]
    pub director: String,
    /// New weight for `set_weight`.
    #[serde(default)]
    pub weight: Option<u32>,
    /// Repeat the event this often (with `until`), e.g. a soak's periodic faults; the file's
    /// events are expanded into single ones, in time order, when the scenario is read.
    #[serde(
        default,
        with = "duration_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub every: Option<Duration>,
    /// The last time a repeated event may happen (at most the end of the load).
    #[serde(
        default,
        with = "duration_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Duration>,
    /// `spoof_vrrp`: the priority the forged adverts claim.
    #[serde(default)]
    pub priority: Option<u8>,
    /// `spoof_vrrp`: time between two forged adverts.
    #[serde(
        default,
        with = "duration_field",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub interval: Duration,
    /// `spoof_vrrp`: how long the forged adverts go on.
    #[serde(
        default,
        with = "duration_field",
        skip_serializing_if = "Duration::is_zero"
    )]
    pub duration: Duration,
    /// `degrade_link` / `repair_link`: the `[[link]]` concerned.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub link: String,
    /// `degrade_link`: the link's new settings (they replace the old ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub impair: Option<LinkImpair>,
}

/// The foreign host of `spoof_vrrp` events: a lab namespace on the LAN that is no director.
pub const SPOOFER: (&str, Ipv4Addr) = ("spoof", Ipv4Addr::new(198, 18, 0, 9));

impl EventSpec {
    /// `spoof_vrrp`: how many adverts (to each destination) fit in `duration`.
    pub fn spoof_count(&self) -> u32 {
        let interval = self.interval.as_micros().max(1);
        (self.duration.as_micros() / interval).min(u128::from(u32::MAX)) as u32
    }
}

/// Faults and operations on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Weight 0 on the director: no new connections, existing ones finish.
    Drain,
    /// Any weight on the director.
    SetWeight,
    /// SIGKILL the real server's process.
    KillServer,
    /// Start the real server's process again.
    RestoreServer,
    /// Make the real server hang (SIGUSR1): TCP handshakes still complete, no answer comes.
    HangServer,
    /// Make a hung real server answer again (SIGUSR2).
    UnhangServer,
    /// SIGKILL a director (a crash: no goodbye advert).
    KillDirector,
    /// SIGSTOP a director (frozen: it neither sends nor answers).
    FreezeDirector,
    /// SIGCONT a frozen director.
    ResumeDirector,
    /// SIGTERM a director (clean stop: it sends priority 0 so the peer takes over at once).
    StopDirector,
    /// Start a killed or stopped director again (it comes back as backup, or takes over by
    /// preemption if its priority is higher).
    RestartDirector,
    /// Pull a director's cable: its switch ports go down (nothing in, nothing out).
    CutLink,
    /// Plug a cut director's cable back.
    RestoreLink,
    /// Drop VRRP between the directors on the switch; the data path stays up (split brain).
    PartitionHeartbeat,
    /// Let VRRP through again.
    HealHeartbeat,
    /// A foreign host on the LAN ([`SPOOFER`]) sends forged VRRP adverts for the directors'
    /// VRID (`priority`, every `interval` for `duration`), to 224.0.0.18 and to each director.
    SpoofVrrp,
    /// Give a `[[link]]` new settings (`impair`), e.g. more loss.
    DegradeLink,
    /// Take every impairment off a `[[link]]` (a clean link, its wire stays).
    RepairLink,
}

impl Action {
    /// Whether the action concerns one director (and takes `director`).
    pub fn is_director_action(self) -> bool {
        matches!(
            self,
            Action::KillDirector
                | Action::FreezeDirector
                | Action::ResumeDirector
                | Action::StopDirector
                | Action::RestartDirector
                | Action::CutLink
                | Action::RestoreLink
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Action::Drain => "drain",
            Action::SetWeight => "set_weight",
            Action::KillServer => "kill_server",
            Action::RestoreServer => "restore_server",
            Action::HangServer => "hang_server",
            Action::UnhangServer => "unhang_server",
            Action::KillDirector => "kill_director",
            Action::FreezeDirector => "freeze_director",
            Action::ResumeDirector => "resume_director",
            Action::StopDirector => "stop_director",
            Action::RestartDirector => "restart_director",
            Action::CutLink => "cut_link",
            Action::RestoreLink => "restore_link",
            Action::PartitionHeartbeat => "partition_heartbeat",
            Action::HealHeartbeat => "heal_heartbeat",
            Action::SpoofVrrp => "spoof_vrrp",
            Action::DegradeLink => "degrade_link",
            Action::RepairLink => "repair_link",
        }
    }
}

/// A bound on one metric of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    pub metric: String,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Why the bound is what it is (printed when it fails).
    #[serde(default)]
    pub why: String,
    /// Applies only to runs in this mode (for scenarios that compare modes).
    #[serde(default)]
    pub mode: Option<Mode>,
    /// Applies only to runs with this checker (for scenarios that compare checkers).
    #[serde(default)]
    pub checker: Option<Checker>,
    /// Checked once on this statistic of the metric over the seeds of the run (`tapvs run
    /// --seeds N`): `max`, `min`, `mean`, `p50`, `p90` or `p99`; none: on each run by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<over::Over>,
}

impl Expectation {
    /// The bound as text: `<= 0`, `>= 0.9`, `in [0.2, 0.4]`.
    pub fn bound_text(&self) -> String {
        match (self.min, self.max) {
            (Some(lo), Some(hi)) => format!("in [{lo}, {hi}]"),
            (Some(lo), None) => format!(">= {lo}"),
            (None, Some(hi)) => format!("<= {hi}"),
            (None, None) => "any".into(),
        }
    }

    pub fn holds(&self, value: f64) -> bool {
        value.is_finite()
            && self.min.is_none_or(|lo| value >= lo)
            && self.max.is_none_or(|hi| value <= hi)
    }
}

/// Why a scenario was refused.
pub type ScenarioError = crate::file_error::FileError;

impl Scenario {
    /// Reads, parses and checks a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = crate::file_error::read_text(path)?;
        Scenario::parse(path, &text)
    }

    /// Parses and checks scenario text; `path` names it in errors and gives the default name.
    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let parse_error = |e: toml::de::Error| ScenarioError::Parse {
            path: path.into(),
            message: echo::shown_message(&e.to_string()),
        };
        // With `ldirectord_cf`, the file's service and checks go into the table first (errors
        // then name fields, not lines: the table has no spans); without it, the text is read
        // as it is, so that errors show the line.
        let mut from_cf = None;
        let mut scenario: Scenario = match toml::from_str::<toml::Table>(text) {
            Ok(mut table) if table.contains_key("ldirectord_cf") => {
                from_cf = ldirectord_cf::inject(path, &mut table)?;
                toml::Value::Table(table).try_into().map_err(parse_error)?
            }
            _ => toml::from_str(text).map_err(parse_error)?,
        };
        if let Some((cf_path, cf, text)) = from_cf {
            ldirectord_cf::apply_reals(&mut scenario, &cf_path, &cf)?;
            scenario.ldirectord_cf_text = Some(text);
        }
        if scenario.name.is_empty() {
            scenario.name = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("scenario")
                .to_string();
        }
        let invalid = crate::file_error::invalid(path);
        seeds::resolve(&mut scenario.events);
        seeds::check_ranges(&scenario).map_err(invalid)?;
        scenario.expand_repeats().map_err(invalid)?;
        let vip = scenario.service.vip;
        if let Some(f) = &mut scenario.failover {
            f.heartbeat = f.resolve_heartbeat(path, vip)?;
        }
        scenario.check().map_err(invalid)?;
        if scenario.has_ranges() {
            scenario.at_latest().check().map_err(|(field, reason)| {
                invalid((field, format!("{reason} (with each range at its end)")))
            })?;
        }
        for variant in scenario
            .variants()
            .iter()
            .filter(|v| v.name != scenario.name)
        {
            variant
                .check()
                .map_err(|(field, reason)| ScenarioError::Invalid {
                    path: path.into(),
                    field,
                    reason: format!("{reason} (in the {} run)", variant.name),
                })?;
        }
        Ok(scenario)
    }

    /// The runs this scenario stands for: itself, or one per mode of `lab.compare_modes`
    /// (named `<name>-<mode>`, keeping only the expectations for that mode).
    pub fn variants(&self) -> Vec<Scenario> {
        if let Some(f) = self
            .failover
            .as_ref()
            .filter(|f| !f.sweep_deadtimes.is_empty())
        {
            return f
                .sweep_deadtimes
                .iter()
                .map(|&deadtime| {
                    let mut s = self.clone();
                    let f = s.failover.as_mut().expect("checked above");
                    f.sweep_deadtimes.clear();
                    if let Some(hb) = &mut f.heartbeat {
                        hb.deadtime = deadtime;
                    }
                    s.name = format!("{}-deadtime-{}", self.name, duration::format(deadtime));
                    s
                })
                .collect();
        }
        if let Some(sweep) = self
            .failover
            .as_ref()
            .filter(|f| !f.sweep_advert_intervals.is_empty())
        {
            return sweep
                .sweep_advert_intervals
                .iter()
                .map(|&interval| {
                    let mut s = self.clone();
                    let f = s.failover.as_mut().expect("checked above");
                    f.advert_interval = interval;
                    f.sweep_advert_intervals.clear();
                    s.name = format!("{}-{}", self.name, duration::format(interval));
                    s
                })
                .collect();
        }
        let by_mode = if self.lab.compare_modes.is_empty() {
            vec![self.clone()]
        } else {
            self.lab
                .compare_modes
                .iter()
                .map(|&mode| {
                    let mut s = self.clone();
                    s.lab.mode = mode;
                    s.lab.compare_modes.clear();
                    s.name = format!("{}-{}", self.name, mode.name());
                    s.expectations.retain(|x| x.mode.is_none_or(|m| m == mode));
                    s
                })
                .collect()
        };
        by_mode.iter().flat_map(Scenario::by_checker).collect()
    }

    /// One run per checker of `[health] compare_checkers` (named `<name>-<checker>`, keeping
    /// only the expectations for that checker), or the scenario itself.
    fn by_checker(&self) -> Vec<Scenario> {
        let checkers = self
            .health
            .as_ref()
            .map(|h| h.compare_checkers.clone())
            .unwrap_or_default();
        if checkers.is_empty() {
            return vec![self.clone()];
        }
        checkers
            .into_iter()
            .map(|checker| {
                let mut s = self.clone();
                let h = s.health.as_mut().expect("checkers come from [health]");
                h.checker = checker;
                h.compare_checkers.clear();
                s.name = format!("{}-{}", self.name, checker.name());
                s.expectations
                    .retain(|x| x.checker.is_none_or(|c| c == checker));
                s
            })
            .collect()
    }

    /// Who checks the real servers (tapvs without `[health]`: nobody then).
    pub fn checker(&self) -> Checker {
        self.health.as_ref().map_or(Checker::Tapvs, |h| h.checker)
    }

    /// The address of real server `i` (from 0): 198.18.0.(11 + i) on the LAN, or
    /// 198.18.1.(11 + i) behind a two-armed NAT director.
    pub fn server_address(&self, i: usize) -> Ipv4Addr {
        let net = if self.lab.mode.two_armed(self.lab.nat_arms) {
            1
        } else {
            0
        };
        Ipv4Addr::new(198, 18, net, 11 + i as u8)
    }

    /// The port real server `i` listens on.
    pub fn server_port(&self, i: usize) -> u16 {
        self.real_servers[i].port.unwrap_or(self.service.port)
    }

    /// The directors of the lab: `d1`, and `d2` with failover.
    pub fn directors(&self) -> Vec<String> {
        let n = if self.failover.is_some() { 2 } else { 1 };
        (1..=n).map(|i| format!("d{i}")).collect()
    }

    /// Whether director `name` is keepalived rather than tapvs (`peer = "keepalived"`: d2).
    pub fn is_keepalived(&self, name: &str) -> bool {
        name == "d2"
            && self
                .failover
                .as_ref()
                .is_some_and(|f| f.peer == Peer::Keepalived)
    }

    /// The directors that are tapvs processes on TAPs.
    pub fn tapvs_directors(&self) -> Vec<String> {
        let mut all = self.directors();
        all.retain(|d| !self.is_keepalived(d));
        all
    }

    /// The foreign host of `spoof_vrrp` events, if the timeline has any.
    pub fn spoofer(&self) -> Option<(&'static str, Ipv4Addr)> {
        self.events
            .iter()
            .any(|e| e.action == Action::SpoofVrrp)
            .then_some(SPOOFER)
    }

    /// When the last load ends, from the load start.
    pub fn load_end(&self) -> Duration {
        self.loads
            .iter()
            .map(|l| l.start + l.duration)
            .max()
            .unwrap_or_default()
    }

    /// Expected share of new connections per server, from the configured weights.
    pub fn weight_shares(&self) -> Vec<f64> {
        let weight = |r: &RealServerSpec| if r.sorry { 0 } else { r.weight };
        let total: u32 = self.real_servers.iter().map(weight).sum();
        self.real_servers
            .iter()
            .map(|r| weight(r) as f64 / total.max(1) as f64)
            .collect()
    }
}

fn default_interval() -> Duration {
    Duration::from_millis(250)
}
fn default_vip() -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 100)
}
fn default_port() -> u16 {
    80
}
fn default_protocol() -> Protocol {
    Protocol::Tcp
}
fn default_netmask() -> Ipv4Addr {
    Ipv4Addr::BROADCAST
}
fn default_weight() -> u32 {
    1
}
fn default_concurrency() -> u32 {
    64
}
fn default_clients() -> u32 {
    1000
}
fn default_response_bytes() -> u64 {
    10_000
}
fn default_timeout() -> Duration {
    Duration::from_secs(2)
}

/// Serde glue for lists of durations written as strings.
mod duration_list {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| super::duration::parse(t).map_err(serde::de::Error::custom))
            .collect()
    }

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|d| super::duration::format(*d)))
    }
}

/// Serde glue for optional `Duration` fields written as strings.
mod duration_option {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|t| super::duration::parse(&t).map_err(serde::de::Error::custom))
            .transpose()
    }

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&super::duration::format(*d)),
            None => s.serialize_none(),
        }
    }
}

/// Serde glue for `Duration` fields written as strings.
mod duration_field {
    use serde::{Deserializer, Serializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        super::duration::deserialize(d)
    }

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::duration::format(*d))
    }
}

#[cfg(test)]
mod bounds_tests;
#[cfg(test)]
mod repeat_tests;
#[cfg(test)]
mod seeds_tests;
