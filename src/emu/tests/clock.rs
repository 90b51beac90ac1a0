//! The event loop: idle time costs nothing, a livelock is reported, and a run is a function
//! of its seed (byte-identical traces).

use super::{Host, Seen, dus, frame, mac, us};
use crate::emu::Node;
use crate::emu::link::{Impairments, Rate};
use crate::emu::sim::{LIMIT, Sim};
use crate::wire::EthernetAddress;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use smoltcp::time::Instant;

#[test]
fn a_deadline_ten_seconds_ahead_costs_one_step() {
    let mut sim = Sim::new(1);
    let h = sim.add_node(Host::new(1));
    sim.node_mut(h)
        .script
        .push_back((us(10_000_000), 0, vec![]));
    sim.run_until(us(20_000_000)).unwrap();
    assert_eq!(sim.counters.steps, 1);
    assert_eq!(sim.node(h).timeouts, [us(10_000_000)]);
    assert_eq!(sim.now(), us(20_000_000));
}

/// Due now, for ever, and does nothing about it.
struct Stuck;

impl Node for Stuck {
    fn handle_frame(&mut self, _: Instant, _: usize, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, _: Instant, _: &mut [u8]) -> Option<(usize, usize)> {
        None
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        Some(Instant::from_millis(5))
    }
}

#[test]
fn a_node_that_stays_due_is_reported_not_spun_on() {
    let mut sim: Sim<Box<dyn Node>> = Sim::new(1);
    sim.add_node(Box::new(Host::new(1)));
    sim.add_node(Box::new(Stuck));
    let err = sim.run_until(us(1_000_000)).unwrap_err();
    assert_eq!((err.at, err.node), (Instant::from_millis(5), Some(1)));
    assert_eq!(sim.counters.steps, LIMIT + 1);
}

#[test]
fn two_echo_hosts_without_latency_are_a_livelock() {
    let zero = Impairments {
        latency: dus(0),
        ..Impairments::default()
    };
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::echo(1));
    let b = sim.add_node(Host::echo(2));
    sim.attach(a, 0, br0, zero).unwrap();
    sim.attach(b, 0, br0, zero).unwrap();
    sim.node_mut(a)
        .send_at(us(3), 0, frame(mac(2), mac(1), 0, 60));
    let err = sim.run_until(us(1_000)).unwrap_err();
    assert_eq!(err.at, us(3));
}

/// Four hosts on a switch with every impairment, sending random frames (from the test's own
/// seed) to random peers and broadcast; every host's arrivals, in order.
fn trace(seed: u64) -> Vec<Vec<Seen>> {
    let rough = Impairments {
        latency: dus(40),
        jitter: dus(30),
        reorder: true,
        loss: 0.05,
        rate: Some(Rate {
            bits_per_s: 5_000_000,
            burst_bytes: 3_000,
            queue_bytes: 6_000,
        }),
    };
    let mut sim = Sim::new(seed);
    let br0 = sim.add_switch();
    let mut traffic = ChaCha8Rng::seed_from_u64(99);
    for n in 1..=4u8 {
        let mut host = Host::new(n);
        host.echo = n == 4;
        for i in 0..500 {
            let at = us(i * 1_000 + traffic.random_range(0..1_000));
            let to = match traffic.random_range(0..5u8) {
                0 => EthernetAddress::BROADCAST,
                peer => mac(peer),
            };
            let len = traffic.random_range(60..1500);
            host.send_at(at, 0, frame(to, mac(n), i as u32, len));
        }
        let h = sim.add_node(host);
        sim.attach(h, 0, br0, rough).unwrap();
    }
    sim.run_until(us(1_000_000)).unwrap();
    assert!(sim.counters.lost > 0 && sim.counters.queue_full > 0);
    (0..4).map(|h| sim.node(h).seen.clone()).collect()
}

#[test]
fn the_same_seed_gives_byte_identical_traces() {
    let one = trace(5);
    let lens: Vec<usize> = one.iter().map(Vec::len).collect();
    assert!(lens.iter().all(|&n| n > 300), "traffic flowed: {lens:?}");
    assert_eq!(one, trace(5));
    assert_ne!(one, trace(6));
}
