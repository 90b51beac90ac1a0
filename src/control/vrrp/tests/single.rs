//! One router, driven by hand: configuration checks, timers, what it sends, what it drops.

use super::*;

fn router(priority: u8) -> VrrpRouter {
    VrrpRouter::new(config(A, priority)).unwrap()
}

fn drain_events(r: &mut VrrpRouter) -> Vec<VrrpEvent> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn drain_transmits(r: &mut VrrpRouter) -> Vec<VrrpRepr> {
    std::iter::from_fn(|| r.poll_transmit()).collect()
}

/// A router that became master at 360 937 µs (its down timer ran out) and sent its first advert.
fn master(priority: u8) -> VrrpRouter {
    let mut r = router(priority);
    r.start(ms(0));
    let at = r.poll_timeout().unwrap();
    r.handle_timeout(at);
    assert_eq!(r.state(), State::Master);
    drain_transmits(&mut r);
    drain_events(&mut r);
    r
}

#[test]
fn config_is_checked() {
    let bad = |f: fn(&mut VrrpConfig)| {
        let mut c = config(A, 100);
        f(&mut c);
        VrrpRouter::new(c).err()
    };
    assert_eq!(bad(|c| c.vrid = 0), Some(ConfigError::Vrid));
    assert_eq!(bad(|c| c.priority = 0), Some(ConfigError::Priority));
    assert_eq!(
        bad(|c| c.advert_interval = Duration::from_micros(15_500)),
        Some(ConfigError::Interval(15_500))
    );
    assert_eq!(
        bad(|c| c.advert_interval = Duration::ZERO),
        Some(ConfigError::Interval(0))
    );
    assert_eq!(
        bad(|c| c.advert_interval = Duration::from_millis(40_960)),
        Some(ConfigError::Interval(40_960_000))
    );
    assert_eq!(
        bad(|c| c.vips = vec![VIP; 17]),
        Some(ConfigError::TooManyVips(17))
    );
    assert_eq!(
        bad(|c| c.advert_interval = Duration::from_millis(40_950)),
        None
    );
    assert_eq!(bad(|c| c.advert_interval = Duration::from_millis(10)), None);
}

#[test]
fn init_does_nothing_until_started() {
    let mut r = router(100);
    assert_eq!(r.state(), State::Init);
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(ms(10_000));
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(r.poll_event(), None);
    assert_eq!(
        r.handle_advert(ms(1), B, &advert(200)),
        Verdict::Dropped(DropReason::NotRunning)
    );
    assert_eq!(r.counters().dropped_not_running, 1);
}

#[test]
fn start_as_backup_arms_the_down_timer() {
    let mut r = router(100);
    r.start(ms(5));
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_timeout(), Some(us(5_000 + 360_937)));
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::BecameBackup { at: ms(5) }]
    );
    assert_eq!(r.poll_transmit(), None);
    // A second start changes nothing.
    r.start(ms(50));
    assert_eq!(r.poll_timeout(), Some(us(5_000 + 360_937)));
    assert_eq!(r.poll_event(), None);
}

#[test]
fn owner_is_master_at_once() {
    let mut r = router(255);
    r.start(ms(7));
    assert_eq!(r.state(), State::Master);
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::BecameMaster { at: ms(7) }]
    );
    assert_eq!(drain_transmits(&mut r), [advert(255)]);
    assert_eq!(r.poll_timeout(), Some(ms(107)));
}

#[test]
fn down_timer_expiry_makes_master_and_advertises() {
    let mut r = router(100);
    r.start(ms(0));
    r.handle_timeout(us(360_936));
    assert_eq!(r.state(), State::Backup, "one microsecond early");
    r.handle_timeout(us(360_937));
    assert_eq!(r.state(), State::Master);
    let sent = drain_transmits(&mut r);
    assert_eq!(sent, [advert(100)]);
    assert_eq!(sent[0].addresses.as_slice(), [VIP]);
    assert_eq!(
        drain_events(&mut r),
        [
            VrrpEvent::BecameBackup { at: ms(0) },
            VrrpEvent::BecameMaster { at: us(360_937) }
        ]
    );
    assert_eq!(r.poll_timeout(), Some(us(460_937)));
}

#[test]
fn master_advertises_every_interval_without_bursts() {
    let mut r = master(100);
    for k in 1..=5 {
        let at = us(360_937 + k * 100_000);
        assert_eq!(r.poll_timeout(), Some(at));
        r.handle_timeout(at - Duration::from_micros(1));
        assert_eq!(r.poll_transmit(), None, "advert {k} early");
        r.handle_timeout(at);
        assert_eq!(drain_transmits(&mut r), [advert(100)]);
    }
    // Called 250 ms late: one advert, and the next one an interval after the late call.
    let late = us(860_937 + 250_000);
    r.handle_timeout(late);
    assert_eq!(drain_transmits(&mut r).len(), 1);
    assert_eq!(r.poll_timeout(), Some(late + Duration::from_millis(100)));
    assert_eq!(r.counters().adverts_sent, 7);
}

