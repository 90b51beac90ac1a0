//! Two director nodes on an in-memory LAN with a hand-moved clock ([`lan`]), with a router
//! speaking for the clients and direct-routing real servers ([`hosts`]): failover, split brain
//! and health during a takeover ([`failover`]), as the lab would see them, in microseconds.
//!
//! The set-up is the lab's (`run/director_config.rs`): LAN 198.18.0.0/24, router .1, d1 .2
//! (priority 150) and d2 .3 (priority 100), VIP 198.18.0.100:80, real servers from .11, clients
//! from 198.19.0.0/16 behind the router; VRRPv3 every 100 ms with each other as peers, sync on.
//!
//! Why a harness of its own rather than one shared with `control/vrrp/tests/net.rs`: that one
//! drives bare `VrrpRouter`s with `VrrpRepr`s and asserts every advert to the microsecond; this
//! one drives whole nodes with Ethernet frames through a switch. They share the fault
//! vocabulary (crash, partition/repair) and the loop (earliest deadline, run what is due,
//! deliver until quiet), not code: a common trait over both would be larger than either loop.
//! The emulator of the next issues can lift [`lan`] into `io/` when it needs it outside tests.

use super::Director;
use super::settings::NodeSettings;
use crate::wire::EthernetAddress;
use hosts::{Conn, Router, Segment, Server};
use lan::Lan;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::TcpControl;
use std::net::{Ipv4Addr, SocketAddrV4};

mod external;
mod failover;
mod heartbeat;
mod hosts;
mod ipvsadm;
mod lan;

const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const ADVERT: Duration = Duration::from_millis(100);
const D1: usize = 0;
const D2: usize = 1;
const PRIORITIES: [u8; 2] = [150, 100];
const SERVERS: usize = 3;

fn ms(millis: i64) -> Instant {
    Instant::from_millis(millis)
}

/// Director `d`'s MAC (d1 is 02:74:76:00:00:02, as in the lab).
fn director_mac(d: usize) -> EthernetAddress {
    EthernetAddress([0x02, 0x74, 0x76, 0, 0, d as u8 + 2])
}

fn director_ip(d: usize) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, d as u8 + 2)
}

/// Director `d`'s settings; `health` is a `[service.health]` body (empty: no checks).
fn settings(d: usize, health: &str) -> NodeSettings {
    let vrrp = format!(
        "[vrrp]\nvrid = 51\npriority = {}\nadvert_interval_ms = 100\npeers = [\"{}\"]\n",
        PRIORITIES[d],
        director_ip(1 - d)
    );
    settings_with(d, health, &vrrp)
}

/// [`settings`] with `failover` (a `[vrrp]` or `[failover]` section) deciding the role.
fn settings_with(d: usize, health: &str, failover: &str) -> NodeSettings {
    let [a, b, c, e, f, g] = director_mac(d).0;
    let mut text = format!(
        "seed = {d}\n\
         [interface]\nname = \"d{n}\"\nmac = \"{a:02x}:{b:02x}:{c:02x}:{e:02x}:{f:02x}:{g:02x}\"\n\
         address = \"{ip}\"\nprefix_len = 24\ngateway = \"198.18.0.1\"\n\
         [limits]\nmax_connections = 4096\n\
         {failover}\
         [sync]\n\
         [[service]]\nvip = \"{VIP}\"\nport = 80\nscheduler = \"rr\"\n",
        n = d + 1,
        ip = director_ip(d),
    );
    if !health.is_empty() {
        text += &format!("[service.health]\n{health}\n");
    }
    for i in 0..SERVERS {
        text += &format!(
            "[[service.real_server]]\nname = \"rs{}\"\naddress = \"{}\"\nport = 80\n",
            i + 1,
            server_addr(i).ip()
        );
    }
    toml::from_str(&text).unwrap()
}

fn server_addr(i: usize) -> SocketAddrV4 {
    SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 11 + i as u8), 80)
}

/// Both directors started at 0, the router and the real servers, nothing run yet.
fn lan(health: &str) -> Lan {
    lan_of(|d| settings(d, health))
}

/// Both directors (built from `settings(d)`) started at 0, the router and the real servers.
fn lan_of(settings: impl Fn(usize) -> NodeSettings) -> Lan {
    let directors = (0..2)
        .map(|d| Director::new(&settings(d), &format!("d{}", d + 1), 7, ms(0)).unwrap())
        .collect();
    let router = Router::new(
        EthernetAddress([0x02, 0, 0, 0, 0, 1]),
        Ipv4Addr::new(198, 18, 0, 1),
    );
    let servers = (0..SERVERS)
        .map(|i| {
            let mac = EthernetAddress([0x02, 0, 0, 0, 1, 11 + i as u8]);
            Server::new(mac, server_addr(i), VIP)
        })
        .collect();
    Lan::new(directors, router, servers)
}

/// Client connection `i`: 198.19.x.y, a port of its own.
fn conn(i: usize) -> Conn {
    let ip = Ipv4Addr::new(198, 19, (i / 250) as u8, (i % 250) as u8 + 1);
    SocketAddrV4::new(ip, 40_000 + i as u16)
}

/// The client's initial sequence number (the same for every connection: they differ by
/// address and port).
const ISN: u32 = 1_000;

/// The client of `c` sends segment number `k` of its connection to the VIP: 0 is the SYN, 1 the
/// handshake's ACK, later ones a few bytes of data each.
fn send(lan: &mut Lan, c: Conn, k: u32) {
    let (control, payload): (_, &[u8]) = match k {
        0 => (TcpControl::Syn, b""),
        1 => (TcpControl::None, b""),
        _ => (TcpControl::Psh, b"data"),
    };
    let seq = match k {
        0 => ISN,
        _ => ISN + 1 + (k - 1).saturating_sub(1) * 4,
    };
    let seg = Segment {
        src: c,
        dst: SocketAddrV4::new(VIP, 80),
        control,
        seq,
        ack: (k > 0).then_some(7_001),
    };
    lan.router.send(seg, payload);
}

/// Opens connections `range` at the current instant: SYN, and the ACK 1 ms later.
fn open(lan: &mut Lan, range: std::ops::Range<usize>) {
    for i in range.clone() {
        send(lan, conn(i), 0);
    }
    lan.run_until(lan.now + Duration::from_millis(1));
    for i in range {
        send(lan, conn(i), 1);
    }
    lan.run_until(lan.now);
}

/// The real servers that segments of `c` reached at or after `from`, in order.
fn landed(lan: &Lan, c: Conn, from: Instant) -> Vec<usize> {
    let mut seen: Vec<(Instant, usize)> = lan
        .servers
        .iter()
        .enumerate()
        .flat_map(|(i, s)| {
            s.arrivals
                .iter()
                .filter(move |a| a.conn == c && a.at >= from)
                .map(move |a| (a.at, i))
        })
        .collect();
    seen.sort();
    seen.into_iter().map(|(_, i)| i).collect()
}

/// The one real server connection `c` was given when it opened.
fn server_of(lan: &Lan, c: Conn) -> usize {
    let at = landed(lan, c, Instant::ZERO);
    assert!(!at.is_empty(), "{c} reached no real server");
    assert!(at.iter().all(|&s| s == at[0]), "{c} moved: {at:?}");
    at[0]
}
