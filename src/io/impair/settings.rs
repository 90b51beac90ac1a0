//! What an [`Impair`](super::Impair) does to the frames it passes, and which frames it touches:
//! the settings (changeable at run time), the frame filter, and the counters it keeps. These are
//! the typed records `tapvs wire` takes on its control socket and writes to its stats file, and
//! the runner reads back (no untyped JSON between the processes).

use serde::{Deserialize, Serialize};
use smoltcp::wire::{EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket};

/// Which frames are impaired; the others pass untouched (and first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Every frame.
    #[default]
    All,
    /// VRRP only (IPv4 protocol 112): the heartbeat path.
    Vrrp,
    /// Connection sync only (UDP to port 8848): the sync path.
    Sync,
}

impl Filter {
    /// Whether `frame` (Ethernet) is one this filter impairs. Frames too short to tell are
    /// impaired only by [`Filter::All`].
    pub fn matches(self, frame: &[u8]) -> bool {
        match self {
            Filter::All => true,
            Filter::Vrrp => ipv4_payload(frame).is_some_and(|(proto, _)| {
                proto == IpProtocol::Unknown(crate::wire::vrrp::PROTOCOL)
            }),
            Filter::Sync => ipv4_payload(frame).is_some_and(|(proto, payload)| {
                proto == IpProtocol::Udp
                    && UdpPacket::new_checked(payload)
                        .is_ok_and(|udp| udp.dst_port() == crate::wire::sync_frame::PORT)
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Vrrp => "vrrp",
            Filter::Sync => "sync",
        }
    }
}

/// The protocol and payload of an unfragmented (first-fragment) IPv4 packet in `frame`.
fn ipv4_payload(frame: &[u8]) -> Option<(IpProtocol, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.frag_offset() != 0 {
        return None;
    }
    let header = usize::from(ip.header_len());
    let total = usize::from(ip.total_len()).min(eth.payload().len());
    Some((ip.next_header(), eth.payload().get(header..total)?))
}

/// The impairments, all off by default. Percentages are of the frames the filter matches,
/// drawn independently per frame from the seeded generator.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Frames dropped, in percent.
    pub loss_pct: f64,
    /// Added one-way delay, microseconds.
    pub delay_us: u64,
    /// Each frame's delay is `delay_us` plus a uniform draw in ±`jitter_us` (never below 0).
    /// Without reordering, a frame never leaves before the one ahead of it.
    pub jitter_us: u64,
    /// Frames sent twice, in percent.
    pub duplicate_pct: f64,
    /// Frames sent at once, ahead of those held back, in percent (netem's `reorder`); it also
    /// lets jitter reorder.
    pub reorder_pct: f64,
    /// Token-bucket rate in bytes per second; 0 = no limit.
    pub rate_bytes_per_s: u64,
    /// The rate limiter's queue, bytes (tail drop beyond it); 0 = 100 ms at the rate, and at
    /// least [`MIN_QUEUE_BYTES`].
    pub queue_bytes: u64,
    /// Which frames are impaired.
    pub filter: Filter,
}

impl Settings {
    /// Why these settings are refused (a percentage outside 0-100, a jitter above the delay's
    /// range...), naming the field; `None` when they are fine.
    pub fn problem(&self) -> Option<String> {
        for (field, v) in [
            ("loss_pct", self.loss_pct),
            ("duplicate_pct", self.duplicate_pct),
            ("reorder_pct", self.reorder_pct),
        ] {
            if !(0.0..=100.0).contains(&v) {
                return Some(format!("{field}: {v} is not a percentage in 0 – 100"));
            }
        }
        if self.delay_us > MAX_DELAY_US || self.jitter_us > MAX_DELAY_US {
            return Some(format!(
                "delay_us and jitter_us: at most {MAX_DELAY_US} (10 s)"
            ));
        }
        None
    }

    /// Whether anything is impaired at all (off: frames pass straight through).
    pub fn is_off(&self) -> bool {
        self.loss_pct == 0.0
            && self.delay_us == 0
            && self.jitter_us == 0
            && self.duplicate_pct == 0.0
            && self.reorder_pct == 0.0
            && self.rate_bytes_per_s == 0
    }
}

/// The longest delay or jitter accepted: 10 s.
pub const MAX_DELAY_US: u64 = 10_000_000;

/// The smallest rate-limiter queue: 16 full-size Ethernet frames.
pub const MIN_QUEUE_BYTES: u64 = 16 * 1514;

impl Settings {
    /// The rate limiter's queue limit in bytes (see [`Settings::queue_bytes`]).
    pub fn queue_limit(&self) -> u64 {
        if self.queue_bytes > 0 {
            self.queue_bytes
        } else {
            (self.rate_bytes_per_s / 10).max(MIN_QUEUE_BYTES)
        }
    }
}

/// What an [`Impair`](super::Impair) did, since it was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counters {
    /// Frames handed to `send`.
    pub frames_in: u64,
    /// Of those, frames the filter matched (the impaired ones).
    pub matched: u64,
    /// Frames handed to the port below (duplicates included).
    pub passed: u64,
    /// Matched frames dropped by the loss draw.
    pub dropped_loss: u64,
    /// Frames dropped because the rate limiter's queue or the held-frame pool was full.
    pub dropped_queue: u64,
    /// Frames that had to be held but were longer than a pool slot.
    pub dropped_oversize: u64,
    /// Frames the port below refused (its own queue full).
    pub dropped_below: u64,
    /// Frames held back (by delay, jitter or the rate limit) before being passed.
    pub delayed: u64,
    /// Extra copies sent.
    pub duplicated: u64,
    /// Frames that left before a frame that came in ahead of them.
    pub reordered: u64,
    /// Sum and largest of the time held frames spent held, microseconds (measured at release).
    pub delay_sum_us: u64,
    pub delay_max_us: u64,
}

impl Counters {
    /// The mean time a held frame was held, in milliseconds (0 when none was).
    pub fn mean_delay_ms(&self) -> f64 {
        if self.delayed == 0 {
            0.0
        } else {
            self.delay_sum_us as f64 / self.delayed as f64 / 1000.0
        }
    }

    /// Adds `other` (the two directions of a wire).
    pub fn add(&mut self, other: &Counters) {
        self.frames_in += other.frames_in;
        self.matched += other.matched;
        self.passed += other.passed;
        self.dropped_loss += other.dropped_loss;
        self.dropped_queue += other.dropped_queue;
        self.dropped_oversize += other.dropped_oversize;
        self.dropped_below += other.dropped_below;
        self.delayed += other.delayed;
        self.duplicated += other.duplicated;
        self.reordered += other.reordered;
        self.delay_sum_us += other.delay_sum_us;
        self.delay_max_us = self.delay_max_us.max(other.delay_max_us);
    }
}