#[test]
fn master_answers_priority_zero_at_once_and_restarts_its_timer() {
    let mut r = master(100);
    assert_eq!(r.poll_timeout(), Some(us(460_937)));
    let at = us(390_000);
    assert_eq!(r.handle_advert(at, B, &advert(0)), Verdict::Accepted);
    assert_eq!(drain_transmits(&mut r), [advert(100)]);
    assert_eq!(r.poll_timeout(), Some(us(490_000)));
    assert_eq!(r.state(), State::Master);
    assert_eq!(r.counters().priority_zero_received, 1);
}

#[test]
fn master_yields_to_higher_priority_and_learns_its_interval() {
    let mut r = master(100);
    let better = VrrpRepr {
        max_advert_int_cs: 100,
        ..advert(101)
    };
    r.handle_advert(ms(400), B, &better);
    assert_eq!(r.state(), State::Backup);
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::BecameBackup { at: ms(400) }]
    );
    assert_eq!(r.master_adver_interval(), Duration::from_secs(1));
    assert_eq!(
        r.poll_timeout(),
        Some(ms(400) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn master_breaks_priority_ties_by_address() {
    // Equal priority from a higher address wins.
    let mut r = master(100);
    r.handle_advert(ms(400), B, &advert(100));
    assert_eq!(r.state(), State::Backup);
    // Equal priority from a lower address loses: re-announce.
    let mut r = VrrpRouter::new(config(B, 100)).unwrap();
    r.start(ms(0));
    r.handle_timeout(us(360_937));
    drain_transmits(&mut r);
    drain_events(&mut r);
    r.handle_advert(ms(400), A, &advert(100));
    assert_eq!(r.state(), State::Master);
    assert_eq!(drain_transmits(&mut r), [advert(100)]);
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::SplitBrainHealed {
            at: ms(400),
            peer: A
        }]
    );
}

#[test]
fn master_reannounces_to_lower_priority_and_keeps_its_schedule() {
    let mut r = master(100);
    r.handle_advert(ms(400), B, &advert(99));
    assert_eq!(r.state(), State::Master);
    assert_eq!(drain_transmits(&mut r), [advert(100)]);
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::SplitBrainHealed {
            at: ms(400),
            peer: B
        }]
    );
    assert_eq!(r.poll_timeout(), Some(us(460_937)));
}

#[test]
fn backup_takes_priority_zero_as_skew_time() {
    let mut r = router(100);
    r.start(ms(0));
    drain_events(&mut r);
    r.handle_advert(ms(50), B, &advert(0));
    assert_eq!(r.poll_timeout(), Some(us(50_000 + 60_937)));
    assert_eq!(
        drain_events(&mut r),
        [VrrpEvent::MasterResigned {
            at: ms(50),
            peer: B
        }]
    );
    r.handle_timeout(us(110_937));
    assert_eq!(r.state(), State::Master);
}

#[test]
fn backup_resets_on_equal_or_higher_priority() {
    let mut r = router(100);
    r.start(ms(0));
    r.handle_advert(ms(200), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(200_000 + 360_937)));
    r.handle_advert(ms(300), B, &advert(254));
    assert_eq!(r.poll_timeout(), Some(us(300_000 + 360_937)));
}

#[test]
fn backup_with_preempt_ignores_lower_priority() {
    let mut r = router(100);
    r.start(ms(0));
    r.handle_advert(ms(200), B, &advert(99));
    assert_eq!(r.poll_timeout(), Some(us(360_937)));
}

#[test]
fn preempt_delay_clock_starts_at_the_first_lower_advert_and_clears_on_a_higher_one() {
    let mut r = VrrpRouter::new(VrrpConfig {
        preempt_delay: Duration::from_millis(500),
        ..config(A, 200)
    })
    .unwrap();
    r.start(ms(0));
    // Deferring from 100 ms until 600 ms.
    r.handle_advert(ms(100), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(100_000 + 321_875)));
    r.handle_advert(ms(599), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(599_000 + 321_875)));
    r.handle_advert(ms(600), B, &advert(100));
    assert_eq!(
        r.poll_timeout(),
        Some(us(599_000 + 321_875)),
        "still deferring"
    );
    // A higher master clears the clock: the next lower master gets a fresh 500 ms.
    r.handle_advert(ms(700), C, &advert(250));
    r.handle_advert(ms(800), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(800_000 + 321_875)));
    r.handle_advert(ms(1_299), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(1_299_000 + 321_875)));
    r.handle_advert(ms(1_300), B, &advert(100));
    assert_eq!(r.poll_timeout(), Some(us(1_299_000 + 321_875)));
}

