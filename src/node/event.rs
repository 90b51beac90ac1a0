//! What a director node tells the world: one typed, serde enum. The director process writes
//! them as JSON lines (`EventLine`), keepalived's notify script writes the VRRP ones in the same
//! shape, and the runner reads them back into the same types.

use crate::control::vrrp::VrrpCounters;
use crate::dataplane::stats::Stats;
use crate::health::monitor::CheckCounters;
use crate::sync::node::SyncCounters;
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// One thing that happened in a director node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DirectorEvent {
    /// The node started with this seed for its random choices.
    Started { seed: u64 },
    /// The VRRP router changed state.
    Vrrp { state: VrrpState },
    /// An outside manager (Heartbeat's resource agent) set the role (`[failover] mode =
    /// "external"`): master or backup.
    Role { state: VrrpState },
    /// A lower-priority master was heard while master: the VIPs were announced again.
    SplitBrainHealed,
    /// The master handed over with a priority-0 advert.
    PeerResigned,
    /// The first gratuitous ARP of a takeover went out.
    GratuitousArp,
    /// A neighbour's MAC became known.
    NeighbourResolved {
        ip: Ipv4Addr,
        #[serde(with = "mac_text")]
        mac: [u8; 6],
    },
    /// A neighbour did not answer ARP; frames waiting for it were dropped.
    NeighbourFailed { ip: Ipv4Addr },
    /// A real server's health changed.
    Health {
        server: String,
        up: bool,
        reason: HealthReason,
        counters: CheckCounters,
    },
    /// `ipvsadm` (the control socket's `ipvs` command: ldirectord, a person) changed the
    /// weight a real server is scheduled with; 0 when it was set to 0 or deleted.
    Weight { server: String, weight: u32 },
    /// Connections of a server taken out were expired.
    ConnsExpired { server: String, count: usize },
    /// The VRRP router's counters (a few times a second, and at the end).
    VrrpCounters(VrrpReport),
    /// The heartbeat node's counters (a few times a second, and at the end).
    HeartbeatCounters(HeartbeatReport),
    /// The sync node's counters (a few times a second, and at the end).
    SyncCounters(SyncReport),
    /// Every checked server's state and counters (a few times a second, and at the end).
    HealthCounters { servers: Vec<ServerHealth> },
    /// A sample of the connection table.
    Table { conns: usize, active: bool },
    /// The data plane's counters, drops by reason included (once a second, and at the end).
    Dataplane(Box<Stats>),
    /// The node stopped.
    Stopped,
}

/// A VRRP router's state, as the event log and keepalived's notify script name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VrrpState {
    Init,
    Backup,
    Master,
    /// Shut down (a clean stop, or keepalived's FAULT/STOP).
    Stopped,
}

/// Why a server's health changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthReason {
    /// Up: the checks passed.
    Passed,
    Timeout,
    Refused,
    Closed,
    Status,
    Content,
    Malformed,
    Socket,
}

/// The VRRP counters of a director.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrrpReport {
    pub state: Option<VrrpState>,
    #[serde(flatten)]
    pub counters: VrrpCounters,
    /// Protocol-112 frames for the director that were not adverts.
    pub malformed: u64,
    /// Unicast adverts not sent: the peer's MAC was not known yet.
    pub unicast_unresolved: u64,
    /// Gratuitous ARPs the data plane sent (every burst, takeovers and re-announcements).
    pub garps: u64,
}

/// The heartbeat counters of a director.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReport {
    /// It holds the VIPs (master).
    pub holding: bool,
    pub peer_alive: bool,
    #[serde(flatten)]
    pub counters: crate::control::heartbeat::machine::HbCounters,
    /// Datagrams to the heartbeat port from another address than the peer's.
    pub wrong_source: u64,
    /// Datagrams to the heartbeat port that failed the IPv4 or UDP checks.
    pub malformed_frames: u64,
    /// Polls that found the peer's MAC unknown.
    pub unresolved: u64,
    pub garps: u64,
}

/// The sync counters of a director.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    #[serde(flatten)]
    pub counters: SyncCounters,
    /// Worst lag while a backup was acknowledging.
    pub max_lag_ms: u64,
    /// Turns at sending that found the node's outbox full (what was due waited).
    pub tx_errors: u64,
    /// Datagrams from a director that is not a VRRP peer, dropped.
    pub not_peer: u64,
}

/// One checked real server's state and counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerHealth {
    pub server: String,
    pub up: bool,
    pub counters: CheckCounters,
}

/// One line of a director's event log: wall-clock and node time, and the event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventLine {
    pub unix_ms: u64,
    /// The node's own clock (milliseconds since it started); absent in keepalived's lines.
    #[serde(default)]
    pub t_ms: u64,
    pub event: DirectorEvent,
}

