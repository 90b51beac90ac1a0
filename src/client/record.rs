//! Aggregation of request outcomes into the intervals of a [`ClientReport`]. Pure: no clock, no I/O.
//!
//! Each outcome lands in the interval in which the request was intended (open loop) or started
//! (closed loop). Latencies go into one HdrHistogram per interval (2 significant digits, made on
//! first use) and one for the whole run (3 digits), in microseconds.

use crate::metrics::{ClientReport, Interval, Latency};
use hdrhistogram::Histogram;
use std::io;
use std::time::Duration;

/// Why a request failed, as named in the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection was refused (RST to the SYN).
    Refused,
    /// The connection was reset or broken while in use.
    Reset,
    /// No complete response within the timeout (connect included).
    Timeout,
    /// A complete response with a status other than 2xx.
    Http,
    /// The connection closed before the full response arrived.
    Short,
    /// Anything else: unparsable response, no route, no source port left...
    Other,
}

impl ErrorKind {
    const ALL: [Self; 6] = [
        Self::Refused,
        Self::Reset,
        Self::Timeout,
        Self::Http,
        Self::Short,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refused => "refused",
            Self::Reset => "reset",
            Self::Timeout => "timeout",
            Self::Http => "http",
            Self::Short => "short",
            Self::Other => "other",
        }
    }

    /// The kind of a socket error.
    pub fn of_io(e: &io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Self::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => Self::Reset,
            io::ErrorKind::TimedOut => Self::Timeout,
            io::ErrorKind::UnexpectedEof => Self::Short,
            _ => Self::Other,
        }
    }
}

/// What became of one request.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// When the request was intended (or started), since the load start.
    pub at: Duration,
    /// From `at` to the complete response; used for successful requests only.
    pub latency: Duration,
    pub error: Option<ErrorKind>,
    /// Response bytes (head and body).
    pub response_bytes: u64,
    /// Request bytes written.
    pub request_bytes: u64,
    /// Whether the request opened a new connection (the connect succeeded).
    pub new_conn: bool,
    /// It failed on a connection that had served requests before (a broken connection).
    pub broken: bool,
    /// The `X-Server` of the response, `?` when absent.
    pub server: &'a str,
}

/// One interval being filled.
#[derive(Debug, Default)]
struct Slot {
    counts: Interval,
    errors: [u64; ErrorKind::ALL.len()],
    latency: Option<Histogram<u64>>,
    /// Exact, unlike the histogram's highest equivalent value.
    max_us: u64,
}

impl Slot {
    fn add(&mut self, o: &Outcome<'_>, sigfig: u8) {
        let c = &mut self.counts;
        c.request_bytes += o.request_bytes;
        c.new_conns += u64::from(o.new_conn);
        if let Some(kind) = o.error {
            c.failed += 1;
            c.broken_conns += u64::from(o.broken);
            self.errors[kind as usize] += 1;
            if o.broken {
                // The server that answered on the connection before it broke.
                let server = match c.servers.get_mut(o.server) {
                    Some(s) => s,
                    None => c.servers.entry(o.server.to_owned()).or_default(),
                };
                server.broken_conns += 1;
            }
            return;
        }
        c.ok += 1;
        c.bytes += o.response_bytes;
        let server = match c.servers.get_mut(o.server) {
            Some(s) => s,
            None => c.servers.entry(o.server.to_owned()).or_default(),
        };
        server.requests += 1;
        server.new_conns += u64::from(o.new_conn);
        let us = u64::try_from(o.latency.as_micros()).unwrap_or(u64::MAX);
        self.max_us = self.max_us.max(us);
        self.latency
            .get_or_insert_with(|| histogram(sigfig))
            .saturating_record(us);
    }

    fn finish(mut self, start: Duration) -> Interval {
        self.counts.start_ms = u64::try_from(start.as_millis()).unwrap_or(u64::MAX);
        for (kind, &n) in ErrorKind::ALL.iter().zip(&self.errors) {
            if n > 0 {
                self.counts.errors.insert(kind.as_str().to_owned(), n);
            }
        }
        if let Some(h) = &self.latency {
            // Quantiles are bucket tops: never above the exact maximum.
            let q = |q| h.value_at_quantile(q).min(self.max_us);
            self.counts.latency = Latency {
                p50_us: q(0.50),
                p90_us: q(0.90),
                p99_us: q(0.99),
                p999_us: q(0.999),
                max_us: self.max_us,
            };
        }
        self.counts
    }
}

/// A histogram from 1 µs that grows past 60 s when needed.
fn histogram(sigfig: u8) -> Histogram<u64> {
    let mut h =
        Histogram::new_with_bounds(1, 60_000_000, sigfig).expect("constant bounds are valid");
    h.auto(true);
    h
}

/// Collects outcomes of a run of known length.
#[derive(Debug)]
pub struct Recorder {
    interval: Duration,
    slots: Vec<Slot>,
    total: Slot,
}

impl Recorder {
    /// A recorder with `ceil(duration / interval)` intervals (at least one). `interval` > 0.
    pub fn new(duration: Duration, interval: Duration) -> Self {
        let n = duration
            .as_nanos()
            .div_ceil(interval.as_nanos().max(1))
            .max(1);
        let slots = (0..n).map(|_| Slot::default()).collect();
        Self {
            interval,
            slots,
            total: Slot::default(),
        }
    }

    pub fn record(&mut self, o: &Outcome<'_>) {
        let last = self.slots.len() - 1;
        let i = (o.at.as_nanos() / self.interval.as_nanos().max(1)).min(last as u128);
        // At most `last`, so the cast is exact.
        self.slots[i as usize].add(o, 2);
        self.total.add(o, 3);
        if o.error.is_none() {
            let done = (o.at + o.latency).as_nanos() / self.interval.as_nanos().max(1);
            // A response after the last interval still counts in the last one.
            self.slots[done.min(last as u128) as usize]
                .counts
                .completed_ok += 1;
            self.total.counts.completed_ok += 1;
        }
    }

    /// The report: every interval, empty ones included, and the total.
    pub fn finish(self, load: &str, started_unix_ms: u64) -> ClientReport {
        let interval = self.interval;
        let intervals = self
            .slots
            .into_iter()
            .zip(0u32..)
            .map(|(s, i)| s.finish(interval * i))
            .collect();
        ClientReport {
            load: load.to_owned(),
            started_unix_ms,
            interval_ms: u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            intervals,
            total: self.total.finish(Duration::ZERO),
            stray_responses: 0,
            flood: None,
        }
    }
}

#[cfg(test)]
mod tests;
