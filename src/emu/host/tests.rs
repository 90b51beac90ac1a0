//! A client and a server (and a bystander) on a hub, in virtual time.

mod conns;
mod cookies;
mod garp;
mod head;
mod kill;
mod net;
mod peer;
mod read;
mod request_socks;
mod segments;
mod udp;
mod udp_sets;

use super::{ClientConfig, Pacing, ServerConfig, ServerState, SimClient, SimServer, Sources};
use crate::client::Protocol;
use crate::emu::Node;
use crate::metrics::ClientReport;
use net::Hub;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, Ipv4Address, Ipv4Cidr};

const CLIENT: Ipv4Address = Ipv4Address::new(198, 18, 0, 1);
const SERVER: Ipv4Address = Ipv4Address::new(198, 18, 0, 11);
const VIP: Ipv4Address = Ipv4Address::new(198, 18, 0, 100);

/// A host that holds [`CLIENT`] alone.
struct Own;
impl super::stack::Addresses for Own {
    fn accepts(&self, dst: Ipv4Address) -> bool {
        dst == CLIENT
    }
    fn answers_arp(&self, target: Ipv4Address) -> bool {
        target == CLIENT
    }
}

fn server(arp_suppression: bool) -> SimServer {
    SimServer::new(server_config(arp_suppression))
}

/// rs1 on port 80, holding [`VIP`].
fn server_config(arp_suppression: bool) -> ServerConfig {
    ServerConfig {
        name: "rs1".into(),
        mac: EthernetAddress([2, 0, 0, 0, 0, 11]),
        addr: Ipv4Cidr::new(SERVER, 24),
        // The client plays the router: the 198.19/16 sources are behind it.
        gateway: Some(CLIENT),
        vips: vec![VIP],
        arp_suppression,
        protocol: Protocol::Tcp,
        port: 80,
        seed: 1,
    }
}

/// A closed-loop client of `n` requests, one worker, new connection per request.
fn client(n: u64) -> ClientConfig {
    ClientConfig {
        load: "web".into(),
        mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        addr: Ipv4Cidr::new(CLIENT, 24),
        gateway: None,
        sources: Sources::Range {
            first: Ipv4Address::new(198, 19, 0, 1),
            count: 1000,
        },
        target: (SERVER, 80),
        protocol: Protocol::Tcp,
        path: "/bytes/100".into(),
        udp_response_bytes: 100,
        pacing: Pacing::Closed {
            think: Duration::ZERO,
            backoff: Duration::from_millis(10),
        },
        concurrency: 1,
        requests_per_conn: 1,
        timeout: Duration::from_millis(500),
        max_requests: n,
        start: Instant::ZERO,
        duration: Duration::from_secs(10),
        interval: Duration::from_millis(250),
        seed: 7,
    }
}

/// Runs `client` against `server` until the load is over; the report, the end time and the
/// trace's hash.
fn run(config: ClientConfig, server: &mut SimServer) -> (ClientReport, Instant, u64) {
    use std::hash::Hasher;
    let mut client = SimClient::new(config);
    let mut hub = Hub::new(vec![&mut client, server]);
    let end = Instant::ZERO + Duration::from_secs(60);
    hub.run(end, |_| false);
    let (now, trace) = (hub.now, hub.trace.finish());
    drop(hub);
    assert!(client.is_done(), "the load ended by itself");
    (client.take_report().expect("a report"), now, trace)
}

/// Every frame sent in a run: its time, its sender (0: client, 1: server) and its bytes.
type Log = Vec<(Instant, usize, Vec<u8>)>;

/// Runs `client` against `server` for a minute, setting the server's state at each of
/// `changes` (ms); every frame sent.
fn run_changes(
    client: &mut SimClient,
    server: &mut SimServer,
    changes: &[(i64, ServerState)],
) -> Log {
    let (mut now, mut log, mut wire) = (Instant::ZERO, Vec::new(), Default::default());
    for i in 0..=changes.len() {
        let until = changes
            .get(i)
            .map_or(Instant::from_secs(60), |c| Instant::from_millis(c.0));
        let mut hub = Hub::new(vec![&mut *client, &mut *server]);
        (hub.now, hub.log, hub.wire) = (now, Some(log), wire);
        hub.run(until, |_| false);
        (log, wire) = (
            hub.log.take().unwrap_or_default(),
            std::mem::take(&mut hub.wire),
        );
        drop(hub);
        now = until;
        if let Some(&(_, state)) = changes.get(i) {
            server.set_state(now, state);
        }
    }
    log
}

fn errors(report: &ClientReport, kind: &str) -> u64 {
    report.total.errors.get(kind).copied().unwrap_or(0)
}

