//! tapvs: a userspace IPVS-style L4 load balancer on TAP devices, and the lab that measures it.
//!
//! # Layout
//! - [`wire`]: packet views (smoltcp's) plus the small helpers smoltcp lacks.
//! - [`sched`]: IPVS schedulers behind one trait (rr, wrr, lc, wlc, sed, nq, sh, dh, mh).
//! - [`dataplane`]: the sans-IO balancer: ARP, neighbour table, connection tracking, DR rewrite.
//!   Frames and `now` in; frames, events and the next deadline out. No clock, no I/O.
//! - [`control`]: sans-IO control-plane state machines: VRRPv3 master election (keepalived).
//! - [`config`]: the director's configuration file.
//! - [`io`]: the only code that makes syscalls for frames: the TAP driver, the fault injector.
//! - [`impairment`]: `tapvs wire`, an impaired link between two TAPs, and its records.
//! - [`ipvsadm`]: `tapvs ipvsadm`, ipvsadm 1.31's command line and output against a director.
//! - [`director`]: the `tapvs director` process: TAP + data plane + host stack + control socket.
//! - [`server`]: `tapvs server`, the built-in real server: HTTP/1.1, and UDP request/response.
//! - [`sync`]: connection-table sync master → backup (IPVS sync v1 + sequence, ack, bulk, refresh).
//! - [`health`]: sans-IO health checks of real servers: when to check, hysteresis, weights.
//! - [`client`]: `tapvs client`, the bounded load generator.
//! - [`metrics`]: the records the client and director hand to the runner, and the one metric
//!   registry (every metric's name, unit, meaning and aggregation).
//! - [`duration`]: durations as written in scenario files and on command lines (`250ms`, `10s`).
//! - [`probe`]: `tapvs probe`, asks a director's status port for its status line.
//! - [`spoof`]: `tapvs spoof vrrp`, a bounded sender of forged VRRP adverts (lab only).
//! - [`scenario`]: scenario files: parsing and validation before anything is built.
//! - [`lab`]: network namespaces, bridges, veth and TAPs; teardown and `lab clean`.
//! - [`run`]: `tapvs run`: lab + processes + load + timeline + expectations.
//! - [`results`]: CSV files and plots of a run.

pub mod bench;
pub mod client;
pub mod config;
pub mod control;
pub mod dataplane;
pub mod director;
pub mod duration;
pub mod emu;
pub mod file_error;
pub mod health;
pub mod http1;
pub mod impairment;
pub mod io;
pub mod ipvsadm;
pub mod lab;
pub mod ldirectord;
pub mod metrics;
pub mod node;
pub mod probe;
pub mod results;
pub mod run;
pub mod scenario;
pub mod sched;
pub mod server;
pub mod sockopt;
pub mod spoof;
pub mod sync;
pub mod wire;

/// Wall-clock milliseconds since the Unix epoch: the time base the processes of a run (client,
/// directors, runner) share in their logs and reports.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
