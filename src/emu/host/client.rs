//! [`SimClient`]: the load generator of an emulated lab, on smoltcp TCP from many source
//! addresses, recording every outcome into the real client's [`Recorder`] (so the same
//! [`ClientReport`] and metrics come out). The timing is `tapvs client`'s (see
//! `src/client/load.rs`): open loop, request i intended at `start + i / rate` and claimed by a
//! free worker, its latency and timeout counted from then; closed loop, each worker sending
//! after the previous answer plus the think time, or the error backoff. The load ends after
//! `max_requests` or at `start + duration`, and every request ends by its timeout.
//!
//! With `protocol = udp` the exchange is `tapvs client --protocol udp`'s ([`super::datagram`]):
//! the same workers and timing, one UDP socket per source address. Either way a step looks
//! only at the workers whose socket was polled or whose deadline came (a heap of deadlines).
//! This file builds the client and times its arrivals; [`requests`] runs the requests.
//!
//! Many addresses on one interface: smoltcp 0.14 holds at most 8 addresses per interface (2
//! as built here), so the interface runs with AnyIP and the host's filter accepts exactly the
//! source addresses ([`Sources`]), sorted and binary-searched.

use super::buffers::TcpBuffers;
use super::datagram::Datagrams;
use super::deadlines::Deadlines;
use super::exchange::{Done, Worker};
use super::idle::Idle;
use super::load::{ClientConfig, Pacing, Sources};
use super::stack::{Addresses, Counters, Stack};
use crate::client::Protocol;
use crate::client::record::Recorder;
use crate::emu::Node;
use crate::metrics::ClientReport;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpEndpoint, Ipv4Address};

mod requests;

/// The source ports a connection takes one of (Linux's default `ip_local_port_range`).
const FIRST_PORT: u32 = 32768;
const PORT_COUNT: u32 = 61000 - FIRST_PORT;

struct Addrs {
    own: Ipv4Address,
    /// The source addresses as big-endian integers, sorted (as the addresses sort).
    sources: Vec<u32>,
}

impl Addresses for Addrs {
    fn accepts(&self, dst: Ipv4Address) -> bool {
        dst == self.own || self.sources.binary_search(&u32::from(dst)).is_ok()
    }
    fn answers_arp(&self, target: Ipv4Address) -> bool {
        self.accepts(target)
    }
}

/// A simulated load generator on one port of the fabric (port 0).
pub struct SimClient {
    stack: Stack,
    addrs: Addrs,
    /// The source addresses in the configured order.
    order: Vec<Ipv4Address>,
    config: ClientConfig,
    workers: Vec<Worker>,
    /// The requests with and without `Connection: close`.
    requests: (Vec<u8>, Vec<u8>),
    /// Requests claimed so far (the next open-loop arrival's index).
    claimed: u64,
    conns: u64,
    /// Where the source ports start (drawn from the seed, like the kernel's random offset).
    port_offset: u32,
    recorder: Option<Recorder>,
    /// UDP: the sockets and the requests waiting for answers.
    udp: Option<Datagrams>,
    /// Requests that ended in this step (UDP), reused.
    ended: Vec<(usize, Done)>,
    /// Requests ok and failed so far.
    tally: (u64, u64),
    /// The workers' deadlines.
    deadlines: Deadlines,
    /// The workers to step now (their socket was polled, or their deadline came), reused.
    due: Vec<usize>,
    /// The free workers.
    idle: Idle,
}

impl SimClient {
    /// A client with each connection's buffers at [`TcpBuffers::CLIENT`].
    pub fn new(config: ClientConfig) -> Self {
        Self::with_buffers(config, TcpBuffers::CLIENT)
    }

