//! The data plane's IPVS administration (what `ipvsadm` does to a kernel): add, edit and
//! delete virtual services and real servers live, clear, zero, set the timeouts, and a snapshot
//! of the table as the kernel reports it (`IpvsTable`). Never on the packet path: these may
//! allocate.
//!
//! Indices stay stable, because connection entries, health checks and sync refer to services
//! and servers by index: a deleted server or service keeps its slot, marked removed (weight 0,
//! not listed) while its connections run out, as IPVS keeps a deleted destination in its trash
//! with `expire_nodest_conn` off; adding the same address again brings the slot back, as IPVS
//! takes a destination back from its trash. A new server or service takes a new slot.
//!
//! Weights: `-e -w` sets a server's administrative weight. A health check that marks it down
//! holds it at 0; when it passes again the server gets the administrative weight back, so a
//! check never undoes an administrator's change (ldirectord's `quiescent` behaves the same way).

use super::Dataplane;
use super::counters::Traffic;
use super::estimator::{self, Estimator, Rates};
use super::service::{RealServer, SORRY, Service};
use super::settings::{Forwarding, Protocol, ServiceConfig};
use super::tcp_state::ConnState;
use super::{Iface, ms};
use crate::sched::{SchedulerKind, ServerView};
use serde::{Deserialize, Serialize};
use smoltcp::time::Instant;
use std::net::Ipv4Addr;

/// The IPVS version a 1.2.1 kernel reports (`IP Virtual Server version 1.2.1`).
pub const IPVS_VERSION: u32 = 0x01_02_01;
/// Slots are indexed by u16 in connection entries.
const MAX_SLOTS: usize = u16::MAX as usize;

/// A virtual service's identity (`-t|-u VIP:PORT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceKey {
    pub protocol: Protocol,
    pub addr: Ipv4Addr,
    pub port: u16,
}

/// A virtual service's options (`-A`/`-E`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceSpec {
    pub key: ServiceKey,
    /// IPVS scheduler name.
    pub scheduler: String,
    /// Persistence timeout in seconds; 0 = none.
    pub persistence_s: u32,
    pub netmask: Ipv4Addr,
}

/// A real server's options (`-a`/`-e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerSpec {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub weight: u32,
}

/// Why an administrative change was refused: ipvsadm's own words where a kernel would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpvsError {
    /// `-A` of a service that is there.
    #[error("Service already exists")]
    ServiceExists,
    /// A scheduler name tapvs does not have.
    #[error("Scheduler or persistence engine not found")]
    NoScheduler,
    /// `-E`, `-D`, `-Z` or `-L` of a service that is not there.
    #[error("No such service")]
    NoSuchService,
    /// `-a`, `-e` or `-d` in a service that is not there.
    #[error("Service not defined")]
    ServiceNotDefined,
    /// `-a` of a server that is there.
    #[error("Destination already exists")]
    DestExists,
    /// `-e` or `-d` of a server that is not there.
    #[error("No such destination")]
    NoSuchDest,
    /// Something IPVS can do and tapvs cannot (said in tapvs's words).
    #[error("tapvs: {0}")]
    Unsupported(&'static str),
}

/// The kernel's three settable timeouts, in seconds (`ipvsadm --set tcp tcpfin udp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcpfin: u32,
    pub udp: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp: ConnState::Established.timeout_s(),
            tcpfin: ConnState::FinWait.timeout_s(),
            udp: ConnState::Udp.timeout_s(),
        }
    }
}

impl Timeouts {
    /// The timeout of a state in milliseconds: the three settable ones, else IPVS's defaults.
    #[inline]
    pub fn of_ms(&self, state: ConnState) -> u64 {
        let s = match state {
            ConnState::Established => self.tcp,
            ConnState::FinWait => self.tcpfin,
            ConnState::Udp => self.udp,
            other => other.timeout_s(),
        };
        u64::from(s) * 1000
    }
}

/// Counters and rates of a service or server, as the kernel reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsStats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub rates: Rates,
}

impl IpvsStats {
    fn of(t: &Traffic, e: &Estimator) -> Self {
        let [conns, inpkts, outpkts, inbytes, outbytes] = estimator::ipvs_counts(t);
        IpvsStats {
            conns,
            inpkts,
            outpkts,
            inbytes,
            outbytes,
            rates: e.rates(),
        }
    }
}

/// One real server in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsDest {
    pub addr: Ipv4Addr,
    pub port: u16,
    pub forwarding: Forwarding,
    pub weight: u32,
    pub active: u32,
    pub inactive: u32,
    /// Persistence templates pointing at it.
    pub persistent: u32,
    pub stats: IpvsStats,
}

