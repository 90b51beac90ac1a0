//! Churn (issue #14, item 4): short connections pushed through a data plane whose table holds
//! 1,000,000 entries, kept nearly full, to show that no single frame stalls: every frame's time
//! is measured on its own and the worst is reported, with the percentiles, as is every
//! expiry sweep's (`handle_timeout`). A table that rehashed or grew would show it as a frame
//! taking milliseconds; this one reserves everything up front and never moves an entry.
//!
//! Each connection comes from a fresh client address and port. Through a DR director it is the
//! four frames the director sees of a short HTTP exchange (SYN, ACK with the request, FIN, ACK);
//! through a two-armed NAT director also the real server's SYN-ACK and response, which take the
//! reply path (the reply index, the source rewritten back to the VIP): five frames, the client's
//! FIN last. Virtual time moves 1/7,500 s per connection (DR; NAT 1/15,000 s), so with IPVS's
//! 120 s FIN_WAIT timeout (NAT: 60 s CLOSE_WAIT) the table settles at about 915,000 entries:
//! every new connection then lands in a table that is 90 % full while the sweep expires as many
//! as arrive. `TAPVS_CHURN_CONNS` sets how many per
//! layout (default 20,000,000; DR then NAT, about 40 s here). Figures, never assertions: run it
//! with `cargo bench --bench churn`.

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
const OUT_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const IN_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 1, 2]);
const ROUTER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);

/// Where the real servers are and how they are reached.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// On the LAN, by MAC rewrite.
    Dr,
    /// Behind the director's inside port, by address rewrite both ways.
    Nat,
}

impl Layout {
    fn name(self) -> &'static str {
        match self {
            Layout::Dr => "DR",
            Layout::Nat => "two-armed NAT",
        }
    }

    /// Connections per virtual second: about 915,000 entries in the table once their last
    /// state's timeout is reached (DR's FIN_WAIT 120 s; NAT's CLOSE_WAIT 60 s, as IPVS moves
    /// a connection whose client sent FIN while the server's side is open).
    fn rate(self) -> u64 {
        match self {
            Layout::Dr => 7_500,
            Layout::Nat => 15_000,
        }
    }

    /// Real server `i`'s address and port.
    fn server(self, i: u8) -> (Ipv4Addr, u16) {
        match self {
            Layout::Dr => (Ipv4Addr::new(198, 18, 0, 11 + i), 80),
            Layout::Nat => (Ipv4Addr::new(198, 18, 1, 11 + i), 8080),
        }
    }

    fn config(self) -> DirectorConfig {
        let (inside, forwarding) = match self {
            Layout::Dr => ("", "dr"),
            Layout::Nat => (
                "[inside]\nname = \"d1i\"\nmac = \"02:74:76:00:01:02\"\naddress = \"198.18.1.2\"\n\
                 prefix_len = 24\nfloating = [\"198.18.1.1\"]\n",
                "nat",
            ),
        };
        let mut text = format!(
            "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
             prefix_len = 24\ngateway = \"198.18.0.1\"\n{inside}[limits]\n\
             max_connections = {CAPACITY}\n[[service]]\nvip = \"{VIP}\"\nport = 80\n\
             scheduler = \"rr\"\nforwarding = \"{forwarding}\"\n"
        );
        for i in 0..3 {
            let (addr, port) = self.server(i);
            text += &format!(
                "[[service.real_server]]\nname = \"rs{}\"\naddress = \"{addr}\"\nport = {port}\n",
                i + 1
            );
        }
        DirectorConfig::parse(Path::new("churn.toml"), &text).expect("bench config")
    }
}

/// Client `n`'s address and port: 2^14 ports on each address of 198.19.0.0/16 onwards.
fn client(n: u64) -> (Ipv4Addr, u16) {
    let base = u32::from(Ipv4Addr::new(198, 19, 0, 0));
    (
        Ipv4Addr::from(base + (n >> 14) as u32),
        1024 + (n & 0x3fff) as u16,
    )
}

/// One frame of a connection: which side sends it, and its bytes for connection 0.
struct Step {
    from_server: bool,
    frame: Vec<u8>,
}

/// The frames of connection 0; the others are these with the client (and, for the server's,
/// the real server the director chose) written in.
fn steps(layout: Layout) -> Vec<Step> {
    let (src, src_port) = client(0);
    let to_vip = Endpoints {
        src_mac: ROUTER_MAC,
        dst_mac: OUT_MAC,
        src,
        src_port,
        dst: VIP,
        dst_port: 80,
    };
    let (rs, rs_port) = layout.server(0);
    let to_client = Endpoints {
        src_mac: EthernetAddress([2, 0, 0, 0, 1, 11]),
        dst_mac: IN_MAC,
        src: rs,
        src_port: rs_port,
        dst: src,
        dst_port: src_port,
    };
    let client = |flags, payload: &[u8]| Step {
        from_server: false,
        frame: build::tcp_frame(to_vip, flags, payload),
    };
    let server = |flags, payload: &[u8]| Step {
        from_server: true,
        frame: build::tcp_frame(to_client, flags, payload),
    };
    let syn_ack = Flags {
        syn: true,
        ack: true,
        ..Flags::default()
    };
    match layout {
        Layout::Dr => vec![
            client(Flags::SYN, b""),
            client(Flags::ACK, b"GET /bytes/100 HTTP/1.1\r\n\r\n"),
            client(Flags::FIN_ACK, b""),
            client(Flags::ACK, b""),
        ],
        Layout::Nat => vec![
            client(Flags::SYN, b""),
            server(syn_ack, b""),
            client(Flags::ACK, b"GET /bytes/100 HTTP/1.1\r\n\r\n"),
            server(Flags::ACK, &[b'x'; 200]),
            client(Flags::FIN_ACK, b""),
        ],
    }
}

