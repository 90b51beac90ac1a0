//! IPVS schedulers: which real server gets a new connection. Policy only: a scheduler sees
//! weights and connection counts, never packets, health or time.
//!
//! Each scheduler lives in its own file; [`build`] makes one from its IPVS name.
//! - [`rr`], [`wrr`]: round robin, plain and weighted (IPVS's interleaved walk).
//! - [`least_conn`]: `lc`, `wlc`, `sed`, `nq`, scored from the connection counts.
//! - [`bucket_hash`]: `sh`, `dh`: a 256-bucket table indexed by source or destination address.
//! - [`maglev`]: `mh`, Maglev consistent hashing on the source address.
//! - [`hash`]: the deterministic hash they share.
//!
//! Must not import the data plane, health checking, clocks or I/O.

pub mod bucket_hash;
pub mod hash;
pub mod least_conn;
pub mod maglev;
pub mod rr;
pub mod wrr;

pub use bucket_hash::{BucketHash, HashedAddr};
pub use least_conn::{LeastConn, LeastConnRule};
pub use maglev::Maglev;
pub use rr::RoundRobin;
pub use wrr::WeightedRoundRobin;

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

impl SchedulerKind {
    /// Every kind, in IPVS's documentation order.
    pub const ALL: [SchedulerKind; 9] = [
        Self::Rr,
        Self::Wrr,
        Self::Lc,
        Self::Wlc,
        Self::Sed,
        Self::Nq,
        Self::Sh,
        Self::Dh,
        Self::Mh,
    ];

    /// The IPVS name, as in configuration files.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rr => "rr",
            Self::Wrr => "wrr",
            Self::Lc => "lc",
            Self::Wlc => "wlc",
            Self::Sed => "sed",
            Self::Nq => "nq",
            Self::Sh => "sh",
            Self::Dh => "dh",
            Self::Mh => "mh",
        }
    }
}

/// Makes a scheduler of the given kind, already updated for `servers`.
pub fn build(kind: SchedulerKind, servers: &[ServerView]) -> Box<dyn Scheduler> {
    match kind {
        SchedulerKind::Rr => Box::new(RoundRobin::new()),
        SchedulerKind::Wrr => Box::new(WeightedRoundRobin::new(servers)),
        SchedulerKind::Lc => Box::new(LeastConn::new(LeastConnRule::Lc)),
        SchedulerKind::Wlc => Box::new(LeastConn::new(LeastConnRule::Wlc)),
        SchedulerKind::Sed => Box::new(LeastConn::new(LeastConnRule::Sed)),
        SchedulerKind::Nq => Box::new(LeastConn::new(LeastConnRule::Nq)),
        SchedulerKind::Sh => Box::new(BucketHash::new(HashedAddr::Source, servers)),
        SchedulerKind::Dh => Box::new(BucketHash::new(HashedAddr::Destination, servers)),
        SchedulerKind::Mh => Box::new(maglev(servers)),
    }
}

/// Makes the `mh` scheduler as its concrete type, for callers that also need
/// [`Maglev::lookup`] (placing a flow seen mid-stream without scheduling it).
pub fn maglev(servers: &[ServerView]) -> Maglev {
    Maglev::new(servers)
}

/// Builders shared by the schedulers' tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::{Flow, Scheduler, ServerView};
    use std::net::Ipv4Addr;

    /// Server 198.18.0.11:80 with this weight and these connection counts.
    pub fn server(weight: u32, active_conns: u32, inactive_conns: u32) -> ServerView {
        ServerView {
            addr: Ipv4Addr::new(198, 18, 0, 11),
            port: 80,
            weight,
            active_conns,
            inactive_conns,
        }
    }

    /// Idle servers 198.18.0.11:80, 198.18.0.12:80, ... with these weights.
    pub fn servers(weights: &[u32]) -> Vec<ServerView> {
        (weights.iter().enumerate())
            .map(|(i, &weight)| ServerView {
                addr: Ipv4Addr::from_bits(0xc612_000b + i as u32),
                ..server(weight, 0, 0)
            })
            .collect()
    }

    /// A TCP flow from client number `client` (198.19.0.0 + client) to 198.18.0.100:80.
    pub fn flow(client: u32) -> Flow {
        flow_to(client, Ipv4Addr::new(198, 18, 0, 100))
    }

    /// A TCP flow from client number `client` to `dst`:80.
    pub fn flow_to(client: u32, dst: Ipv4Addr) -> Flow {
        let src = Ipv4Addr::from_bits(0xc613_0000 + client);
        Flow {
            protocol: 6,
            src,
            src_port: 40_000 + (client % 20_000) as u16,
            dst,
            dst_port: 80,
        }
    }

    /// The next `count` picks of `sched`, all expected to succeed.
    pub fn picks(sched: &mut dyn Scheduler, servers: &[ServerView], count: u32) -> Vec<usize> {
        (0..count)
            .map(|i| sched.schedule(servers, &flow(i)).expect("a server"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{flow, servers};
    use super::*;

    #[test]
    fn build_names_match_the_config_names() {
        for kind in SchedulerKind::ALL {
            assert_eq!(build(kind, &servers(&[1])).name(), kind.name());
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.name()));
        }
    }

    #[test]
    fn every_kind_skips_quiescent_servers() {
        let s = servers(&[1, 0, 2, 0]);
        for kind in SchedulerKind::ALL {
            let mut sched = build(kind, &s);
            for client in 0..2000 {
                let pick = sched.schedule(&s, &flow(client));
                assert!(
                    matches!(pick, Some(0 | 2)),
                    "{} picked {pick:?}",
                    kind.name()
                );
            }
        }
    }

    #[test]
    fn every_kind_gives_none_when_all_quiescent_or_empty() {
        for kind in SchedulerKind::ALL {
            let zero = servers(&[0, 0, 0]);
            assert_eq!(
                build(kind, &zero).schedule(&zero, &flow(1)),
                None,
                "{}",
                kind.name()
            );
            assert_eq!(
                build(kind, &[]).schedule(&[], &flow(1)),
                None,
                "{}",
                kind.name()
            );
        }
    }

    #[test]
    fn every_kind_follows_an_update() {
        let before = servers(&[1, 1]);
        let after = servers(&[0, 1, 1]);
        for kind in SchedulerKind::ALL {
            let mut sched = build(kind, &before);
            sched.update(&after);
            for client in 0..500 {
                let pick = sched.schedule(&after, &flow(client));
                assert!(
                    matches!(pick, Some(1 | 2)),
                    "{} picked {pick:?}",
                    kind.name()
                );
            }
        }
    }
}
