//! Records handed between processes: what a load generator observed, per interval.
//!
//! The client writes a [`ClientReport`] as JSON; the runner reads it, merges the reports of
//! several clients, and derives the run's metrics. Pure data: no I/O here.
//!
//! [`registry`] names every metric a run reports (entries in [`catalogue`]).

pub mod catalogue;
pub mod histogram;
pub mod registry;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Latency percentiles of one interval (or of a whole run), in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    /// The 99.9th percentile (absent in reports written before it was recorded).
    #[serde(default)]
    pub p999_us: u64,
    pub max_us: u64,
}

/// What one real server did for one client in one interval, as the client saw it
/// (the server names itself in the `X-Server` response header).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerCounts {
    /// Requests answered by this server.
    pub requests: u64,
    /// Of those, requests that were the first on a new TCP connection (UDP: the first request
    /// of a client socket that got an answer, see `client::udp`).
    pub new_conns: u64,
    /// Keep-alive connections to this server (the last one that answered on them) that broke.
    #[serde(default)]
    pub broken_conns: u64,
}

/// The outcomes of all requests that *started* in one interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Start of the interval, milliseconds since the client's load start.
    pub start_ms: u64,
    /// Requests that got a complete, valid response.
    pub ok: u64,
    /// Requests that failed, whatever the reason.
    pub failed: u64,
    /// Failed requests by error kind: `refused`, `reset`, `timeout`, `http`, `short`, `other`.
    pub errors: BTreeMap<String, u64>,
    /// Response bytes received (headers and body) by successful requests.
    pub bytes: u64,
    /// Request bytes sent (headers) by all requests.
    pub request_bytes: u64,
    /// Requests that opened a new connection (UDP: the first answered request of each client
    /// socket).
    pub new_conns: u64,
    /// Latency of successful requests, from their *intended* start (no coordinated omission).
    pub latency: Latency,
    /// Successful requests per real server name.
    pub servers: BTreeMap<String, ServerCounts>,
    /// Successful requests whose response *completed* in this interval (whenever they
    /// started): a run of intervals with none is time in which clients got nothing.
    #[serde(default)]
    pub completed_ok: u64,
    /// Keep-alive connections that had served requests and then failed one (reset, timeout,
    /// bad answer): long-lived connections broken.
    #[serde(default)]
    pub broken_conns: u64,
}

/// Everything one `tapvs client` process observed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// The name of the load in the scenario.
    pub load: String,
    /// Wall-clock time of the load start, milliseconds since the Unix epoch.
    pub started_unix_ms: u64,
    /// Length of each interval in milliseconds.
    pub interval_ms: u64,
    /// One entry per interval, in order, covering the whole run.
    pub intervals: Vec<Interval>,
    /// The whole run as one interval (latency percentiles over all requests).
    pub total: Interval,
    /// UDP: datagrams received that answered no waiting request (late, unknown or unreadable
    /// sequence number, or from another address than the target); dropped. Absent when 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stray_responses: u64,
    /// A spoofed-SYN flood (`tapvs client --syn-flood`): what it sent. Its intervals hold no
    /// requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flood: Option<FloodReport>,
}

/// What a spoofed-SYN flood actually sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FloodReport {
    /// SYNs the kernel took.
    pub sent: u64,
    /// SYNs the kernel refused (a full queue: `ENOBUFS`).
    pub send_errors: u64,
    /// From the first send to the end, in milliseconds.
    pub elapsed_ms: u64,
    /// `sent` per second of `elapsed_ms`, and the rate asked for.
    pub rate_achieved: f64,
    pub rate_wanted: f64,
    /// SYNs sent per interval (the report's `interval_ms`).
    pub per_interval: Vec<u64>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}
