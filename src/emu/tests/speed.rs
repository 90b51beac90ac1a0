//! A quick measurement, printed and never asserted: two hosts ping-pong one frame through a
//! switch (20 µs per cable, so one delivery every 40 µs of virtual time) for 10 simulated
//! seconds. `cargo test --release --lib emu::tests::speed -- --nocapture` shows the figures.

use super::{Host, frame, mac, us};
use crate::emu::link::Impairments;
use crate::emu::sim::Sim;

#[test]
fn ping_pong_frames_per_second_and_simulated_seconds_per_wall_second() {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::echo(1));
    let b = sim.add_node(Host::echo(2));
    sim.attach(a, 0, br0, Impairments::default()).unwrap();
    sim.attach(b, 0, br0, Impairments::default()).unwrap();
    // Both echo, neither keeps a log: the loop and the fabric are what is measured.
    sim.node_mut(a).quiet = true;
    sim.node_mut(b).quiet = true;
    sim.node_mut(b)
        .send_at(us(0), 0, frame(mac(1), mac(2), 1, 64));
    let simulated = 10_000_000;
    let wall = std::time::Instant::now();
    sim.run_until(us(simulated)).unwrap();
    let secs = wall.elapsed().as_secs_f64();
    // A frame every 40 µs: 250 000 deliveries in 10 s (the last lands exactly at 10 s).
    assert_eq!(sim.counters.delivered, 250_000);
    let frames = sim.counters.delivered as f64;
    println!(
        "emu ping-pong: {} frames, {} steps in {:.3} s wall: {:.0} frames/s, {:.0} steps/s, \
         {:.0} simulated s per wall s",
        sim.counters.delivered,
        sim.counters.steps,
        secs,
        frames / secs,
        sim.counters.steps as f64 / secs,
        simulated as f64 / 1e6 / secs,
    );
}