    /// A client whose connections have buffers of `buffers` (sized to its messages).
    pub fn with_buffers(config: ClientConfig, buffers: TcpBuffers) -> Self {
        let mut stack = Stack::new(config.mac, config.addr, config.gateway, config.seed);
        let order: Vec<Ipv4Address> = match &config.sources {
            Sources::Range { first, count } => (0..*count)
                .filter_map(|i| u32::from(*first).checked_add(i).map(Ipv4Address::from))
                .collect(),
            Sources::List(list) => list.clone(),
        };
        let mut sorted = order.clone();
        sorted.sort_unstable();
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let port_offset = rng.random_range(0..PORT_COUNT);
        let udp = (config.protocol == Protocol::Udp).then(|| {
            // Below 61000, so the cast is exact.
            let port = |_| (FIRST_PORT + rng.random_range(0..PORT_COUNT)) as u16;
            let target = IpEndpoint::new(config.target.0.into(), config.target.1);
            let (wanted, n) = (config.udp_response_bytes, config.concurrency);
            Datagrams::new(&mut stack, &order, port, target, wanted, n)
        });
        let workers: Vec<Worker> = (0..config.concurrency.max(1))
            .map(|_| {
                if udp.is_some() {
                    let mut w = Worker::new(None, 0);
                    w.not_before = config.start;
                    return w;
                }
                let mut sock = buffers.socket();
                super::acks::like_linux(&mut sock);
                let mut w = Worker::new(Some(stack.add_tcp(sock)), buffers.read);
                w.not_before = config.start;
                w
            })
            .collect();
        let host = config.target.0.to_string();
        let requests = (
            crate::client::http::request(&config.path, &host, true),
            crate::client::http::request(&config.path, &host, config.requests_per_conn == 1),
        );
        let to_std = |d: Duration| std::time::Duration::from_micros(d.total_micros());
        let recorder = Recorder::new(to_std(config.duration), to_std(config.interval));
        let mut client = Self {
            stack,
            addrs: Addrs {
                own: config.addr.address(),
                sources: sorted.iter().map(|&a| u32::from(a)).collect(),
            },
            order,
            port_offset,
            ended: Vec::with_capacity(workers.len()),
            config,
            workers,
            requests,
            claimed: 0,
            conns: 0,
            recorder: Some(recorder),
            udp,
            tally: (0, 0),
            deadlines: Deadlines::default(),
            due: Vec::new(),
            idle: Idle::default(),
        };
        for i in 0..client.workers.len() {
            client.idle.file(i, client.config.start);
        }
        client
    }

    /// Requests ok and failed so far (a progress line's figures).
    pub fn tally(&self) -> (u64, u64) {
        self.tally
    }

    /// UDP: datagrams that answered no waiting request, and requests lost to a full socket.
    pub fn udp_counters(&self) -> (u64, u64) {
        self.udp.as_ref().map_or((0, 0), |u| (u.stray, u.lost))
    }

    /// The filter's and the interface's frame counters.
    pub fn counters(&self) -> Counters {
        self.stack.counters
    }

    /// Whether the load is over: nothing more to send, nothing in flight.
    pub fn is_done(&self) -> bool {
        self.next_arrival().is_none() && self.workers.iter().all(|w| w.deadline().is_none())
    }

    /// The report so far (every interval, and the total); `None` once taken.
    pub fn take_report(&mut self) -> Option<ClientReport> {
        let recorder = self.recorder.take()?;
        let mut report = recorder.finish(&self.config.load, 0);
        report.stray_responses = self.udp_counters().0;
        Some(report)
    }

    /// When the next request is intended, if the load has one left.
    fn next_arrival(&self) -> Option<Instant> {
        let c = &self.config;
        if self.claimed >= c.max_requests {
            return None;
        }
        let at = match c.pacing {
            // Microseconds: the cast rounds down to a whole one.
            Pacing::Open { rate } => {
                // No rate, no arrival; past the duration, none either (and no overflow).
                let us = self.claimed as f64 * 1e6 / rate;
                if rate.is_nan() || rate <= 0.0 || us >= c.duration.total_micros() as f64 {
                    return None;
                }
                c.start + Duration::from_micros(us as u64)
            }
            // A worker starts no request once the load's time is over.
            Pacing::Closed { .. } => c.start.max(self.stack.now),
        };
        (at < c.start + c.duration).then_some(at)
    }

    /// When a free worker next takes a request.
    fn next_start(&mut self) -> Option<Instant> {
        let at = self.next_arrival()?;
        let workers = &self.workers;
        let valid = |i: usize, t| workers[i].is_free() && workers[i].not_before == t;
        // A worker already free has `not_before` by the arrival (it would have taken it).
        let ready = self.idle.first(valid)?;
        Some(at.max(ready))
    }
}

impl Node for SimClient {
    fn handle_frame(&mut self, now: Instant, _port: usize, frame: &mut [u8]) -> Option<usize> {
        self.stack.input(now, frame, &self.addrs);
        self.step(now);
        self.stack.poll(now);
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.stack.poll(now);
        self.step(now);
        self.stack.poll(now);
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.stack.transmit(buf).map(|len| (0, len))
    }

    fn next_frame_len(&self) -> Option<usize> {
        self.stack.next_len()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        let times = [
            self.stack.poll_at(),
            self.next_start(),
            self.first_deadline(),
        ];
        times.into_iter().flatten().min()
    }
}
