//! `tapvs wire --raw`: the raw TAP wire, the physical limit a director is measured against. It
//! does what any userspace middle box must do and nothing more: read a frame from a TAP and write
//! it out again, in the director's loop shape (poll, then bursts of reads, a write per frame).
//! Two TAPs: frames pass between them unchanged (the reference of a two-armed NAT director).
//! One TAP (`--hairpin-to`): frames addressed to the wire's MAC go back out the same TAP with
//! the MACs rewritten (the reference of a direct-routing director: no table, no ARP).

use crate::io::port::{MAX_FRAME_LEN, Port};
use crate::io::tap::wait_readable;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Frames read from one TAP per wake-up before the other gets its turn (as the director).
const BURST: usize = 64;
/// Longest sleep, so a signal or the time limit is noticed.
const MAX_SLEEP: Duration = Duration::from_millis(50);

/// What the raw wire counts; printed as JSON at exit (`--stats` also writes it).
#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct RawStats {
    /// Frames read from the TAPs.
    pub read: u64,
    /// Frames written out.
    pub written: u64,
    /// Hairpin: frames not addressed to the wire's MAC (dropped).
    pub not_ours: u64,
    /// Writes the kernel refused or found no room for (the frame is lost).
    pub write_failures: u64,
}

/// Where frames go: between two TAPs, or back out of one with new MACs.
pub enum Shape {
    Pass {
        a: Box<dyn Port>,
        b: Box<dyn Port>,
    },
    Hairpin {
        tap: Box<dyn Port>,
        own: [u8; 6],
        to: [u8; 6],
    },
}

/// Runs until `stop` is set or `limit` has passed; returns the counters.
pub fn run(mut shape: Shape, stop: &Arc<AtomicBool>, limit: Duration) -> RawStats {
    let mut stats = RawStats::default();
    let mut buf = vec![0u8; MAX_FRAME_LEN];
    let start = Instant::now();
    let fds: Vec<_> = match &shape {
        Shape::Pass { a, b } => vec![a.raw_fd(), b.raw_fd()],
        Shape::Hairpin { tap, .. } => vec![tap.raw_fd()],
    }
    .into_iter()
    .flatten()
    .collect();
    let now = smoltcp::time::Instant::ZERO;
    while !stop.load(Ordering::Relaxed) && start.elapsed() < limit {
        // A port holding frames already read (io_uring) says so with `poll_at`: no sleep then.
        let ready = match &shape {
            Shape::Pass { a, b } => a.poll_at().or(b.poll_at()),
            Shape::Hairpin { tap, .. } => tap.poll_at(),
        };
        let sleep = if ready.is_some() {
            Duration::ZERO
        } else {
            MAX_SLEEP
        };
        if wait_readable(&fds, sleep).is_err() {
            break;
        }
        match &mut shape {
            Shape::Pass { a, b } => {
                pass(a, b, &mut buf, &mut stats, now);
                pass(b, a, &mut buf, &mut stats, now);
                for port in [a, b] {
                    stats.write_failures += u64::from(port.poll(now).is_err());
                }
            }
            Shape::Hairpin { tap, own, to } => {
                hairpin(tap, *own, *to, &mut buf, &mut stats, now);
                stats.write_failures += u64::from(tap.poll(now).is_err());
            }
        }
    }
    stats
}

/// Up to [`BURST`] frames from `from` into `to`, unchanged (a virtio-net header passes with its
/// frame).
fn pass(
    from: &mut Box<dyn Port>,
    to: &mut Box<dyn Port>,
    buf: &mut [u8],
    stats: &mut RawStats,
    now: smoltcp::time::Instant,
) {
    for _ in 0..BURST {
        let Ok(Some((header, n))) = from.recv(now, buf) else {
            return;
        };
        stats.read += 1;
        match to.send(now, &header, &buf[..n]) {
            Ok(true) => stats.written += 1,
            _ => stats.write_failures += 1,
        }
    }
}

/// Up to [`BURST`] frames back out of `tap`: those for `own` get destination `to` and source
/// `own`; the rest (floods, broadcasts) are dropped.
fn hairpin(
    tap: &mut Box<dyn Port>,
    own: [u8; 6],
    to: [u8; 6],
    buf: &mut [u8],
    stats: &mut RawStats,
    now: smoltcp::time::Instant,
) {
    for _ in 0..BURST {
        let Ok(Some((header, n))) = tap.recv(now, buf) else {
            return;
        };
        stats.read += 1;
        if n < 14 || buf[..6] != own {
            stats.not_ours += 1;
            continue;
        }
        buf[..6].copy_from_slice(&to);
        buf[6..12].copy_from_slice(&own);
        match tap.send(now, &header, &buf[..n]) {
            Ok(true) => stats.written += 1,
            _ => stats.write_failures += 1,
        }
    }
}