/// A MAC address as `02:74:76:00:00:02` in the event log.
mod mac_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(mac: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
        let [a, b, c, d, e, f] = mac;
        s.collect_str(&format_args!(
            "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}"
        ))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 6], D::Error> {
        let text = String::deserialize(d)?;
        crate::dataplane::settings::parse_mac(&text)
            .ok_or_else(|| D::Error::custom(format!("`{text}` is not a MAC address")))
    }
}

impl std::fmt::Display for DirectorEvent {
    /// The human line the director prints on stderr for events worth reading.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use DirectorEvent::*;
        match self {
            Started { seed } => write!(f, "seed {seed}"),
            Vrrp { state } => write!(f, "vrrp {}", state.name()),
            Role { state } => write!(f, "role {} (set from outside)", state.name()),
            SplitBrainHealed => f.write_str("vrrp split_brain_healed"),
            PeerResigned => f.write_str("vrrp peer_resigned"),
            GratuitousArp => f.write_str("vrrp garp"),
            NeighbourResolved { ip, mac } => {
                let [a, b, c, d, e, g] = mac;
                write!(
                    f,
                    "neighbour {ip} is at {a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}"
                )
            }
            NeighbourFailed { ip } => write!(f, "neighbour {ip} does not answer ARP"),
            Health {
                server,
                up,
                reason,
                counters: c,
            } => write!(
                f,
                "health: {server} {} ({reason:?}) after {} checks ({} ok, {} failed, {} timed out)",
                if *up { "up" } else { "down" },
                c.checks,
                c.ok,
                c.failed,
                c.timeouts
            ),
            Weight { server, weight } => write!(f, "ipvsadm: {server} weight {weight}"),
            ConnsExpired { server, count } => {
                write!(f, "health: expired {count} connection(s) of {server}")
            }
            VrrpCounters(_) => f.write_str("vrrp counters"),
            HeartbeatCounters(_) => f.write_str("heartbeat counters"),
            SyncCounters(_) => f.write_str("sync counters"),
            HealthCounters { .. } => f.write_str("health counters"),
            Table { conns, active } => write!(f, "table {conns} (active {active})"),
            Dataplane(_) => f.write_str("data plane counters"),
            Stopped => f.write_str("stopped"),
        }
    }
}

impl DirectorEvent {
    /// Whether the director prints this event on stderr (the periodic samples it does not).
    pub fn is_notable(&self) -> bool {
        !matches!(
            self,
            DirectorEvent::VrrpCounters(_)
                | DirectorEvent::SyncCounters(_)
                | DirectorEvent::HealthCounters { .. }
                | DirectorEvent::Table { .. }
                | DirectorEvent::Dataplane(_)
        )
    }
}

impl VrrpState {
    pub fn name(self) -> &'static str {
        match self {
            VrrpState::Init => "init",
            VrrpState::Backup => "backup",
            VrrpState::Master => "master",
            VrrpState::Stopped => "stopped",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_keepalived_notify_line_reads_as_a_vrrp_event() {
        let line = r#"{"unix_ms":5,"event":{"type":"vrrp","state":"master"}}"#;
        let read: EventLine = serde_json::from_str(line).unwrap();
        assert_eq!(
            read.event,
            DirectorEvent::Vrrp {
                state: VrrpState::Master
            }
        );
        assert_eq!((read.unix_ms, read.t_ms), (5, 0));
    }

    #[test]
    fn every_kind_of_event_reads_back_as_written() {
        let events = [
            DirectorEvent::Started { seed: 7 },
            DirectorEvent::Role {
                state: VrrpState::Master,
            },
            DirectorEvent::GratuitousArp,
            DirectorEvent::NeighbourResolved {
                ip: Ipv4Addr::new(198, 18, 0, 11),
                mac: [2, 0x74, 0x76, 0, 0, 0xb],
            },
            DirectorEvent::Health {
                server: "rs1".into(),
                up: false,
                reason: HealthReason::Refused,
                counters: CheckCounters::default(),
            },
            DirectorEvent::SyncCounters(SyncReport {
                max_lag_ms: 3,
                ..SyncReport::default()
            }),
            DirectorEvent::VrrpCounters(VrrpReport {
                state: Some(VrrpState::Backup),
                garps: 2,
                ..VrrpReport::default()
            }),
            DirectorEvent::Dataplane(Box::default()),
        ];
        for event in events {
            let line = EventLine {
                unix_ms: 1,
                t_ms: 2,
                event,
            };
            let text = serde_json::to_string(&line).unwrap();
            assert_eq!(serde_json::from_str::<EventLine>(&text).unwrap(), line);
        }
    }
}