/// One virtual service in the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsService {
    pub key: ServiceKey,
    pub scheduler: String,
    /// Persistence timeout in seconds; 0 = none.
    pub persistence_s: u32,
    pub netmask: Ipv4Addr,
    pub stats: IpvsStats,
    pub dests: Vec<IpvsDest>,
}

/// One connection entry (`/proc/net/ip_vs_conn`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsConn {
    pub protocol: Protocol,
    pub client: Ipv4Addr,
    pub client_port: u16,
    pub vip: Ipv4Addr,
    pub vport: u16,
    pub dest: Ipv4Addr,
    pub dest_port: u16,
    /// IPVS's state name (`ESTABLISHED`, `NONE` for a persistence template).
    pub state: String,
    /// Seconds left.
    pub expires_s: u64,
}

/// What a kernel tells ipvsadm: version, table size, timeouts, services, connections.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpvsTable {
    pub version: u32,
    /// The connection table's capacity.
    pub size: u32,
    pub timeouts: Timeouts,
    pub services: Vec<IpvsService>,
    /// Only when asked for (`-c`).
    #[serde(default)]
    pub conns: Vec<IpvsConn>,
}

fn scheduler_kind(name: &str) -> Result<SchedulerKind, IpvsError> {
    SchedulerKind::ALL
        .into_iter()
        .find(|k| k.name() == name)
        .ok_or(IpvsError::NoScheduler)
}

impl Dataplane {
    fn find_service(&self, key: &ServiceKey) -> Option<usize> {
        self.services
            .iter()
            .position(|s| s.vip == key.addr && s.port == key.port && s.protocol == key.protocol)
    }

    /// A listed service's index.
    fn live_service(&self, key: &ServiceKey, missing: IpvsError) -> Result<usize, IpvsError> {
        self.find_service(key)
            .filter(|&i| !self.services[i].removed)
            .ok_or(missing)
    }

    /// A server of service `svc` by address, listed or removed.
    fn find_server(&self, svc: usize, addr: Ipv4Addr, port: u16) -> Option<usize> {
        let s = &self.services[svc];
        (0..s.servers.len()).find(|&i| {
            s.servers[i].name != SORRY && s.views[i].addr == addr && s.views[i].port == port
        })
    }

    /// `ipvsadm -A`.
    pub fn add_service(&mut self, spec: &ServiceSpec) -> Result<(), IpvsError> {
        let kind = scheduler_kind(&spec.scheduler)?;
        if let Some(i) = self.find_service(&spec.key) {
            if !self.services[i].removed {
                return Err(IpvsError::ServiceExists);
            }
            self.services[i].removed = false;
            return self.edit_service(spec);
        }
        if self.services.len() >= MAX_SLOTS {
            return Err(IpvsError::Unsupported("no room for another service"));
        }
        let config = ServiceConfig {
            vip: spec.key.addr,
            port: spec.key.port,
            protocol: spec.key.protocol,
            scheduler: kind,
            forwarding: Forwarding::Dr,
            persistence_s: spec.persistence_s,
            persistence_netmask: spec.netmask,
            real_servers: Vec::new(),
            health: None,
            sorry_server: None,
        };
        self.services.push(Service::new(&config, |_| 0));
        if !self.vips.contains(&spec.key.addr) {
            self.vips.push(spec.key.addr);
            self.vips.sort();
            self.garp.add(Iface::OUTSIDE, spec.key.addr);
        }
        Ok(())
    }

    /// `ipvsadm -E`: every option is replaced (ipvsadm sends its defaults for those not given).
    pub fn edit_service(&mut self, spec: &ServiceSpec) -> Result<(), IpvsError> {
        let i = self.live_service(&spec.key, IpvsError::NoSuchService)?;
        let kind = scheduler_kind(&spec.scheduler)?;
        let svc = &mut self.services[i];
        if svc.scheduler_name() != kind.name() {
            svc.set_scheduler(kind);
        }
        svc.persistence_ms = u64::from(spec.persistence_s) * 1000;
        svc.persistence_netmask = u32::from(spec.netmask);
        Ok(())
    }

