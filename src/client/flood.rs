//! `tapvs client --syn-flood`: spoofed TCP SYNs to the target from random sources of the
//! flood's sub-range (198.19.128.0/17 in the lab: no real client uses it), on a raw socket,
//! in batches (`sendmmsg`), paced by a token bucket, bounded in rate, duration and count. It
//! reports what it actually sent, per interval. Needs root (CAP_NET_RAW).
//!
//! The sources must behave like absent hosts: the runner drops the real servers' SYN-ACKs to
//! the sub-range before they reach the clients' kernel (which would reset them).

use crate::metrics::{ClientReport, FloodReport, Interval};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::wire::{IpProtocol, Ipv4Packet, TcpPacket, TcpSeqNumber};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

/// The spoofed sources: 198.19.128.0/17.
pub const FLOOD_NET: Ipv4Addr = Ipv4Addr::new(198, 19, 128, 0);
pub const FLOOD_PREFIX: u8 = 17;
/// SYNs per `sendmmsg`.
const BATCH: usize = 64;
/// IPv4 + TCP headers, no options.
const PACKET: usize = 40;

/// What one flood is to send.
#[derive(Debug, Clone)]
pub struct Flood {
    pub target: SocketAddrV4,
    /// SYNs per second.
    pub rate: f64,
    pub duration: Duration,
    /// At most this many SYNs in all.
    pub max_packets: u64,
    pub interval: Duration,
    pub seed: u64,
}

/// Writes a SYN from `src:sport` to `dst:dport` with sequence number `seq` into `buf`
/// (IPv4 header checksum left 0: the kernel fills it in for raw sockets with IP_HDRINCL).
pub fn write_syn(buf: &mut [u8; PACKET], src: Ipv4Addr, sport: u16, dst: SocketAddrV4, seq: u32) {
    buf.fill(0);
    let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.set_version(4);
    ip.set_header_len(20);
    ip.set_total_len(PACKET as u16);
    ip.set_dont_frag(true);
    ip.set_hop_limit(64);
    ip.set_next_header(IpProtocol::Tcp);
    ip.set_src_addr(src);
    ip.set_dst_addr(*dst.ip());
    let mut tcp = TcpPacket::new_unchecked(ip.payload_mut());
    tcp.set_src_port(sport);
    tcp.set_dst_port(dst.port());
    tcp.set_seq_number(TcpSeqNumber(seq as i32));
    tcp.set_header_len(20);
    tcp.set_syn(true);
    tcp.set_window_len(64240);
    tcp.fill_checksum(&src.into(), &(*dst.ip()).into());
}

/// A random source of the flood's sub-range (never its network or broadcast address) and a
/// random port above 1023.
fn source(rng: &mut ChaCha8Rng) -> (Ipv4Addr, u16) {
    let r: u64 = rng.random();
    let hosts = (1u32 << (32 - FLOOD_PREFIX)) - 2;
    let host = 1 + (r as u32 % hosts);
    let port = 1024 + ((r >> 32) as u16 % (65535 - 1024));
    (Ipv4Addr::from(u32::from(FLOOD_NET) | host), port)
}

/// Runs the flood now and reports it.
pub fn run(flood: &Flood, load: &str) -> std::io::Result<ClientReport> {
    // SAFETY: plain socket(2); the descriptor is owned below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor that nothing else owns.
    let _owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let dst = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(*flood.target.ip()).to_be(),
        },
        sin_zero: [0; 8],
    };
    let mut packets = [[0u8; PACKET]; BATCH];
    let mut rng = ChaCha8Rng::seed_from_u64(flood.seed);
    let intervals = flood.duration.div_duration_f64(flood.interval).ceil() as usize;
    let mut per_interval = vec![0u64; intervals.max(1)];
    let (mut sent, mut errors) = (0u64, 0u64);
    let start = Instant::now();
    let started_unix_ms = crate::unix_ms();
    let end = start + flood.duration;
    loop {
        let now = Instant::now();
        if now >= end || sent >= flood.max_packets {
            break;
        }
        let due = ((now - start).as_secs_f64() * flood.rate) as u64;
        let due = due.min(flood.max_packets);
        if due <= sent {
            let wait = Duration::from_secs_f64(((sent + 1) as f64 / flood.rate).max(0.0));
            std::thread::sleep((start + wait).saturating_duration_since(now).min(end - now));
            continue;
        }
        let n = (due - sent).min(BATCH as u64) as usize;
        for p in packets.iter_mut().take(n) {
            let (src, port) = source(&mut rng);
            write_syn(p, src, port, flood.target, rng.random());
        }
        let mut iov: [libc::iovec; BATCH] = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        }; BATCH];
        // SAFETY: mmsghdr is plain data; every field used is set below.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for i in 0..n {
            iov[i].iov_base = packets[i].as_mut_ptr().cast();
            iov[i].iov_len = PACKET;
            msgs[i].msg_hdr.msg_name = (&dst as *const libc::sockaddr_in).cast_mut().cast();
            msgs[i].msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            msgs[i].msg_hdr.msg_iov = &mut iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: msgs[..n] point at live buffers and at `dst`, all outliving the call.
        let r = unsafe { libc::sendmmsg(fd, msgs.as_mut_ptr(), n as u32, 0) };
        let done = if r < 0 {
            // A full queue (ENOBUFS) or anything else: these SYNs are counted as not sent.
            errors += n as u64;
            n as u64
        } else {
            errors += (n - r as usize) as u64;
            r as u64
        };
        let k = ((Instant::now() - start).as_nanos() / flood.interval.as_nanos().max(1)) as usize;
        if r > 0 {
            let last = per_interval.len() - 1;
            per_interval[k.min(last)] += r as u64;
        }
        sent += done;
    }
    let elapsed = start.elapsed();
    let accepted: u64 = per_interval.iter().sum();
    let report = FloodReport {
        sent: accepted,
        send_errors: errors,
        elapsed_ms: elapsed.as_millis() as u64,
        rate_achieved: accepted as f64 / elapsed.as_secs_f64().max(1e-9),
        rate_wanted: flood.rate,
        per_interval,
    };
    let interval_ms = flood.interval.as_millis() as u64;
    Ok(ClientReport {
        load: load.to_string(),
        started_unix_ms,
        interval_ms,
        intervals: (0..report.per_interval.len())
            .map(|i| Interval {
                start_ms: i as u64 * interval_ms,
                ..Interval::default()
            })
            .collect(),
        total: Interval::default(),
        stray_responses: 0,
        flood: Some(report),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_has_a_valid_tcp_checksum_and_a_source_in_the_sub_range() {
        let mut rng = ChaCha8Rng::seed_from_u64(42);
        let mut buf = [0u8; PACKET];
        let dst = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 100), 80);
        for _ in 0..1000 {
            let (src, port) = source(&mut rng);
            assert_eq!(u32::from(src) >> 15, u32::from(FLOOD_NET) >> 15, "{src}");
            assert!(port >= 1024);
            write_syn(&mut buf, src, port, dst, 7);
            let ip = smoltcp::wire::Ipv4Packet::new_checked(&buf[..]).unwrap();
            let tcp = smoltcp::wire::TcpPacket::new_checked(ip.payload()).unwrap();
            assert!(tcp.verify_checksum(&src.into(), &(*dst.ip()).into()));
            assert!(tcp.syn() && !tcp.ack());
            assert_eq!((tcp.src_port(), tcp.dst_port()), (port, 80));
        }
    }
}
