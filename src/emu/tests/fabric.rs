//! Latency to the microsecond, learning and flooding, cut-through for known destinations, two
//! switches, a point-to-point cable, and bad frames dropped and counted.

use super::{Host, dus, frame, mac, us};
use crate::emu::link::{Impairments, Rate};
use crate::emu::sim::Sim;
use crate::wire::EthernetAddress;
use smoltcp::time::Instant;

fn latency(micros: u64) -> Impairments {
    Impairments {
        latency: dus(micros),
        ..Impairments::default()
    }
}

/// A (30 µs cable) and B (50 µs) and C (default) on one switch; B echoes.
fn three() -> Sim<Host> {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::new(1));
    let b = sim.add_node(Host::echo(2));
    let c = sim.add_node(Host::new(3));
    sim.attach(a, 0, br0, latency(30)).unwrap();
    sim.attach(b, 0, br0, latency(50)).unwrap();
    sim.attach(c, 0, br0, Impairments::default()).unwrap();
    sim
}

#[test]
fn a_frame_arrives_at_send_plus_both_cables_latency_and_learning_stops_the_flood() {
    let mut sim = three();
    // To B's MAC, not yet learned: flooded to B and C.
    sim.node_mut(0)
        .send_at(us(1_000), 0, frame(mac(2), mac(1), 7, 60));
    sim.run_until(us(10_000)).unwrap();
    let b = &sim.node(1).seen;
    assert_eq!(b.len(), 1);
    assert_eq!((b[0].at, b[0].port, b[0].tag), (us(1_080), 0, 7));
    // C got the flood after 30 + 20 µs, but not B's echo: the switch learned A's port.
    let c: Vec<_> = sim.node(2).seen.iter().map(|s| s.at).collect();
    assert_eq!(c, [us(1_050)]);
    // The echo, unicast to A: 50 + 30 µs after B got it.
    let a = &sim.node(0).seen;
    assert_eq!(a.len(), 1);
    assert_eq!((a[0].at, a[0].tag), (us(1_160), 7));
    let br0 = &sim.fabric.switches[0];
    assert_eq!(br0.port_of(mac(1)), Some(0));
    assert_eq!(br0.port_of(mac(2)), Some(1));
    assert_eq!((br0.stats.flooded, br0.stats.forwarded), (1, 1));
}

/// B's echo to A (known by then) with A's cable plain or rate-limited: the steps the echo
/// costs, and when A gets it.
fn echo_steps(a_cable: Impairments) -> (u64, Instant) {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::new(1));
    let b = sim.add_node(Host::echo(2));
    sim.attach(a, 0, br0, a_cable).unwrap();
    sim.attach(b, 0, br0, latency(50)).unwrap();
    sim.node_mut(a)
        .send_at(us(1_000), 0, frame(mac(2), mac(1), 7, 60));
    // B has the frame (and has sent its echo) at 1,000 + 30 + 50 µs.
    sim.run_until(us(1_080)).unwrap();
    assert_eq!(sim.node(b).seen.len(), 1);
    let before = sim.counters.steps;
    sim.run_until(us(10_000)).unwrap();
    let got = &sim.node(a).seen;
    assert_eq!(got.len(), 1);
    assert_eq!(sim.fabric.switches[br0].stats.forwarded, 1);
    (sim.counters.steps - before, got[0].at)
}

#[test]
fn a_known_destination_over_plain_cables_skips_the_switch_landing_not_the_latency() {
    // Plain: switched when sent, one landing (at A), at 50 + 30 µs as through the switch.
    assert_eq!(echo_steps(latency(30)), (1, us(1_160)));
    // A rate limit on A's cable: the frame lands at the switch first (its queue is kept in
    // time order), and arrives at the same instant (a 1 Tbit/s bucket costs no time here).
    let limited = Impairments {
        rate: Some(Rate {
            bits_per_s: 1_000_000_000_000,
            burst_bytes: 1_000_000,
            queue_bytes: 1_000_000,
        }),
        ..latency(30)
    };
    assert_eq!(echo_steps(limited), (2, us(1_160)));
}