#[test]
fn new_connection_requests_are_all_answered_and_counted() {
    let mut server = server(true);
    let config = ClientConfig {
        concurrency: 3,
        ..client(30)
    };
    let (report, _, _) = run(config, &mut server);
    assert_eq!(report.total.ok, 30, "{:?}", report.total);
    assert_eq!(report.total.new_conns, 30);
    assert_eq!(report.total.servers["rs1"].requests, 30);
    // Head and 100 body bytes.
    assert!(report.total.bytes > 30 * 100, "{}", report.total.bytes);
    assert_eq!(server.stats().requests, 30);
    assert_eq!(server.stats().accepted, 30);
}

#[test]
fn keep_alive_reuses_one_connection() {
    let mut server = server(true);
    let config = ClientConfig {
        requests_per_conn: 0,
        ..client(10)
    };
    let (report, _, _) = run(config, &mut server);
    assert_eq!(report.total.ok, 10, "{:?}", report.total);
    assert_eq!(report.total.new_conns, 1);
    assert_eq!(server.stats().accepted, 1);
    assert_eq!(server.stats().requests, 10);
}

#[test]
fn keep_alive_opens_a_new_connection_after_requests_per_conn() {
    let mut server = server(true);
    let config = ClientConfig {
        requests_per_conn: 4,
        ..client(10)
    };
    let (report, _, _) = run(config, &mut server);
    assert_eq!(report.total.ok, 10, "{:?}", report.total);
    assert_eq!(report.total.new_conns, 3);
    assert_eq!(server.stats().accepted, 3);
}

#[test]
fn a_killed_server_refuses() {
    let mut server = server(true);
    server.set_state(Instant::ZERO, ServerState::Killed);
    let (report, _, _) = run(client(5), &mut server);
    assert_eq!(report.total.ok, 0);
    assert_eq!(errors(&report, "refused"), 5, "{:?}", report.total);
    assert_eq!(server.stats().accepted, 0);
}

#[test]
fn a_hung_server_makes_requests_time_out_after_the_timeout() {
    let mut server = server(true);
    server.set_state(Instant::ZERO, ServerState::Hung);
    let (report, end, _) = run(client(3), &mut server);
    assert_eq!(errors(&report, "timeout"), 3, "{:?}", report.total);
    // Three timeouts of 500 ms and two backoffs of 10 ms, then the last close.
    let ms = end.total_millis();
    assert!((1520..1600).contains(&ms), "ended at {ms} ms");
    assert_eq!(server.stats().accepted, 3);
    assert_eq!(server.stats().unanswered, 3);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn open_loop_keeps_its_rate() {
    let mut server = server(true);
    let config = ClientConfig {
        pacing: Pacing::Open { rate: 100.0 },
        concurrency: 8,
        max_requests: 1000,
        duration: Duration::from_secs(1),
        ..client(0)
    };
    let (report, _, _) = run(config, &mut server);
    assert_eq!(report.total.ok, 100, "{:?}", report.total);
    let per_interval: Vec<u64> = report.intervals.iter().map(|i| i.ok).collect();
    assert_eq!(per_interval, [25, 25, 25, 25]);
}

#[test]
fn the_vip_is_reached_only_if_the_server_answers_arp_for_it() {
    let to_vip = || ClientConfig {
        target: (VIP, 80),
        ..client(2)
    };
    let mut quiet = server(true);
    let (report, _, _) = run(to_vip(), &mut quiet);
    assert_eq!(errors(&report, "timeout"), 2, "{:?}", report.total);
    assert!(quiet.counters().arp_ignored > 0);
    let mut loud = server(false);
    let (report, _, _) = run(to_vip(), &mut loud);
    assert_eq!(report.total.ok, 2, "{:?}", report.total);
    assert_eq!(loud.counters().arp_ignored, 0);
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let config = |seed| ClientConfig {
        seed,
        concurrency: 4,
        ..client(40)
    };
    let (a, _, trace_a) = run(config(7), &mut server(true));
    let (b, _, trace_b) = run(config(7), &mut server(true));
    let (c, _, trace_c) = run(config(8), &mut server(true));
    assert_eq!(a, b);
    assert_eq!(trace_a, trace_b);
    assert_eq!(a.total.ok, c.total.ok);
    assert_ne!(
        trace_a, trace_c,
        "the seed draws ports and sequence numbers"
    );
}

#[test]
fn malformed_and_foreign_frames_are_dropped_and_counted() {
    let mut server = server(true);
    let now = Instant::ZERO;
    server.handle_frame(now, 0, &mut [0u8; 10]);
    let mut foreign = [0u8; 60];
    foreign[..6].copy_from_slice(&[2, 0, 0, 0, 0, 99]);
    foreign[12..14].copy_from_slice(&[0x08, 0x00]);
    server.handle_frame(now, 0, &mut foreign);
    let c = server.counters();
    assert_eq!((c.malformed, c.not_ours, c.frames_in), (1, 1, 0));
}
