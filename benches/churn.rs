//! Churn (issue #14, item 4): short connections pushed through a DR data plane whose table holds
//! 1,000,000 entries, kept nearly full, to show that no single frame stalls: every frame's time
//! is measured on its own and the worst is reported, with the percentiles, as is every
//! expiry sweep's (`handle_timeout`). A table that rehashed or grew would show it as a frame
//! taking milliseconds; this one reserves everything up front and never moves an entry.
//!
//! Each connection is the four frames a DR director sees of a short HTTP exchange (SYN, ACK
//! with the request, FIN, ACK), all from a fresh client address and port. Virtual time moves
//! 1/7,500 s per connection, so with IPVS's 120 s FIN_WAIT timeout the table settles at about
//! 915,000 entries: every new connection then lands in a table that is 90 % full while the
//! sweep expires as many as arrive. `TAPVS_CHURN_CONNS` sets how many (default 20,000,000,
//! about a minute here). Figures, never assertions: run it with `cargo bench --bench churn`.

use smoltcp::time::Instant;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant as Wall;
use tapvs::config::DirectorConfig;
use tapvs::dataplane::{Dataplane, Iface, Verdict};
use tapvs::metrics::histogram::Histogram;
use tapvs::wire::EthernetAddress;
use tapvs::wire::build::{self, Endpoints, Flags};

const CAPACITY: usize = 1_000_000;
/// Connections per virtual second.
const RATE: u64 = 7_500;
const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);

fn config() -> DirectorConfig {
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n[limits]\nmax_connections = {CAPACITY}\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"wlc\"\n\
         [[service.real_server]]\nname = \"rs1\"\naddress = \"198.18.0.11\"\nport = 80\n\
         [[service.real_server]]\nname = \"rs2\"\naddress = \"198.18.0.12\"\nport = 80\n\
         [[service.real_server]]\nname = \"rs3\"\naddress = \"198.18.0.13\"\nport = 80\n"
    );
    DirectorConfig::parse(Path::new("churn.toml"), &text).expect("bench config")
}

/// Client `n`'s address and port: 2^14 ports on each address of 198.19.0.0/16 onwards.
fn client(n: u64) -> (Ipv4Addr, u16) {
    let base = u32::from(Ipv4Addr::new(198, 19, 0, 0));
    (
        Ipv4Addr::from(base + (n >> 14) as u32),
        1024 + (n & 0x3fff) as u16,
    )
}

/// The four frames of connection 0; the others are these with the source rewritten.
fn templates() -> [Vec<u8>; 4] {
    let (src, src_port) = client(0);
    let ends = Endpoints {
        src_mac: EthernetAddress([0x02, 0, 0, 0, 0, 1]),
        dst_mac: DIRECTOR_MAC,
        src,
        src_port,
        dst: Ipv4Addr::new(198, 18, 0, 100),
        dst_port: 80,
    };
    [
        build::tcp_frame(ends, Flags::SYN, b""),
        build::tcp_frame(ends, Flags::ACK, b"GET /bytes/100 HTTP/1.1\r\n\r\n"),
        build::tcp_frame(ends, Flags::FIN_ACK, b""),
        build::tcp_frame(ends, Flags::ACK, b""),
    ]
}

/// Real server `ip`'s ARP reply to the director.
fn server_arp_reply(dp: &Dataplane, ip: Ipv4Addr) -> Vec<u8> {
    let mac = EthernetAddress([2, 0, 0, 0, 1, ip.octets()[3]]);
    build::arp_reply(mac, ip, DIRECTOR_MAC, dp.addr())
}

/// Takes what the data plane sends on its own (its probes of the real servers' MACs, as their
/// entries age) and answers each ARP request as the real server would.
fn answer_probes(dp: &mut Dataplane, now: Instant, buf: &mut [u8]) {
    while let Some((_, len)) = dp.poll_transmit(now, buf) {
        let frame = &buf[..len];
        if frame.len() >= 42 && frame[12..14] == [0x08, 0x06] && frame[21] == 1 {
            let target = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
            let mut reply = server_arp_reply(dp, target);
            dp.handle_frame(now, Iface::OUTSIDE, &mut reply);
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not "churn" skips this bench.
    if let Some(filter) = std::env::args().skip(1).find(|a| !a.starts_with('-'))
        && !"churn".contains(filter.as_str())
    {
        return;
    }
    let conns: u64 = std::env::var("TAPVS_CHURN_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000_000);
    let mut dp = Dataplane::new(&config().dataplane(), 7);
    let t0 = Instant::from_millis(0);
    for i in 0..3u8 {
        let mut reply = server_arp_reply(&dp, Ipv4Addr::new(198, 18, 0, 11 + i));
        dp.handle_frame(t0, Iface::OUTSIDE, &mut reply);
    }
    answer_probes(&mut dp, t0, &mut [0u8; 256]);
    let templates = templates();
    let mut buf = [0u8; 256];
    // What a pair of clock reads costs by itself, to read the figures against.
    let mut clock = Histogram::new();
    for _ in 0..100_000 {
        let start = Wall::now();
        clock.add(start.elapsed().as_nanos() as u64);
    }
    let (mut filling, mut steady, mut sweeps) =
        (Histogram::new(), Histogram::new(), Histogram::new());
    let (mut dropped, mut most, mut fewest_steady) = (0u64, 0usize, usize::MAX);
    // The table is in its steady state once the first connections have expired.
    let steady_from = Instant::from_secs(125);
    let started = Wall::now();
    for n in 0..conns {
        let now = Instant::from_micros((n * 1_000_000 / RATE) as i64);
        let (src, port) = client(n);
        let frames = if now < steady_from {
            &mut filling
        } else {
            &mut steady
        };
        for template in &templates {
            let frame = &mut buf[..template.len()];
            frame.copy_from_slice(template);
            frame[26..30].copy_from_slice(&src.octets());
            frame[34..36].copy_from_slice(&port.to_be_bytes());
            smoltcp::wire::Ipv4Packet::new_unchecked(&mut frame[14..]).fill_checksum();
            let start = Wall::now();
            let verdict = dp.handle_frame(now, Iface::OUTSIDE, frame);
            frames.add(start.elapsed().as_nanos() as u64);
            if verdict != Verdict::Send(Iface::OUTSIDE) {
                dropped += 1;
            }
        }
        if dp.poll_timeout().is_some_and(|t| t <= now) {
            let start = Wall::now();
            dp.handle_timeout(now);
            sweeps.add(start.elapsed().as_nanos() as u64);
            answer_probes(&mut dp, now, &mut buf);
        }
        let live = dp.conns().len();
        most = most.max(live);
        if now >= steady_from {
            fewest_steady = fewest_steady.min(live);
        }
    }
    println!(
        "churn: {conns} connections (4 frames each) through a {CAPACITY}-entry DR table in \
         {:.1} s of wall time, {:.0} s of virtual time; entries at most {most}, at least \
         {} once steady; {dropped} frames not forwarded",
        started.elapsed().as_secs_f64(),
        conns as f64 / RATE as f64,
        if fewest_steady == usize::MAX {
            0
        } else {
            fewest_steady
        },
    );
    println!("{}", filling.line("frames while the table fills"));
    println!("{}", steady.line("frames in the full table   "));
    println!("{}", sweeps.line("expiry sweeps              "));
    println!("{}", clock.line("a clock read pair alone    "));
}
