//! The frames in flight: whatever lane or heap a frame waits in, they come out by landing time
//! and, at one instant, in sending order, as one heap would give them.

use super::us;
use crate::emu::fabric::Hop;
use crate::emu::flight::Flight;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

fn hop(node: usize) -> Hop {
    Hop::Node { node, port: 0 }
}

#[test]
fn one_instant_goes_in_sending_order_across_lanes_and_heap() {
    let mut f = Flight::default();
    // Delays 50, 20, 30 and 40 take the four lanes; 10 and 5 wait in the heap.
    f.push(us(0), us(50), hop(0), 0, 1);
    f.push(us(10), us(30), hop(0), 1, 1);
    f.push(us(20), us(50), hop(0), 2, 1);
    f.push(us(20), us(60), hop(0), 3, 1);
    f.push(us(20), us(30), hop(0), 4, 1);
    f.push(us(25), us(30), hop(0), 5, 1);
    assert_eq!(f.len(), 6);
    let bufs: Vec<u32> = std::iter::from_fn(|| f.pop()).map(|x| x.buf).collect();
    assert_eq!(bufs, [1, 4, 5, 0, 2, 3]);
    assert!(f.is_empty());
}

#[test]
fn a_long_random_sequence_comes_out_as_one_heap_gives_it() {
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut f = Flight::default();
    let mut reference = BinaryHeap::new();
    let mut now = 0u64;
    let mut seq = 0u64;
    for _ in 0..200_000 {
        if rng.random_bool(0.55) {
            // Mostly the fabric's fixed delays, some jittered, some far out, some at once.
            let delay = match rng.random_range(0..10) {
                0..=3 => 20,
                4..=5 => 50,
                6 => 0,
                7 => rng.random_range(10_000..30_000),
                _ => rng.random_range(0..100),
            };
            seq += 1;
            f.push(us(now), us(now + delay), hop(0), seq as u32, 1);
            reference.push(Reverse((now + delay, seq)));
        } else {
            assert_eq!(f.peek_at(), reference.peek().map(|r| us(r.0.0)));
            let got = f.pop().map(|x| (x.at, x.buf));
            let want = reference
                .pop()
                .map(|Reverse((at, seq))| (us(at), seq as u32));
            assert_eq!(got, want);
            if let Some((at, _)) = got {
                // The loop's clock follows the frames it lands.
                now = now.max(at.total_micros() as u64);
            }
        }
        if rng.random_bool(0.1) {
            now += rng.random_range(0..30);
        }
        assert_eq!(f.len(), reference.len());
    }
}
