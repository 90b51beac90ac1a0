//! Impairments in virtual time: loss rate per seed, the token bucket's spacing and tail drop,
//! jitter with and without reordering.

use super::{Host, Seen, dus, frame, mac, us};
use crate::emu::link::{Impairments, Rate};
use crate::emu::sim::Sim;

/// A sends `frames` frames to B, one every 100 µs, A's cable impaired by `imp`, B's clean.
fn stream(seed: u64, imp: Impairments, frames: u32, len: usize) -> Sim<Host> {
    let mut sim = Sim::new(seed);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::new(1));
    let b = sim.add_node(Host::new(2));
    sim.attach(a, 0, br0, imp).unwrap();
    sim.attach(b, 0, br0, Impairments::default()).unwrap();
    for i in 0..frames {
        let at = us(100 * u64::from(i));
        sim.node_mut(a)
            .send_at(at, 0, frame(mac(2), mac(1), i, len));
    }
    sim.run_until(us(100 * u64::from(frames) + 1_000_000))
        .unwrap();
    sim
}

fn tags(seen: &[Seen]) -> Vec<u32> {
    seen.iter().map(|s| s.tag).collect()
}

#[test]
fn ten_percent_loss_over_ten_thousand_frames_and_the_same_frames_for_the_same_seed() {
    let lossy = Impairments {
        loss: 0.1,
        ..Impairments::default()
    };
    let run = |seed| stream(seed, lossy, 10_000, 60);
    let (one, again, other) = (run(3), run(3), run(4));
    let got = one.node(1).seen.len();
    // Binomial(10 000, 0.9): σ = 30; 5σ either side.
    assert!((8_850..=9_150).contains(&got), "{got} of 10000 arrived");
    assert_eq!(one.counters.lost as usize, 10_000 - got);
    assert_eq!(one.fabric.cables[0].up.stats.lost as usize, 10_000 - got);
    assert_eq!(tags(&one.node(1).seen), tags(&again.node(1).seen));
    assert_ne!(tags(&one.node(1).seen), tags(&other.node(1).seen));
}

#[test]
fn the_token_bucket_spaces_frames_and_drops_what_the_queue_cannot_hold() {
    // 1 Mbit/s: a 1000-byte frame takes 8 ms. A burst of one frame, a queue of four.
    let rate = Impairments {
        latency: dus(0),
        rate: Some(Rate {
            bits_per_s: 1_000_000,
            burst_bytes: 1_000,
            queue_bytes: 4_000,
        }),
        ..Impairments::default()
    };
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let a = sim.add_node(Host::new(1));
    let b = sim.add_node(Host::new(2));
    sim.attach(a, 0, br0, rate).unwrap();
    sim.attach(b, 0, br0, Impairments::default()).unwrap();
    for i in 0..10 {
        sim.node_mut(a)
            .send_at(us(0), 0, frame(mac(2), mac(1), i, 1_000));
    }
    // After a second idle, the bucket is full again: one frame leaves at once, the next 8 ms on.
    for i in 10..12 {
        let f = frame(mac(2), mac(1), i, 1_000);
        sim.node_mut(a).send_at(us(1_000_000), 0, f);
    }
    sim.run_until(us(2_000_000)).unwrap();
    let seen: Vec<_> = sim.node(1).seen.iter().map(|s| (s.tag, s.at)).collect();
    let want = [
        (0, us(20)),
        (1, us(8_020)),
        (2, us(16_020)),
        (3, us(24_020)),
        (4, us(32_020)),
        (10, us(1_000_020)),
        (11, us(1_008_020)),
    ];
    assert_eq!(seen, want);
    assert_eq!(sim.counters.queue_full, 5);
    assert_eq!(sim.fabric.cables[0].up.stats.queue_full, 5);
}

#[test]
fn jitter_keeps_order_unless_reorder_is_set() {
    let jittery = |reorder| Impairments {
        latency: dus(500),
        jitter: dus(400),
        reorder,
        ..Impairments::default()
    };
    // One frame every 100 µs, ±400 µs of jitter: reordering is likely when allowed.
    let kept = stream(9, jittery(false), 2_000, 60);
    let free = stream(9, jittery(true), 2_000, 60);
    let order = |sim: &Sim<Host>| tags(&sim.node(1).seen);
    let sorted: Vec<u32> = (0..2_000).collect();
    assert_eq!(order(&kept), sorted);
    assert_ne!(order(&free), sorted);
    // Every delay within latency ± jitter, plus B's 20 µs; both ends of the range drawn.
    let delays = |sim: &Sim<Host>| -> Vec<u64> {
        let seen = &sim.node(1).seen;
        let sent = |s: &Seen| us(100 * u64::from(s.tag));
        seen.iter()
            .map(|s| (s.at - sent(s)).total_micros())
            .collect()
    };
    for sim in [&kept, &free] {
        let d = delays(sim);
        assert!(d.iter().all(|d| (120..=920).contains(d)), "{d:?}");
    }
    let d = delays(&free);
    let (lo, hi) = (d.iter().min().unwrap(), d.iter().max().unwrap());
    assert!(*lo < 140 && *hi > 900, "{lo}..{hi}");
}
