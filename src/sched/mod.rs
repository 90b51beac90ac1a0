//! IPVS schedulers: which real server gets a new connection. Policy only: a scheduler sees
//! weights and connection counts, never packets, health or time.
//!
//! Each scheduler lives in its own file; [`build`] makes one from its IPVS name.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// What a scheduler may know about one real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerView {
    /// Stable identity used by hashing schedulers (sh, dh, mh): address and port of the server,
    /// so two directors with the same servers hash the same way.
    pub addr: Ipv4Addr,
    pub port: u16,
    /// Configured weight; 0 = quiescent (no new connections).
    pub weight: u32,
    /// Connections in ESTABLISHED state.
    pub active_conns: u32,
    /// Connections in any other state.
    pub inactive_conns: u32,
}

/// The parts of a new connection a scheduler may hash on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    pub protocol: u8,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
}

/// A scheduling algorithm.
pub trait Scheduler: Send {
    /// The server set or a weight changed; rebuild whatever tables depend on them.
    /// Not called for connection-count changes. May allocate.
    fn update(&mut self, servers: &[ServerView]);
    /// Picks the index of a server for a new connection, or `None` when no server may take one
    /// (all quiescent). Must not allocate.
    fn schedule(&mut self, servers: &[ServerView], flow: &Flow) -> Option<usize>;
    /// The IPVS name (`rr`, `wlc`, ...).
    fn name(&self) -> &'static str;
}

/// The IPVS scheduler names tapvs implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerKind {
    Rr,
    Wrr,
    Lc,
    Wlc,
    Sed,
    Nq,
    Sh,
    Dh,
    Mh,
}

/// Makes a scheduler of the given kind, already updated for `servers`.
pub fn build(kind: SchedulerKind, servers: &[ServerView]) -> Box<dyn Scheduler> {
    let _ = (kind, servers);
    todo!("schedulers")
}
