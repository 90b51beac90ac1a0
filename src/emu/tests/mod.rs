//! The fabric and the event loop driven by simple scripted hosts ([`Host`]): latency, loss,
//! rate, jitter, learning and flooding, idle time, livelocks, determinism per seed, and a
//! director answering ARP on the fabric.

use super::Node;
use crate::wire::EthernetAddress;
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;
use std::hash::{DefaultHasher, Hash, Hasher};

mod attackers;
mod clock;
mod director;
mod fabric;
mod flight;
mod impair;
mod neigh;
mod router;
mod speed;
mod timers;

/// The EtherType of the test frames (IEEE 802 local experimental).
const TEST_ETHERTYPE: [u8; 2] = [0x88, 0xb5];

fn us(micros: u64) -> Instant {
    Instant::from_micros(micros as i64)
}

fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

/// A frame from `src` to `dst` of `len` bytes (at least 18) carrying `tag`.
fn frame(dst: EthernetAddress, src: EthernetAddress, tag: u32, len: usize) -> Vec<u8> {
    let mut f = vec![0; len.max(18)];
    f[0..6].copy_from_slice(&dst.0);
    f[6..12].copy_from_slice(&src.0);
    f[12..14].copy_from_slice(&TEST_ETHERTYPE);
    f[14..18].copy_from_slice(&tag.to_be_bytes());
    f
}

/// The tag [`frame`] put in.
fn tag(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[14..18].try_into().unwrap())
}

fn hash(frame: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    frame.hash(&mut h);
    h.finish()
}

/// A frame as a host saw it arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    at: Instant,
    port: usize,
    tag: u32,
    hash: u64,
}

/// A scripted host: sends its script's frames at their instants, records what arrives, and
/// (`echo`) sends every frame back where it came from, rewritten in place.
#[derive(Default)]
struct Host {
    mac: Option<EthernetAddress>,
    /// (when, port, frame), in time order.
    script: VecDeque<(Instant, usize, Vec<u8>)>,
    ready: VecDeque<(usize, Vec<u8>)>,
    echo: bool,
    /// Keeps no log of what arrives.
    quiet: bool,
    seen: Vec<Seen>,
    timeouts: Vec<Instant>,
}

impl Host {
    fn new(n: u8) -> Host {
        Host {
            mac: Some(mac(n)),
            ..Host::default()
        }
    }

    fn echo(n: u8) -> Host {
        Host {
            echo: true,
            ..Host::new(n)
        }
    }

    fn send_at(&mut self, at: Instant, port: usize, frame: Vec<u8>) {
        self.script.push_back((at, port, frame));
    }
}

impl Node for Host {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        if !self.quiet {
            self.seen.push(Seen {
                at: now,
                port,
                tag: if frame.len() >= 18 { tag(frame) } else { 0 },
                hash: hash(frame),
            });
        }
        if !self.echo {
            return None;
        }
        let dst: [u8; 6] = frame[6..12].try_into().unwrap();
        frame[0..6].copy_from_slice(&dst);
        frame[6..12].copy_from_slice(&self.mac.unwrap().0);
        Some(port)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.timeouts.push(now);
        while self.script.front().is_some_and(|(at, ..)| *at <= now) {
            let (_, port, frame) = self.script.pop_front().unwrap();
            self.ready.push_back((port, frame));
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        let (port, frame) = self.ready.pop_front()?;
        buf[..frame.len()].copy_from_slice(&frame);
        Some((port, frame.len()))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.script.front().map(|(at, ..)| *at)
    }
}

/// A short alias: a duration in microseconds.
fn dus(micros: u64) -> Duration {
    Duration::from_micros(micros)
}
