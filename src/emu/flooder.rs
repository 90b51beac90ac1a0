//! What `tapvs client --syn-flood` does (`src/client/flood.rs`), as an emulated host on one
//! port (0): SYN k (k = 1, 2, ...) leaves at `start + k / rate`, like the real token bucket,
//! while k ≤ `max_packets` and before `start + duration`; from a random source of its range
//! and a random port above 1023 (the real generator's draws from the same seed), to the
//! target, through its gateway's MAC (the engine knows it: the client namespace has it
//! resolved). It answers ARP for its own address and drops everything else it gets (the
//! spoofed sources are absent hosts). [`Flooder::report`] is the real one's [`ClientReport`].

use super::Node;
use super::arp;
use crate::client::flood::write_syn;
use crate::metrics::{ClientReport, FloodReport, Interval};
use crate::wire::Ipv4Packet;
use crate::wire::{ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::{Duration, Instant};
use std::net::{Ipv4Addr, SocketAddrV4};

/// How a flooder is set up.
#[derive(Debug, Clone)]
pub struct FlooderConfig {
    pub load: String,
    pub mac: EthernetAddress,
    /// Its own address on the client segment (answers ARP for it).
    pub addr: Ipv4Addr,
    pub gateway_mac: EthernetAddress,
    /// The spoofed sources: `count` addresses from `first` (the lab: 198.19.128.1, 32766).
    pub first: Ipv4Addr,
    pub count: u32,
    pub target: SocketAddrV4,
    /// SYNs per second (positive).
    pub rate: f64,
    pub start: Instant,
    pub duration: Duration,
    pub max_packets: u64,
    pub interval: Duration,
    pub seed: u64,
}

/// The flooding host.
pub struct Flooder {
    config: FlooderConfig,
    rng: ChaCha8Rng,
    /// SYNs due and not yet written, and SYNs written.
    due: u64,
    sent: u64,
    last_sent: Option<Instant>,
    /// When the next SYN falls due ([`Flooder::time_of`] of `sent + due + 1`, which only
    /// [`Node::handle_timeout`] moves).
    next_due: Option<Instant>,
    per_interval: Vec<u64>,
    arp_reply: Option<arp::Arp>,
    /// Frames received and dropped.
    pub dropped: u64,
}

impl Flooder {
    pub fn new(config: FlooderConfig) -> Flooder {
        let intervals = config
            .duration
            .total_micros()
            .div_ceil(config.interval.total_micros().max(1));
        let mut flooder = Flooder {
            rng: ChaCha8Rng::seed_from_u64(config.seed),
            due: 0,
            sent: 0,
            last_sent: None,
            next_due: None,
            per_interval: vec![0; (intervals as usize).max(1)],
            arp_reply: None,
            dropped: 0,
            config,
        };
        flooder.next_due = flooder.time_of(1);
        flooder
    }

    /// When SYN `k` (1-based) leaves, if it does at all.
    fn time_of(&self, k: u64) -> Option<Instant> {
        let c = &self.config;
        if k > c.max_packets || c.rate <= 0.0 || c.count == 0 {
            return None;
        }
        let offset = (k as f64 * 1e6 / c.rate).ceil();
        (offset < c.duration.total_micros() as f64)
            .then(|| c.start + Duration::from_micros(offset as u64))
    }

    /// What it sent, as `tapvs client --syn-flood` reports it.
    /// Whether every SYN it will send has gone.
    pub fn is_done(&self) -> bool {
        self.due == 0 && self.time_of(self.sent + 1).is_none()
    }

    pub fn report(&self, started_unix_ms: u64) -> ClientReport {
        let c = &self.config;
        let elapsed = match self.last_sent {
            Some(t) if self.sent >= c.max_packets => t - c.start,
            _ => c.duration,
        };
        let secs = elapsed.total_micros() as f64 / 1e6;
        let interval_ms = c.interval.total_millis();
        let flood = FloodReport {
            sent: self.sent,
            send_errors: 0,
            elapsed_ms: elapsed.total_millis(),
            rate_achieved: self.sent as f64 / secs.max(1e-9),
            rate_wanted: c.rate,
            per_interval: self.per_interval.clone(),
        };
        ClientReport {
            load: c.load.clone(),
            started_unix_ms,
            interval_ms,
            intervals: (0..self.per_interval.len() as u64)
                .map(|i| Interval {
                    start_ms: i * interval_ms,
                    ..Interval::default()
                })
                .collect(),
            total: Interval::default(),
            stray_responses: 0,
            flood: Some(flood),
        }
    }
}

impl Node for Flooder {
    fn handle_frame(&mut self, _now: Instant, _port: usize, frame: &mut [u8]) -> Option<usize> {
        match arp::parse(frame).and_then(|a| arp::answer(&a, self.config.mac, self.config.addr)) {
            Some(reply) => self.arp_reply = Some(reply),
            None => self.dropped += 1,
        }
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        while self.next_due.is_some_and(|t| t <= now) {
            self.due += 1;
            self.next_due = self.time_of(self.sent + self.due + 1);
        }
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        if let Some(reply) = self.arp_reply.take() {
            return Some((0, arp::write(buf, &reply)));
        }
        if self.due == 0 {
            return None;
        }
        let c = &self.config;
        let r: u64 = self.rng.random();
        let src = Ipv4Addr::from(u32::from(c.first).wrapping_add(r as u32 % c.count));
        let port = 1024 + ((r >> 32) as u16 % (65535 - 1024));
        let seq = self.rng.random();
        let mut eth = EthernetFrame::new_unchecked(&mut buf[..ETHERNET_HEADER_LEN]);
        eth.set_dst_addr(c.gateway_mac);
        eth.set_src_addr(c.mac);
        eth.set_ethertype(EthernetProtocol::Ipv4);
        let packet: &mut [u8; 40] = (&mut buf[ETHERNET_HEADER_LEN..][..40]).try_into().ok()?;
        write_syn(packet, src, port, c.target, seq);
        Ipv4Packet::new_unchecked(&mut packet[..]).fill_checksum();
        let k = ((now - c.start).total_micros() / c.interval.total_micros().max(1)) as usize;
        let last = self.per_interval.len() - 1;
        self.per_interval[k.min(last)] += 1;
        self.due -= 1;
        self.sent += 1;
        self.last_sent = Some(now);
        Some((0, ETHERNET_HEADER_LEN + 40))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.next_due
    }
}
