//! The VRRP state machine: one router driven by hand (`single`), and two or three routers on an
//! in-memory link with a hand-moved clock (`net`, `failover`), every timing exact to the
//! microsecond.
//!
//! Numbers used throughout (interval 100 ms, skew rounded down to whole microseconds):
//!
//! | priority | Skew_Time  | Master_Down_Interval |
//! |---------:|-----------:|---------------------:|
//! | 100      | 60 937 µs  | 360 937 µs           |
//! | 150      | 41 406 µs  | 341 406 µs           |
//! | 200      | 21 875 µs  | 321 875 µs           |
//! | 255      |    390 µs  | 300 390 µs           |
//!
//! With a 1 s interval, priority 100: skew 609 375 µs, down interval 3 609 375 µs; priority 200:
//! skew 218 750 µs, down interval 3 218 750 µs.

use super::*;

mod failover;
mod net;
mod peers;
mod single;

const VRID: u8 = 51;
const A: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const B: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);
const C: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 4);
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);

/// An instant, in microseconds.
fn us(micros: i64) -> Instant {
    Instant::from_micros(micros)
}

/// An instant, in milliseconds.
fn ms(millis: i64) -> Instant {
    Instant::from_millis(millis)
}

/// keepalived-like defaults: VRID 51, one VIP, `advert_int 0.1`, preempt on, no delay, no
/// peer list (any source), at most one re-announcement a second.
fn config(own_addr: Ipv4Addr, priority: u8) -> VrrpConfig {
    VrrpConfig {
        vrid: VRID,
        priority,
        advert_interval: Duration::from_millis(100),
        preempt: true,
        preempt_delay: Duration::ZERO,
        vips: vec![VIP],
        own_addr,
        peers: Vec::new(),
        lower_prio_announce_interval: Duration::from_secs(1),
    }
}

/// An advert as a peer configured like [`config`] sends it.
fn advert(priority: u8) -> VrrpRepr {
    VrrpRepr {
        vrid: VRID,
        priority,
        max_advert_int_cs: 10,
        addresses: AddressList::from_slice(&[VIP]).unwrap(),
    }
}

#[test]
fn skew_and_down_interval_round_down_to_microseconds() {
    let i = Duration::from_millis(100);
    assert_eq!(skew_time(100, i), Duration::from_micros(60_937));
    assert_eq!(master_down_interval(100, i), Duration::from_micros(360_937));
    assert_eq!(skew_time(150, i), Duration::from_micros(41_406));
    assert_eq!(master_down_interval(200, i), Duration::from_micros(321_875));
    assert_eq!(skew_time(255, i), Duration::from_micros(390));
    assert_eq!(skew_time(1, i), Duration::from_micros(99_609));
    let second = Duration::from_secs(1);
    assert_eq!(
        master_down_interval(100, second),
        Duration::from_micros(3_609_375)
    );
    assert_eq!(
        master_down_interval(200, second),
        Duration::from_micros(3_218_750)
    );
}
