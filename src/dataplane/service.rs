//! Virtual services at run time: their real servers, weights, connection counts, counters and
//! scheduler. Weight changes come from outside (control socket, health checks later); the
//! scheduler sees only the resulting views.

use super::counters::Traffic;
use super::estimator::Estimator;
use super::settings::{Forwarding, Protocol, ServiceConfig};
use crate::sched::{self, Flow, Scheduler, ServerView};
use std::net::Ipv4Addr;

/// The name of a service's sorry server in the table and the statistics.
pub const SORRY: &str = "sorry";

/// One real server of a service.
#[derive(Debug, Clone)]
pub struct RealServer {
    pub name: String,
    /// The administrator's weight: configured at start, changed by `ipvsadm -e -w`; what a
    /// health check gives back when the server comes up.
    pub configured_weight: u32,
    /// Index of its entry in the neighbour table.
    pub neighbour: usize,
    pub traffic: Traffic,
    /// Deleted (`ipvsadm -d`): weight 0, not listed; its connections run out as IPVS's do
    /// with `expire_nodest_conn` off. Its index stays (connections and sync refer to it).
    pub removed: bool,
    /// Held at weight 0 by a health check until it passes again.
    pub health_down: bool,
    /// Its rates (`ipvsadm --rate`).
    pub rates: Estimator,
}

/// One virtual service.
pub struct Service {
    pub vip: Ipv4Addr,
    pub port: u16,
    pub protocol: Protocol,
    pub forwarding: Forwarding,
    /// Persistence timeout in milliseconds; 0 = off.
    pub persistence_ms: u64,
    pub persistence_netmask: u32,
    pub servers: Vec<RealServer>,
    /// What the scheduler sees, index for index with `servers`.
    pub views: Vec<ServerView>,
    scheduler: Box<dyn Scheduler>,
    pub traffic: Traffic,
    /// Deleted (`ipvsadm -D`): no new connection, not listed; its entries run out. Adding
    /// the same VIP:port again brings this slot back.
    pub removed: bool,
    /// Its rates (`ipvsadm --rate`).
    pub rates: Estimator,
}

impl Service {
    /// Builds a service; `neighbour_of` registers a real server's address in the neighbour table.
    /// The sorry server, if any, comes last, named [`SORRY`], at weight 0 (health checks give
    /// it weight while no real server is up).
    pub fn new(config: &ServiceConfig, mut neighbour_of: impl FnMut(Ipv4Addr) -> usize) -> Self {
        let sorry = config.sorry_server.map(|s| (SORRY, s.address, s.port, 0));
        let all: Vec<(&str, Ipv4Addr, u16, u32)> = config
            .real_servers
            .iter()
            .map(|rs| (rs.name.as_str(), rs.address, rs.port, rs.weight))
            .chain(sorry)
            .collect();
        let views: Vec<ServerView> = all
            .iter()
            .map(|&(_, addr, port, weight)| ServerView {
                addr,
                port,
                weight,
                active_conns: 0,
                inactive_conns: 0,
            })
            .collect();
        let servers = all
            .iter()
            .map(|&(name, addr, _, weight)| RealServer {
                name: name.to_string(),
                configured_weight: weight,
                neighbour: neighbour_of(addr),
                traffic: Traffic::default(),
                removed: false,
                health_down: false,
                rates: Estimator::default(),
            })
            .collect();
        Service {
            vip: config.vip,
            port: config.port,
            protocol: config.protocol,
            forwarding: config.forwarding,
            persistence_ms: config.persistence_s as u64 * 1000,
            persistence_netmask: u32::from(config.persistence_netmask),
            scheduler: sched::build(config.scheduler, &views),
            servers,
            views,
            traffic: Traffic::default(),
            removed: false,
            rates: Estimator::default(),
        }
    }

    /// Replaces the scheduler (`ipvsadm -E -s`); it starts from the current servers.
    pub fn set_scheduler(&mut self, kind: sched::SchedulerKind) {
        self.scheduler = sched::build(kind, &self.views);
    }

    /// Adds a real server at the end (after the sorry server, whose index stays); returns
    /// its index.
    pub fn push_server(&mut self, server: RealServer, view: ServerView) -> usize {
        self.servers.push(server);
        self.views.push(view);
        self.scheduler.update(&self.views);
        self.servers.len() - 1
    }

    /// Asks the scheduler for a server for a new connection.
    #[inline]
    pub fn schedule(&mut self, flow: &Flow) -> Option<usize> {
        self.scheduler.schedule(&self.views, flow)
    }

    /// The scheduler's IPVS name.
    pub fn scheduler_name(&self) -> &'static str {
        self.scheduler.name()
    }

    /// Changes a server's weight (0 = quiescent) and lets the scheduler rebuild.
    pub fn set_weight(&mut self, server: usize, weight: u32) {
        self.views[server].weight = weight;
        self.scheduler.update(&self.views);
    }

    /// Moves one connection of `server` between the active and inactive counts, or adds
    /// (`delta` = 1) / removes (`delta` = -1) it.
    #[inline]
    pub fn count_conn(&mut self, server: usize, active: bool, delta: i32) {
        let v = &mut self.views[server];
        let c = if active {
            &mut v.active_conns
        } else {
            &mut v.inactive_conns
        };
        *c = c.saturating_add_signed(delta);
    }
}
