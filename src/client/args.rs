//! Options of `tapvs client` and their checks (done once, before any socket is opened).

use crate::duration::parse as parse_duration;
use crate::server::datagram::MAX_DATAGRAM;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Arrival model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Fixed arrival schedule at `--rate`; latency from the intended start.
    Open,
    /// `--concurrency` workers, each sending its next request when the previous one finished.
    Closed,
}

/// Transport of the requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// HTTP/1.1 GETs over TCP.
    Tcp,
    /// One request datagram, one answer datagram (`crate::server::datagram`).
    Udp,
}

/// Most SYNs per second a flood may ask for.
pub const MAX_FLOOD_RATE: f64 = 2_000_000.0;

/// Response size of a UDP request when `--response-bytes` is not given.
pub const UDP_RESPONSE_BYTES: u64 = 100;

/// Connection handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnMode {
    /// A new TCP connection per request, with `Connection: close`.
    New,
    /// Connections carrying many requests (see `--requests-per-conn`).
    Keepalive,
}

/// Options of `tapvs client`.
#[derive(Debug, Clone, PartialEq, clap::Args)]
pub struct Args {
    /// The service to load, IP:PORT (e.g. 198.18.0.100:80).
    #[arg(long)]
    pub target: SocketAddr,
    /// Name of the load, recorded in the report.
    #[arg(long, default_value = "load")]
    pub load: String,
    /// Transport: HTTP over TCP, or the datagram exchange of `tapvs server --udp-listen`.
    #[arg(long, value_enum, default_value_t = Protocol::Tcp)]
    pub protocol: Protocol,
    /// Arrival model.
    #[arg(long, value_enum, default_value_t = Mode::Closed)]
    pub mode: Mode,
    /// Open loop: requests per second.
    #[arg(long, default_value_t = 100.0)]
    pub rate: f64,
    /// Closed loop: number of workers. Open loop: most requests in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: u32,
    /// Connection handling (TCP only: UDP refuses `keepalive`).
    #[arg(long, value_enum, default_value_t = ConnMode::New)]
    pub connection: ConnMode,
    /// Keep-alive: open a new connection after this many requests (0: never).
    #[arg(long, default_value_t = 0)]
    pub requests_per_conn: u64,
    /// Spread connections over this many consecutive source addresses...
    #[arg(long, default_value_t = 1)]
    pub clients: u32,
    /// ...starting at this one (bound with port 0 before connecting).
    #[arg(long, default_value = "198.19.0.1")]
    pub client_base: IpAddr,
    /// How long to send requests (ms, s or m: 500ms, 10s, 2m).
    #[arg(long, value_parser = parse_duration, default_value = "10s")]
    pub duration: Duration,
    /// Hard cap on the number of requests.
    #[arg(long, default_value_t = 10_000_000)]
    pub max_requests: u64,
    /// Path to request [default: /].
    #[arg(long, conflicts_with = "response_bytes")]
    pub path: Option<String>,
    /// TCP: request `/bytes/N` (a `tapvs server` route) instead of `--path`. UDP: the size of
    /// each answer datagram, at most 1400 [UDP default: 100].
    #[arg(long)]
    pub response_bytes: Option<u64>,
    /// Per request, from its intended start: connect and complete response.
    #[arg(long, value_parser = parse_duration, default_value = "2s")]
    pub timeout: Duration,
    /// Length of the report's intervals.
    #[arg(long, value_parser = parse_duration, default_value = "250ms")]
    pub interval: Duration,
    /// Write the report (JSON) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Sleep until this wall-clock time (ms since the Unix epoch) before starting.
    #[arg(long)]
    pub start_at_unix_ms: Option<u64>,
    /// Closed loop: pause this long after a failed request.
    #[arg(long, value_parser = parse_duration, default_value = "10ms")]
    pub error_backoff: Duration,
    /// Closed loop: pause this long after each successful request (think time). With
    /// `--connection keepalive` and `--requests-per-conn 0`, the workers' connections are then
    /// long-lived and mostly quiet, like users of an application.
    #[arg(long, value_parser = parse_duration, default_value = "0ms")]
    pub think: Duration,
    /// Send spoofed TCP SYNs instead of requests: `--rate` per second for `--duration`, at most
    /// `--max-requests`, from random sources of 198.19.128.0/17 (IPv4 only; needs root).
    #[arg(long)]
    pub syn_flood: bool,
}

