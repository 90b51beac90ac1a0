//! `[[event]]`: the timeline's faults and operations.

use super::LinkImpair;
use super::seeds;
use super::serde_glue::{duration_field, duration_option};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;
use std::time::Duration;

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
