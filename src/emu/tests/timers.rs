//! The deadline heap: earliest first, ties to the lowest node, a new deadline replaces the old
//! one, stale entries stay bounded, and a long random sequence agrees with a scan of every node.

use super::us;
use crate::emu::timers::Timers;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn earliest_first_and_ties_to_the_lowest_node_whatever_the_order_set() {
    let mut t = Timers::default();
    t.set(5, Some(us(30)));
    t.set(3, Some(us(20)));
    t.set(1, Some(us(20)));
    t.set(4, Some(us(10)));
    assert_eq!(t.peek(), Some((us(10), 4)));
    t.set(4, None);
    assert_eq!(t.peek(), Some((us(20), 1)));
    t.set(1, None);
    assert_eq!(t.peek(), Some((us(20), 3)));
    t.set(3, None);
    assert_eq!(t.peek(), Some((us(30), 5)));
    t.set(5, None);
    assert_eq!(t.peek(), None);
}

#[test]
fn a_new_deadline_replaces_the_old_one_earlier_or_later() {
    let mut t = Timers::default();
    t.set(0, Some(us(10)));
    t.set(1, Some(us(20)));
    t.set(0, Some(us(30)));
    assert_eq!(t.peek(), Some((us(20), 1)));
    assert_eq!(t.get(0), Some(us(30)));
    t.set(1, Some(us(40)));
    assert_eq!(t.peek(), Some((us(30), 0)));
    // Back to an instant it had before: the new entry counts, not the stale one.
    t.set(0, Some(us(10)));
    t.set(0, Some(us(50)));
    assert_eq!(t.peek(), Some((us(40), 1)));
}

#[test]
fn stale_entries_stay_bounded_and_unchanged_deadlines_push_nothing() {
    let mut t = Timers::default();
    t.set(1, Some(us(5)));
    for i in 0..10_000 {
        t.set(0, Some(us(1_000_000 + i)));
    }
    assert!(t.entries() <= 2 * 2 + 64 + 1, "{} entries", t.entries());
    assert_eq!(t.peek(), Some((us(5), 1)));
    let before = t.entries();
    t.set(1, Some(us(5)));
    assert_eq!(t.entries(), before);
}

#[test]
fn agrees_with_a_scan_of_every_node_on_a_long_random_run() {
    const NODES: usize = 150;
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let mut t = Timers::default();
    let mut scan: Vec<Option<u64>> = vec![None; NODES];
    for _ in 0..200_000 {
        let node = rng.random_range(0..NODES);
        let at = rng
            .random_range(0..4u32)
            .ne(&0)
            .then(|| rng.random_range(0..1_000u64));
        t.set(node, at.map(us));
        scan[node] = at;
        let want = scan
            .iter()
            .enumerate()
            .filter_map(|(n, d)| d.map(|d| (us(d), n)))
            .min();
        assert_eq!(t.peek(), want);
    }
}
