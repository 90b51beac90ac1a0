//! The deadline tree: earliest first, ties to the lowest node, a new deadline replaces the old
//! one, nodes added later keep the others' deadlines, and a long random sequence agrees with a
//! scan of every node.

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
fn a_node_added_later_keeps_the_deadlines_set_before_it() {
    let mut t = Timers::default();
    t.set(1, Some(us(5)));
    t.set(0, Some(us(7)));
    t.set(100, Some(us(6)));
    assert_eq!(t.get(1), Some(us(5)));
    assert_eq!(t.get(0), Some(us(7)));
    assert_eq!(t.get(57), None);
    assert_eq!(t.peek(), Some((us(5), 1)));
    t.set(1, None);
    assert_eq!(t.peek(), Some((us(6), 100)));
    t.set(100, None);
    assert_eq!(t.peek(), Some((us(7), 0)));
}

#[test]
fn times_before_zero_order_before_later_ones() {
    let mut t = Timers::default();
    t.set(0, Some(us(3)));
    t.set(1, Some(smoltcp::time::Instant::from_micros(-4)));
    assert_eq!(t.peek(), Some((smoltcp::time::Instant::from_micros(-4), 1)));
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

#[test]
fn deadlines_years_away_sort_after_every_nearer_one() {
    let mut t = Timers::default();
    let far = smoltcp::time::Instant::from_secs(100 * 365 * 24 * 3600_i64);
    t.set(0, Some(far));
    t.set(1, Some(us(9)));
    assert_eq!(t.peek(), Some((us(9), 1)));
    t.set(1, None);
    assert_eq!(t.peek().map(|(_, n)| n), Some(0));
}
