//! The UDP sender of the frames test: a thread that enters the clients' namespace, pins itself
//! to core 0 and sends 64-byte frames (22 bytes of UDP payload) from several flows with
//! `sendmmsg`, bounded in time, in count and in rate.

use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// UDP payload of a 64-byte Ethernet frame (14 + 20 + 8 + 22).
pub const PAYLOAD: usize = 22;
/// Flows (source ports): each one a connection entry of the balancer.
const FLOWS: usize = 8;
/// Datagrams per `sendmmsg`.
const BATCH: usize = 32;
/// The most frames per second it sends, and in all.
pub const MAX_RATE: u64 = 2_000_000;
pub const MAX_FRAMES: u64 = 200_000_000;

/// Sends to `target` from namespace `netns` for `duration`; returns the frames the kernel took.
pub fn send(
    netns: &str,
    target: SocketAddr,
    duration: Duration,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<u64> {
    let netns = netns.to_owned();
    std::thread::spawn(move || blast(&netns, target, duration, &stop))
        .join()
        .map_err(|_| anyhow::anyhow!("the UDP sender panicked"))?
}

fn blast(
    netns: &str,
    target: SocketAddr,
    duration: Duration,
    stop: &AtomicBool,
) -> anyhow::Result<u64> {
    enter(netns)?;
    super::cpu::pin_thread(0, 1);
    let sockets: Vec<UdpSocket> = (0..FLOWS)
        .map(|_| {
            let s = UdpSocket::bind("0.0.0.0:0")?;
            s.connect(target)?;
            Ok(s)
        })
        .collect::<std::io::Result<_>>()?;
    let payload = [0x5au8; PAYLOAD];
    let mut iov: Vec<libc::iovec> = (0..BATCH)
        .map(|_| libc::iovec {
            iov_base: payload.as_ptr() as *mut libc::c_void,
            iov_len: PAYLOAD,
        })
        .collect();
    // SAFETY: an all-zero mmsghdr is valid (no name, no control data).
    let mut msgs: Vec<libc::mmsghdr> = (0..BATCH).map(|_| unsafe { std::mem::zeroed() }).collect();
    for (m, v) in msgs.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = v;
        m.msg_hdr.msg_iovlen = 1;
    }
    let start = Instant::now();
    let mut sent = 0u64;
    let mut flow = 0;
    while start.elapsed() < duration && sent < MAX_FRAMES && !stop.load(Ordering::Relaxed) {
        // The rate cap: never ahead of MAX_RATE since the start.
        let allowed = (start.elapsed().as_secs_f64() * MAX_RATE as f64) as u64 + BATCH as u64;
        if sent >= allowed {
            std::thread::yield_now();
            continue;
        }
        let fd = sockets[flow].as_raw_fd();
        flow = (flow + 1) % FLOWS;
        // SAFETY: `msgs` holds BATCH headers pointing at `iov` and `payload`, all alive here.
        let n = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), BATCH as libc::c_uint, 0) };
        if n > 0 {
            sent += n as u64;
        }
    }
    Ok(sent)
}

/// Moves the calling thread into network namespace `netns` (`/run/netns/NETNS`).
fn enter(netns: &str) -> anyhow::Result<()> {
    let path = format!("/run/netns/{netns}");
    let ns = std::fs::File::open(&path).map_err(|e| anyhow::anyhow!("{path}: {e}"))?;
    // SAFETY: a valid namespace descriptor; setns changes only this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        anyhow::bail!("entering {path}: {}", std::io::Error::last_os_error());
    }
    Ok(())
}
