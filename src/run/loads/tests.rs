//! The runner's conversion of scenario loads into client settings, on the shipped scenarios.

use super::*;
use crate::client::{ConnMode, Mode as ClientMode, Protocol as ClientProtocol};
use std::time::Duration;

fn scenario(name: &str) -> Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name);
    Scenario::load(&path).unwrap()
}

/// The settings of every load of `name`, checked and parsed back from their command line.
fn settings(name: &str) -> Vec<client::Args> {
    let s = scenario(name);
    let out = Path::new("/results/x/load.json");
    let all: Vec<_> = (s.loads.iter().enumerate())
        .map(|(i, l)| client_args(&s, i, l, out, 1_000))
        .collect();
    for a in &all {
        a.check().unwrap();
        let line = a.command_line();
        assert_eq!(&client::Args::parse_words(&line[1..]).unwrap(), a);
    }
    all
}

#[test]
fn syn_flood_loads_become_a_bounded_flood_and_real_clients() {
    let [keep, web, flood] = &settings("syn-flood.toml")[..] else {
        panic!("three loads");
    };
    let vip = "198.18.0.100:80".parse().unwrap();
    assert_eq!((keep.target, web.target, flood.target), (vip, vip, vip));
    assert_eq!(keep.load, "keep");
    assert_eq!(
        (keep.mode, keep.connection),
        (ClientMode::Closed, ConnMode::Keepalive)
    );
    assert_eq!(
        (keep.concurrency, keep.clients, keep.requests_per_conn),
        (50, 50, 0)
    );
    assert_eq!(keep.think, Duration::from_millis(200));
    assert_eq!(keep.response_bytes, Some(1000));
    assert_eq!(
        (web.mode, web.rate, web.clients),
        (ClientMode::Open, 200.0, 1000)
    );
    assert_ne!(
        keep.client_base, web.client_base,
        "each load its own addresses"
    );
    assert_eq!(web.client_base, IpAddr::V4(client_base(1)));
    assert!(!keep.syn_flood && !web.syn_flood && flood.syn_flood);
    assert_eq!(flood.rate, 50_000.0);
    assert_eq!(flood.max_requests, 200_000, "50,000/s for 4 s");
    assert_eq!(flood.start_at_unix_ms, Some(1_000 + 3_000));
    assert_eq!(keep.start_at_unix_ms, Some(1_000));
    for a in [keep, web, flood] {
        assert_eq!(
            a.duration,
            Duration::from_secs(if a.syn_flood { 4 } else { 12 })
        );
        assert_eq!(a.out.as_deref(), Some(Path::new("/results/x/load.json")));
    }
}

#[test]
fn udp_services_get_udp_loads() {
    let [dns] = &settings("dr-udp.toml")[..] else {
        panic!("one load");
    };
    assert_eq!(dns.protocol, ClientProtocol::Udp);
    assert_eq!(
        (dns.mode, dns.rate, dns.concurrency),
        (ClientMode::Open, 1000.0, 256)
    );
    assert_eq!((dns.clients, dns.response_bytes), (300, Some(200)));
    assert_eq!(
        (dns.timeout, dns.interval),
        (Duration::from_secs(1), Duration::from_millis(250))
    );
    assert_eq!(dns.target.port(), 53);
}

#[test]
fn direct_mode_loads_go_to_the_real_server() {
    let mut s = scenario("dr-basic.toml");
    s.lab.mode = Mode::Direct;
    let a = client_args(&s, 0, &s.loads[0], Path::new("o.json"), 0);
    let server = SocketAddr::from((s.server_address(0), s.server_port(0)));
    assert_eq!(a.target, server);
    assert_ne!(a.target.ip(), IpAddr::V4(s.service.vip));
}