/// Answers the director's ARP requests as the router and the real servers would.
fn answer_probes(dp: &mut Dataplane, now: Instant, buf: &mut [u8]) {
    while let Some((iface, len)) = dp.poll_transmit(now, buf) {
        let frame = &buf[..len];
        if frame.len() >= 42 && frame[12..14] == [0x08, 0x06] && frame[21] == 1 {
            let asker = Ipv4Addr::new(frame[28], frame[29], frame[30], frame[31]);
            let target = Ipv4Addr::new(frame[38], frame[39], frame[40], frame[41]);
            let asker_mac =
                EthernetAddress([frame[6], frame[7], frame[8], frame[9], frame[10], frame[11]]);
            let mac = EthernetAddress([2, 0, 0, 0, 1, target.octets()[3]]);
            let mut reply = build::arp_reply(mac, target, asker_mac, asker);
            dp.handle_frame(now, iface, &mut reply);
        }
    }
}

/// Pushes `conns` connections through a fresh director of `layout` and prints what it saw.
fn churn(layout: Layout, conns: u64, clock: &Histogram) {
    let mut dp = Dataplane::new(&layout.config().dataplane(), 7);
    let t0 = Instant::from_millis(0);
    let mut router = build::arp_reply(ROUTER_MAC, Ipv4Addr::new(198, 18, 0, 1), OUT_MAC, dp.addr());
    dp.handle_frame(t0, Iface::OUTSIDE, &mut router);
    for i in 0..3u8 {
        let (ip, _) = layout.server(i);
        let (iface, own_mac, own) = match layout {
            Layout::Dr => (Iface::OUTSIDE, OUT_MAC, dp.addr()),
            Layout::Nat => (Iface::INSIDE, IN_MAC, Ipv4Addr::new(198, 18, 1, 2)),
        };
        let mac = EthernetAddress([2, 0, 0, 0, 1, ip.octets()[3]]);
        let mut reply = build::arp_reply(mac, ip, own_mac, own);
        dp.handle_frame(t0, iface, &mut reply);
    }
    let mut buf = [0u8; 512];
    answer_probes(&mut dp, t0, &mut buf);
    let steps = steps(layout);
    let (mut filling, mut steady, mut sweeps) =
        (Histogram::new(), Histogram::new(), Histogram::new());
    let (mut dropped, mut most, mut fewest_steady) = (0u64, 0usize, usize::MAX);
    // The table is in its steady state once the first connections have expired.
    let steady_from = Instant::from_secs(125);
    let started = Wall::now();
    for n in 0..conns {
        let now = Instant::from_micros((n * 1_000_000 / layout.rate()) as i64);
        let (src, port) = client(n);
        let frames = if now < steady_from {
            &mut filling
        } else {
            &mut steady
        };
        // The real server the director picked, from where it sent the SYN.
        let mut server = [0u8; 4];
        for step in &steps {
            let frame = &mut buf[..step.frame.len()];
            frame.copy_from_slice(&step.frame);
            let iface = if step.from_server {
                frame[26..30].copy_from_slice(&server);
                frame[30..34].copy_from_slice(&src.octets());
                frame[36..38].copy_from_slice(&port.to_be_bytes());
                Iface::INSIDE
            } else {
                frame[26..30].copy_from_slice(&src.octets());
                frame[34..36].copy_from_slice(&port.to_be_bytes());
                Iface::OUTSIDE
            };
            smoltcp::wire::Ipv4Packet::new_unchecked(&mut frame[14..]).fill_checksum();
            let start = Wall::now();
            let verdict = dp.handle_frame(now, iface, frame);
            frames.add(start.elapsed().as_nanos() as u64);
            if !matches!(verdict, Verdict::Send(_)) {
                dropped += 1;
            }
            if !step.from_server {
                server.copy_from_slice(&frame[30..34]);
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
        "churn, {}: {conns} connections ({} frames each) through a {CAPACITY}-entry table in \
         {:.1} s of wall time, {:.0} s of virtual time; entries at most {most}, at least {} once \
         steady; {dropped} frames not forwarded",
        layout.name(),
        steps.len(),
        started.elapsed().as_secs_f64(),
        conns as f64 / layout.rate() as f64,
        if fewest_steady == usize::MAX {
            0
        } else {
            fewest_steady
        },
    );
    println!("{}", filling.line("  frames while the table fills"));
    println!("{}", steady.line("  frames in the full table   "));
    println!("{}", sweeps.line("  expiry sweeps              "));
    println!("{}", clock.line("  a clock read pair alone    "));
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
    // What a pair of clock reads costs by itself, to read the figures against.
    let mut clock = Histogram::new();
    for _ in 0..100_000 {
        let start = Wall::now();
        clock.add(start.elapsed().as_nanos() as u64);
    }
    churn(Layout::Dr, conns, &clock);
    churn(Layout::Nat, conns, &clock);
}
