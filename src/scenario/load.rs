//! `[[load]]`: the load generators (open or closed loop, new or keep-alive connections, SYN
//! floods).

use super::serde_glue::duration_field;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One load generator process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    pub name: String,
    /// `open` (fixed arrival rate) or `closed` (fixed concurrency).
    pub mode: LoadMode,
    /// Requests per second (open loop).
    #[serde(default)]
    pub rate: u32,
    /// Workers (closed loop) or most requests in flight (open loop).
    #[serde(default = "default_concurrency")]
    pub concurrency: u32,
    /// `new` connection per request or `keepalive`.
    #[serde(default = "default_connection")]
    pub connection: ConnectionMode,
    /// Keep-alive: requests per connection before reopening (0 = never).
    #[serde(default)]
    pub requests_per_conn: u32,
    /// Distinct client addresses (from 198.19.0.0/16).
    #[serde(default = "default_clients")]
    pub clients: u32,
    #[serde(with = "duration_field")]
    pub duration: Duration,
    /// Delay from the load start.
    #[serde(default, with = "duration_field")]
    pub start: Duration,
    #[serde(default = "default_response_bytes")]
    pub response_bytes: u64,
    #[serde(default = "default_timeout", with = "duration_field")]
    pub timeout: Duration,
    /// Closed loop: pause after each successful request. With `keepalive` and
    /// `requests_per_conn = 0`, `concurrency` long-lived, mostly quiet connections.
    #[serde(default, with = "duration_field")]
    pub think: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoadMode {
    Open,
    Closed,
    /// Spoofed TCP SYNs at `rate` per second from 198.19.128.0/17 (`tapvs client --syn-flood`).
    #[serde(rename = "syn_flood")]
    SynFlood,
}

fn default_connection() -> ConnectionMode {
    ConnectionMode::New
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionMode {
    New,
    Keepalive,
}

fn default_concurrency() -> u32 {
    64
}
fn default_clients() -> u32 {
    1000
}
fn default_response_bytes() -> u64 {
    10_000
}
fn default_timeout() -> Duration {
    Duration::from_secs(2)
}