    /// `ipvsadm -D`: no new connections; existing ones run out.
    pub fn delete_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        let i = self.live_service(key, IpvsError::NoSuchService)?;
        for server in 0..self.services[i].servers.len() {
            self.remove_server_slot(i, server);
        }
        self.services[i].removed = true;
        Ok(())
    }

    fn remove_server_slot(&mut self, svc: usize, server: usize) {
        let s = &mut self.services[svc];
        s.servers[server].removed = true;
        s.servers[server].configured_weight = 0;
        s.set_weight(server, 0);
    }

    /// `ipvsadm -C`.
    pub fn clear(&mut self) {
        for i in 0..self.services.len() {
            if !self.services[i].removed {
                let _ = self.delete_service(&self.key_of(i));
            }
        }
    }

    fn key_of(&self, i: usize) -> ServiceKey {
        let s = &self.services[i];
        ServiceKey {
            protocol: s.protocol,
            addr: s.vip,
            port: s.port,
        }
    }

    /// `ipvsadm -a`.
    pub fn add_server(&mut self, key: &ServiceKey, spec: &ServerSpec) -> Result<(), IpvsError> {
        let svc = self.live_service(key, IpvsError::ServiceNotDefined)?;
        let existing = self.find_server(svc, spec.addr, spec.port);
        if existing.is_some_and(|i| !self.services[svc].servers[i].removed) {
            return Err(IpvsError::DestExists);
        }
        self.check_forwarding(svc, spec.forwarding)?;
        let server = match existing {
            Some(i) => i,
            None => {
                let s = &self.services[svc];
                if s.servers.len() >= MAX_SLOTS {
                    return Err(IpvsError::Unsupported("no room for another real server"));
                }
                let iface = match self.ifaces.get(1) {
                    Some(inside) if inside.on_link(spec.addr) => Iface::INSIDE,
                    _ => Iface::OUTSIDE,
                };
                let neighbour = self.neighbours.track(spec.addr, iface);
                let server = RealServer {
                    name: format!("{}:{}", spec.addr, spec.port),
                    configured_weight: 0,
                    neighbour,
                    traffic: Traffic::default(),
                    removed: true,
                    health_down: false,
                    rates: Estimator::default(),
                };
                let view = ServerView {
                    addr: spec.addr,
                    port: spec.port,
                    weight: 0,
                    active_conns: 0,
                    inactive_conns: 0,
                };
                self.services[svc].push_server(server, view)
            }
        };
        self.services[svc].servers[server].removed = false;
        self.services[svc].forwarding = spec.forwarding;
        self.set_admin_weight(svc, server, spec.weight);
        Ok(())
    }

    /// `ipvsadm -e`.
    pub fn edit_server(&mut self, key: &ServiceKey, spec: &ServerSpec) -> Result<(), IpvsError> {
        let svc = self.live_service(key, IpvsError::ServiceNotDefined)?;
        let server = self
            .find_server(svc, spec.addr, spec.port)
            .filter(|&i| !self.services[svc].servers[i].removed)
            .ok_or(IpvsError::NoSuchDest)?;
        self.check_forwarding(svc, spec.forwarding)?;
        self.services[svc].forwarding = spec.forwarding;
        self.set_admin_weight(svc, server, spec.weight);
        Ok(())
    }

    /// `ipvsadm -d`: the server takes no new connection; its connections run out.
    pub fn delete_server(
        &mut self,
        key: &ServiceKey,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<(), IpvsError> {
        let svc = self.live_service(key, IpvsError::ServiceNotDefined)?;
        let server = self
            .find_server(svc, addr, port)
            .filter(|&i| !self.services[svc].servers[i].removed)
            .ok_or(IpvsError::NoSuchDest)?;
        self.remove_server_slot(svc, server);
        Ok(())
    }

    /// tapvs keeps one forwarding method per service (its entries carry it): another method
    /// is taken only while the service has no listed server and no connection.
    fn check_forwarding(&self, svc: usize, method: Forwarding) -> Result<(), IpvsError> {
        let s = &self.services[svc];
        if s.forwarding == method {
            return Ok(());
        }
        if method == Forwarding::Nat && !self.conns.has_replies() {
            return Err(IpvsError::Unsupported(
                "masquerading needs a director started with a NAT service",
            ));
        }
        let busy = s.servers.iter().any(|r| !r.removed && r.name != SORRY)
            || s.views
                .iter()
                .any(|v| v.active_conns + v.inactive_conns > 0);
        if busy {
            return Err(IpvsError::Unsupported(
                "the real servers of a service share one forwarding method",
            ));
        }
        Ok(())
    }

    /// Sets a server's administrative weight; a server held down by a check stays at 0.
    pub fn set_admin_weight(&mut self, svc: usize, server: usize, weight: u32) {
        let s = &mut self.services[svc];
        s.servers[server].configured_weight = weight;
        if !s.servers[server].health_down {
            s.set_weight(server, weight);
        }
    }

    /// A health check's verdict: down holds the server at weight 0, up gives it back its
    /// administrative weight. False when there is no such server.
    pub fn set_server_health(&mut self, svc: usize, server: usize, up: bool) -> bool {
        let Some(s) = self.services.get_mut(svc) else {
            return false;
        };
        let Some(rs) = s.servers.get_mut(server) else {
            return false;
        };
        rs.health_down = !up;
        let weight = if up && !rs.removed {
            rs.configured_weight
        } else {
            0
        };
        s.set_weight(server, weight);
        true
    }

    /// Every real server's name and the weight it schedules with (0 for a deleted one), service
    /// by service: what an `ipvsadm` command changed shows as a difference.
    pub fn server_weights(&self) -> Vec<(&str, u32)> {
        let servers = self
            .services
            .iter()
            .flat_map(|s| s.servers.iter().zip(&s.views));
        servers
            .map(|(rs, view)| (rs.name.as_str(), if rs.removed { 0 } else { view.weight }))
            .collect()
    }

    /// `ipvsadm -Z`: one service's counters and rates, or every service's.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), IpvsError> {
        let only = match key {
            Some(k) => Some(self.live_service(k, IpvsError::NoSuchService)?),
            None => None,
        };
        for (i, s) in self.services.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            s.traffic = Traffic::default();
            s.rates.zero(&s.traffic);
            for rs in &mut s.servers {
                rs.traffic = Traffic::default();
                rs.rates.zero(&rs.traffic);
            }
        }
        Ok(())
    }

    /// `ipvsadm --set tcp tcpfin udp` (0 leaves one as it is). Applies to entries as their
    /// state next changes or a packet refreshes them, as the kernel's do.
    pub fn set_timeouts(&mut self, t: Timeouts) {
        let cur = &mut self.timeouts;
        for (slot, v) in [
            (&mut cur.tcp, t.tcp),
            (&mut cur.tcpfin, t.tcpfin),
            (&mut cur.udp, t.udp),
        ] {
            if v != 0 {
                *slot = v;
            }
        }
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Moves the rate estimators on by whole 2-second ticks since the last one (several at
    /// once after a quiet spell, the growth counted in the first).
    pub fn estimate(&mut self, now: Instant) {
        let now_ms = ms(now);
        let mut ticks = 0;
        while self.next_estimate_ms <= now_ms && ticks < 32 {
            for s in &mut self.services {
                s.rates.tick(&s.traffic);
                for rs in &mut s.servers {
                    rs.rates.tick(&rs.traffic);
                }
            }
            self.next_estimate_ms += estimator::PERIOD_MS;
            ticks += 1;
        }
        if self.next_estimate_ms <= now_ms {
            self.next_estimate_ms = now_ms + estimator::PERIOD_MS;
        }
    }

    /// The table as a kernel reports it to ipvsadm; with `conns`, every connection entry too.
    pub fn ipvs_table(&mut self, now: Instant, conns: bool) -> IpvsTable {
        self.estimate(now);
        let now_ms = ms(now);
        let mut persistent: Vec<Vec<u32>> = self
            .services
            .iter()
            .map(|s| vec![0; s.servers.len()])
            .collect();
        let mut entries = Vec::new();
        for i in 0..self.conns.slots_used() {
            let Some(c) = self.conns.slot(i) else {
                continue;
            };
            let (svc, server) = (usize::from(c.service), usize::from(c.server));
            if c.is_template() {
                persistent[svc][server] += 1;
            }
            if conns {
                let view = &self.services[svc].views[server];
                entries.push(IpvsConn {
                    protocol: self.services[svc].protocol,
                    client: c.key.client,
                    client_port: c.key.client_port,
                    vip: c.key.vip,
                    vport: c.key.vport,
                    dest: view.addr,
                    dest_port: view.port,
                    state: if c.is_template() {
                        "NONE"
                    } else {
                        c.state.name()
                    }
                    .to_string(),
                    expires_s: c.expires_ms.saturating_sub(now_ms) / 1000,
                });
            }
        }
        let services = self
            .services
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.removed)
            .map(|(i, s)| IpvsService {
                key: ServiceKey {
                    protocol: s.protocol,
                    addr: s.vip,
                    port: s.port,
                },
                scheduler: s.scheduler_name().to_string(),
                persistence_s: (s.persistence_ms / 1000) as u32,
                netmask: Ipv4Addr::from(s.persistence_netmask),
                stats: IpvsStats::of(&s.traffic, &s.rates),
                dests: (0..s.servers.len())
                    .filter(|&j| {
                        let rs = &s.servers[j];
                        !rs.removed && (rs.name != SORRY || s.views[j].weight > 0)
                    })
                    .map(|j| IpvsDest {
                        addr: s.views[j].addr,
                        port: s.views[j].port,
                        forwarding: s.forwarding,
                        weight: s.views[j].weight,
                        active: s.views[j].active_conns,
                        inactive: s.views[j].inactive_conns,
                        persistent: persistent[i][j],
                        stats: IpvsStats::of(&s.servers[j].traffic, &s.servers[j].rates),
                    })
                    .collect(),
            })
            .collect();
        IpvsTable {
            version: IPVS_VERSION,
            size: u32::try_from(self.conns.capacity()).unwrap_or(u32::MAX),
            timeouts: self.timeouts,
            services,
            conns: entries,
        }
    }
}