#[test]
fn broadcast_reaches_every_other_port_of_its_switch_only() {
    let mut sim = Sim::new(1);
    let (br0, br1) = (sim.add_switch(), sim.add_switch());
    let hosts: Vec<usize> = (1..=4).map(|n| sim.add_node(Host::new(n))).collect();
    // A router-like node with one port on each switch.
    let router = sim.add_node(Host::new(9));
    for &h in &hosts[..2] {
        sim.attach(h, 0, br0, Impairments::default()).unwrap();
    }
    for &h in &hosts[2..] {
        sim.attach(h, 0, br1, Impairments::default()).unwrap();
    }
    sim.attach(router, 0, br0, Impairments::default()).unwrap();
    sim.attach(router, 1, br1, Impairments::default()).unwrap();
    let bcast = frame(EthernetAddress::BROADCAST, mac(1), 1, 60);
    sim.node_mut(hosts[0]).send_at(us(0), 0, bcast);
    sim.run_until(us(1_000)).unwrap();
    let got = |n: usize| sim.node(n).seen.len();
    assert_eq!([got(0), got(1), got(2), got(3)], [0, 1, 0, 0]);
    let r = &sim.node(router).seen;
    assert_eq!((r.len(), r[0].port, r[0].at), (1, 0, us(40)));
}

#[test]
fn a_point_to_point_cable_has_one_latency_each_way() {
    let mut sim = Sim::new(1);
    let a = sim.add_node(Host::new(1));
    let b = sim.add_node(Host::echo(2));
    sim.connect((a, 1), (b, 3), latency(7)).unwrap();
    sim.node_mut(a)
        .send_at(us(100), 1, frame(mac(2), mac(1), 5, 60));
    sim.run_until(us(1_000)).unwrap();
    let b = &sim.node(b).seen;
    assert_eq!((b[0].at, b[0].port), (us(107), 3));
    let a = &sim.node(a).seen;
    assert_eq!((a[0].at, a[0].port, a[0].tag), (us(114), 1, 5));
    assert!(
        sim.connect((0, 1), (1, 0), latency(1)).is_err(),
        "port in use"
    );
}

#[test]
fn bad_frames_are_dropped_and_counted() {
    let mut sim = three();
    // Shorter than an Ethernet header; empty; out of a port without a cable.
    sim.node_mut(0).send_at(us(0), 0, vec![0xff; 5]);
    sim.node_mut(0).send_at(us(1), 0, Vec::new());
    sim.node_mut(0)
        .send_at(us(2), 4, frame(mac(2), mac(1), 1, 60));
    sim.run_until(us(1_000)).unwrap();
    assert_eq!(sim.fabric.switches[0].stats.malformed, 1);
    assert_eq!(sim.counters.malformed, 1);
    assert_eq!(sim.counters.unwired, 1);
    assert_eq!(sim.counters.delivered, 0);
}

#[test]
fn a_flood_reaches_the_newest_port_first_as_a_linux_bridge_floods() {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::new(1));
    sim.attach(a, 0, br0, Impairments::default()).unwrap();
    // Three echoing hosts plugged in after A, in order, on equal cables: their echoes of one
    // broadcast reach A in the order the flood delivered it to them.
    for n in 2..=4 {
        let h = sim.add_node(Host::echo(n));
        sim.attach(h, 0, br0, Impairments::default()).unwrap();
    }
    let bcast = frame(EthernetAddress::BROADCAST, mac(1), 5, 60);
    sim.node_mut(a).send_at(us(0), 0, bcast);
    sim.run_until(us(1_000)).unwrap();
    let echo_of = |n: u8| super::hash(&frame(mac(1), mac(n), 5, 60));
    let order: Vec<u64> = sim.node(a).seen.iter().map(|s| s.hash).collect();
    assert_eq!(order, [echo_of(4), echo_of(3), echo_of(2)]);
}
