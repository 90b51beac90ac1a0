//! A serialisable snapshot of the data plane's counters, for the control socket, the exit
//! report and the runner. Built on request; never on the packet path.

use super::Dataplane;
use super::counters::{Counters, DropReason, Traffic};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Everything a director reports about its data plane.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub active: bool,
    /// The data plane's counters (their `drops` array left out: see `drops` below).
    #[serde(flatten)]
    pub counters: Counters,
    /// Entries in the connection table now (connections and templates).
    pub conns: usize,
    /// The SYN-flood defence: its level and every action it took.
    #[serde(default)]
    pub defense: super::defense::DefenseCounters,
    /// Drops by reason (only reasons seen).
    pub drops: BTreeMap<String, u64>,
    pub services: Vec<ServiceStats>,
}

/// One virtual service.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceStats {
    pub vip: Option<Ipv4Addr>,
    pub port: u16,
    pub scheduler: String,
    pub traffic: Traffic,
    pub servers: Vec<ServerStats>,
}

/// One real server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    pub name: String,
    pub weight: u32,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub traffic: Traffic,
}

impl Stats {
    /// Packets and bytes forwarded for all services.
    pub fn forwarded(&self) -> Traffic {
        let mut t = Traffic::default();
        for s in &self.services {
            t.add(&s.traffic);
        }
        t
    }
}

impl Dataplane {
    /// Takes a snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let c = self.counters();
        let drops = DropReason::ALL
            .iter()
            .filter(|r| c.drops_for(**r) > 0)
            .map(|r| (r.name().to_string(), c.drops_for(*r)))
            .collect();
        let services = self
            .services()
            .iter()
            .map(|s| ServiceStats {
                vip: Some(s.vip),
                port: s.port,
                scheduler: s.scheduler_name().to_string(),
                traffic: s.traffic,
                servers: s
                    .servers
                    .iter()
                    .zip(&s.views)
                    .map(|(rs, v)| ServerStats {
                        name: rs.name.clone(),
                        weight: v.weight,
                        active_conns: v.active_conns,
                        inactive_conns: v.inactive_conns,
                        traffic: rs.traffic,
                    })
                    .collect(),
            })
            .collect();
        Stats {
            active: self.is_active(),
            counters: c.clone(),
            conns: self.conns().len(),
            defense: *self.defense(),
            drops,
            services,
        }
    }
}
