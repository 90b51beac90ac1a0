//! Reading a director's event log (JSON lines of [`EventLine`], from `tapvs director --events`
//! or keepalived's notify script) back into the same types: its failover transitions, its
//! health changes, the weights ipvsadm set, and its last counters.

use crate::node::event::{DirectorEvent, EventLine, ServerHealth, SyncReport, VrrpReport};
use std::path::Path;

/// What one director's event log says.
#[derive(Debug, Default)]
pub struct DirectorLog {
    /// VRRP transitions, roles set from outside and gratuitous ARPs: (wall-clock ms, event).
    pub transitions: Vec<(u64, DirectorEvent)>,
    /// Health changes: (wall-clock ms, server, up).
    pub health: Vec<(u64, String, bool)>,
    /// Weights `ipvsadm` changed (ldirectord's verdicts): (wall-clock ms, server, weight).
    pub weights: Vec<(u64, String, u32)>,
    pub last_vrrp: Option<VrrpReport>,
    pub last_sync: Option<SyncReport>,
    pub last_health: Option<Vec<ServerHealth>>,
    /// Lines that did not parse (a line cut by a kill, or not an event).
    pub unreadable: usize,
}

impl DirectorLog {
    /// Reads the log at `path`; a missing log reads as empty.
    pub fn read(path: &Path) -> DirectorLog {
        DirectorLog::parse(&std::fs::read_to_string(path).unwrap_or_default())
    }

    /// Reads the lines of a log.
    pub fn parse(text: &str) -> DirectorLog {
        let mut log = DirectorLog::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<EventLine>(line) {
                Ok(line) => log.take(line),
                Err(_) => log.unreadable += 1,
            }
        }
        log
    }

    pub(in crate::run) fn take(&mut self, line: EventLine) {
        match line.event {
            DirectorEvent::Health { server, up, .. } => {
                self.health.push((line.unix_ms, server, up))
            }
            DirectorEvent::Weight { server, weight } => {
                self.weights.push((line.unix_ms, server, weight))
            }
            DirectorEvent::VrrpCounters(report) => self.last_vrrp = Some(report),
            DirectorEvent::SyncCounters(report) => self.last_sync = Some(report),
            DirectorEvent::HealthCounters { servers } => self.last_health = Some(servers),
            event @ (DirectorEvent::Vrrp { .. }
            | DirectorEvent::Role { .. }
            | DirectorEvent::GratuitousArp
            | DirectorEvent::SplitBrainHealed
            | DirectorEvent::PeerResigned) => self.transitions.push((line.unix_ms, event)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::event::VrrpState;

    #[test]
    fn a_log_reads_back_into_transitions_changes_and_last_counters() {
        let lines = [
            r#"{"unix_ms":10,"event":{"type":"vrrp","state":"backup"}}"#,
            r#"{"unix_ms":20,"t_ms":5,"event":{"type":"vrrp","state":"master"}}"#,
            r#"{"unix_ms":21,"t_ms":6,"event":{"type":"gratuitous_arp"}}"#,
            r#"{"unix_ms":22,"t_ms":7,"event":{"type":"health","server":"rs1","up":false,"reason":"refused","counters":{"checks":3,"ok":1,"failed":2,"timeouts":0,"last_latency_ms":0,"max_latency_ms":1,"transitions":1}}}"#,
            r#"{"unix_ms":30,"t_ms":8,"event":{"type":"table","conns":4,"active":true}}"#,
            r#"{"unix_ms":30,"t_ms":8,"event":{"type":"weight","server":"rs2","weight":0}}"#,
            r#"{"unix_ms":31,"t_ms":9,"event":{"type":"vrrp_counters","state":"master","adverts_sent":1,"priority_zero_sent":0,"adverts_accepted":0,"priority_zero_received":0,"became_master":1,"became_backup":1,"dropped_not_running":0,"dropped_wrong_vrid":0,"dropped_own_advert":0,"dropped_not_peer":7,"dropped_address_mismatch":0,"dropped_zero_interval":0,"lower_prio_answered":0,"lower_prio_announced":0,"malformed":0,"unicast_unresolved":0,"garps":5}}"#,
            r#"{"unix_ms":40,"event":{"type":"vrrp","sta"#,
        ];
        let log = DirectorLog::parse(&lines.join("\n"));
        assert_eq!(log.transitions.len(), 3);
        assert_eq!(
            log.transitions[1],
            (
                20,
                DirectorEvent::Vrrp {
                    state: VrrpState::Master
                }
            )
        );
        assert_eq!(log.health, vec![(22, "rs1".to_string(), false)]);
        assert_eq!(log.weights, vec![(30, "rs2".to_string(), 0)]);
        let vrrp = log.last_vrrp.unwrap();
        assert_eq!((vrrp.counters.dropped_not_peer, vrrp.garps), (7, 5));
        assert_eq!(log.unreadable, 1, "the line cut short");
        assert!(log.last_sync.is_none());
    }
}