/// An option that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{option}: {reason}")]
pub struct ArgError {
    pub option: &'static str,
    pub reason: String,
}

fn bad(option: &'static str, reason: impl Into<String>) -> Result<(), ArgError> {
    Err(ArgError {
        option,
        reason: reason.into(),
    })
}

impl Args {
    /// The request path: `--path`, `/bytes/N` for `--response-bytes N`, or `/`.
    pub fn request_path(&self) -> String {
        match (&self.path, self.response_bytes) {
            (Some(p), _) => p.clone(),
            (None, Some(n)) => format!("/bytes/{n}"),
            (None, None) => "/".to_owned(),
        }
    }

    /// UDP: the wanted size of each answer datagram.
    pub fn udp_response_bytes(&self) -> u64 {
        self.response_bytes.unwrap_or(UDP_RESPONSE_BYTES)
    }

    /// Checks the options together.
    pub fn check(&self) -> Result<(), ArgError> {
        if self.syn_flood {
            if !self.target.is_ipv4() || self.protocol != Protocol::Tcp {
                return bad("syn-flood", "floods IPv4 TCP targets only");
            }
            if !(self.rate.is_finite() && (1.0..=MAX_FLOOD_RATE).contains(&self.rate)) {
                return bad(
                    "rate",
                    format!("a SYN flood needs a rate of 1 – {MAX_FLOOD_RATE} SYNs/s"),
                );
            }
        }
        if self.protocol == Protocol::Udp {
            self.check_udp()?;
        }
        if self.mode == Mode::Open && !(self.rate.is_finite() && self.rate > 0.0) {
            return bad(
                "rate",
                format!("{} is not a positive request rate", self.rate),
            );
        }
        if !(1..=50_000).contains(&self.concurrency) {
            return bad("concurrency", "must be between 1 and 50000");
        }
        if self.clients == 0 {
            return bad("clients", "must be at least 1");
        }
        if self.client_base.is_ipv4() != self.target.is_ipv4() {
            return bad(
                "client-base",
                "must be of the same address family as --target",
            );
        }
        if nth_addr(self.client_base, u64::from(self.clients) - 1).is_none() {
            return bad(
                "clients",
                format!(
                    "{} addresses from {} run past the end",
                    self.clients, self.client_base
                ),
            );
        }
        if self.duration.is_zero() {
            return bad("duration", "must be positive");
        }
        if self.timeout.is_zero() {
            return bad("timeout", "must be positive");
        }
        if self.interval < Duration::from_millis(1) || self.duration / 1_000_000 > self.interval {
            return bad(
                "interval",
                "must be at least 1ms and split --duration into at most 1000000 intervals",
            );
        }
        let path = self.request_path();
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return bad(
                "path",
                format!("{path:?} must start with / and hold visible ASCII only"),
            );
        }
        Ok(())
    }
}

impl Args {
    /// UDP has no connections to keep and no paths: refuse options that would mean nothing.
    /// (`--requests-per-conn` only matters with `keepalive`, so it is ignored like with `new`.)
    fn check_udp(&self) -> Result<(), ArgError> {
        if self.connection == ConnMode::Keepalive {
            return bad(
                "connection",
                "keepalive is for TCP: UDP requests are single datagrams",
            );
        }
        if self.path.is_some() {
            return bad("path", "UDP requests have no path");
        }
        if self.udp_response_bytes() > MAX_DATAGRAM as u64 {
            return bad(
                "response-bytes",
                format!("at most {MAX_DATAGRAM} with UDP (one unfragmented datagram)"),
            );
        }
        Ok(())
    }
}

/// The address `n` after `base`, if it exists.
pub fn nth_addr(base: IpAddr, n: u64) -> Option<IpAddr> {
    match base {
        IpAddr::V4(a) => {
            let v = u32::from(a).checked_add(u32::try_from(n).ok()?)?;
            Some(IpAddr::V4(Ipv4Addr::from(v)))
        }
        IpAddr::V6(a) => Some(IpAddr::V6(Ipv6Addr::from(
            u128::from(a).checked_add(u128::from(n))?,
        ))),
    }
}