#[test]
fn backup_learns_the_interval_from_any_advert_it_accepts() {
    let mut r = router(100);
    r.start(ms(0));
    let slow = VrrpRepr {
        max_advert_int_cs: 100,
        ..advert(200)
    };
    r.handle_advert(ms(50), B, &slow);
    assert_eq!(r.master_adver_interval(), Duration::from_secs(1));
    assert_eq!(r.skew_time(), Duration::from_micros(609_375));
    assert_eq!(r.poll_timeout(), Some(us(50_000 + 3_609_375)));
    // Priority 0 uses the learnt interval's skew.
    r.handle_advert(
        ms(60),
        B,
        &VrrpRepr {
            priority: 0,
            ..slow
        },
    );
    assert_eq!(r.poll_timeout(), Some(us(60_000 + 609_375)));
}

#[test]
fn backup_without_preempt_defers_to_lower_priority() {
    let mut r = VrrpRouter::new(VrrpConfig {
        preempt: false,
        ..config(A, 100)
    })
    .unwrap();
    r.start(ms(0));
    r.handle_advert(ms(200), B, &advert(99));
    assert_eq!(r.poll_timeout(), Some(us(200_000 + 360_937)));
}

#[test]
fn shutdown_from_master_sends_one_priority_zero_advert() {
    let mut r = master(100);
    r.shutdown(ms(400));
    assert_eq!(r.state(), State::Init);
    assert_eq!(drain_transmits(&mut r), [advert(0)]);
    assert_eq!(drain_events(&mut r), [VrrpEvent::Stopped]);
    assert_eq!(r.poll_timeout(), None);
    r.handle_timeout(ms(10_000));
    r.shutdown(ms(10_001));
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(r.poll_event(), None);
    assert_eq!(r.counters().priority_zero_sent, 1);
}

#[test]
fn shutdown_from_backup_sends_nothing() {
    let mut r = router(100);
    r.start(ms(0));
    drain_events(&mut r);
    r.shutdown(ms(100));
    assert_eq!(r.state(), State::Init);
    assert_eq!(r.poll_transmit(), None);
    assert_eq!(drain_events(&mut r), [VrrpEvent::Stopped]);
    assert_eq!(r.poll_timeout(), None);
    // It can start again.
    r.start(ms(200));
    assert_eq!(r.state(), State::Backup);
}

#[test]
fn foreign_and_bogus_adverts_are_dropped_and_counted() {
    let mut r = router(100);
    r.start(ms(0));
    let deadline = r.poll_timeout();
    let other_vrid = VrrpRepr {
        vrid: 52,
        ..advert(200)
    };
    let other_vips = VrrpRepr {
        addresses: AddressList::from_slice(&[Ipv4Addr::new(198, 18, 0, 101)]).unwrap(),
        ..advert(200)
    };
    let zero_interval = VrrpRepr {
        max_advert_int_cs: 0,
        ..advert(200)
    };
    let cases = [
        (B, other_vrid, DropReason::WrongVrid),
        (A, advert(200), DropReason::OwnAdvert),
        (B, other_vips, DropReason::AddressMismatch),
        (B, zero_interval, DropReason::ZeroInterval),
    ];
    for (src, repr, reason) in cases {
        assert_eq!(
            r.handle_advert(ms(100), src, &repr),
            Verdict::Dropped(reason)
        );
    }
    assert_eq!(r.poll_timeout(), deadline, "a dropped advert moved a timer");
    let c = r.counters();
    assert_eq!(
        (
            c.dropped_wrong_vrid,
            c.dropped_own_advert,
            c.dropped_address_mismatch
        ),
        (1, 1, 1)
    );
    assert_eq!((c.dropped_zero_interval, c.adverts_accepted), (1, 0));
    // The owner's list is authoritative: accepted even if it differs.
    let owner = VrrpRepr {
        priority: 255,
        ..other_vips
    };
    assert_eq!(r.handle_advert(ms(100), B, &owner), Verdict::Accepted);
    // Order of the addresses does not matter.
    let mut two = VrrpRouter::new(VrrpConfig {
        vips: vec![VIP, Ipv4Addr::new(198, 18, 0, 101)],
        ..config(A, 100)
    })
    .unwrap();
    two.start(ms(0));
    let swapped = VrrpRepr {
        addresses: AddressList::from_slice(&[Ipv4Addr::new(198, 18, 0, 101), VIP]).unwrap(),
        ..advert(200)
    };
    assert_eq!(two.handle_advert(ms(1), B, &swapped), Verdict::Accepted);
}
