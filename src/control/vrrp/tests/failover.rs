//! Two or three routers on one link: start-up, crash, clean shutdown, freeze/thaw, partitions,
//! preemption, learning the master's interval. Every instant is exact (see the table in
//! `tests.rs`); router 0 is A (198.18.0.2), 1 is B (.3), 2 is C (.4).

use super::net::Net;
use super::*;

const RA: usize = 0;
const RB: usize = 1;
const RC: usize = 2;

/// A (priority 200) and B (100) started together at 0 and run to 1 s: A is master since
/// 321 875 µs (its down interval), advertising at 321 875 + k × 100 000 µs.
fn pair() -> Net {
    let mut net = Net::new([config(A, 200), config(B, 100)]);
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    net
}

#[test]
fn higher_priority_becomes_master_after_its_own_down_interval() {
    let net = pair();
    assert_eq!(
        net.events(RA),
        [
            (ms(0), VrrpEvent::BecameBackup { at: ms(0) }),
            (us(321_875), VrrpEvent::BecameMaster { at: us(321_875) }),
        ]
    );
    assert_eq!(
        net.events(RB),
        [(ms(0), VrrpEvent::BecameBackup { at: ms(0) })]
    );
    let expected: Vec<_> = (0..7).map(|k| (us(321_875 + k * 100_000), 200)).collect();
    assert_eq!(net.adverts(RA, ms(0), ms(1_000)), expected);
    assert_eq!(net.adverts(RB, ms(0), ms(1_000)), []);
    // B's down timer runs from A's last advert.
    assert_eq!(net.router(RB).poll_timeout(), Some(us(921_875 + 360_937)));
}

#[test]
fn crashed_master_is_replaced_after_master_down_interval() {
    let mut net = pair();
    net.crash(RA); // A's last advert went out at 921 875 µs.
    net.run_until(us(921_875 + 360_937 - 1));
    assert_eq!(net.state(RB), State::Backup);
    net.run_until(ms(1_500));
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_282_812), VrrpEvent::BecameMaster { at: us(1_282_812) }))
    );
    assert_eq!(
        net.adverts(RB, ms(0), ms(1_500)),
        [
            (us(1_282_812), 100),
            (us(1_382_812), 100),
            (us(1_482_812), 100)
        ]
    );
}

#[test]
fn clean_shutdown_hands_over_after_skew_time_only() {
    let mut net = pair();
    net.shutdown(RA);
    assert_eq!(net.adverts(RA, ms(1_000), ms(2_000)), [(ms(1_000), 0)]);
    assert_eq!(net.state(RA), State::Init);
    assert_eq!(net.router(RA).poll_timeout(), None);
    assert_eq!(
        net.events(RB).last(),
        Some(&(
            ms(1_000),
            VrrpEvent::MasterResigned {
                at: ms(1_000),
                peer: A
            }
        ))
    );
    net.run_until(us(1_060_936));
    assert_eq!(net.state(RB), State::Backup);
    net.run_until(ms(2_000));
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_060_937), VrrpEvent::BecameMaster { at: us(1_060_937) }))
    );
    assert_eq!(
        net.events(RA).last(),
        Some(&(ms(1_000), VrrpEvent::Stopped))
    );
    assert_eq!(
        net.adverts(RA, ms(1_001), ms(2_000)),
        [],
        "A sent after stopping"
    );
}

#[test]
fn frozen_master_is_replaced_and_reclaims_on_thaw() {
    let mut net = pair();
    net.freeze(RA);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RA, RB], "A still believes it is master");
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_282_812), VrrpEvent::BecameMaster { at: us(1_282_812) }))
    );
    // On SIGCONT A's overdue advert timer fires at once; B hears priority 200 and yields.
    net.thaw(RA);
    assert_eq!(net.adverts(RA, ms(2_000), ms(2_001)), [(ms(2_000), 200)]);
    assert_eq!(net.masters(), [RA]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(ms(2_000), VrrpEvent::BecameBackup { at: ms(2_000) }))
    );
    net.run_until(ms(3_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(net.adverts(RA, ms(2_001), ms(2_101)), [(ms(2_100), 200)]);
    assert_eq!(net.adverts(RB, ms(2_001), ms(3_000)), []);
}

#[test]
fn healed_partition_winner_reannounces_at_once() {
    let mut net = pair();
    net.partition(RA, RB);
    net.run_until(ms(1_950));
    // Split brain: B took over at 921 875 + 360 937 and advertises at 1 282 812 + k × 100 ms.
    assert_eq!(net.masters(), [RA, RB]);
    net.repair(RA, RB);
    // B's advert at 1 982 812 µs comes before A's at 2 021 875: A hears a lower priority,
    // advertises at once, and B yields at that same instant.
    net.run_until(ms(2_100));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(
        net.events(RA).last(),
        Some(&(
            us(1_982_812),
            VrrpEvent::SplitBrainHealed {
                at: us(1_982_812),
                peer: B
            }
        ))
    );
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_982_812), VrrpEvent::BecameBackup { at: us(1_982_812) }))
    );
    // The re-announcement is extra: A's regular schedule goes on.
    assert_eq!(
        net.adverts(RA, ms(1_950), ms(2_100)),
        [(us(1_982_812), 200), (us(2_021_875), 200)]
    );
    assert_eq!(
        net.adverts(RB, ms(1_950), ms(2_100)),
        [(us(1_982_812), 100)]
    );
}

/// A and B at equal priority 100, split by a partition at 1 s, repaired at `repair`.
fn tie(repair: Instant) -> Net {
    let mut net = Net::new([config(A, 100), config(B, 100)]);
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    // Both down timers ran out at 360 937 µs; A's fired first and its advert reset B's
    // (a backup compares priorities only), so the lower address is master.
    assert_eq!(net.masters(), [RA]);
    net.partition(RA, RB);
    net.run_until(repair);
    // A's last advert reached B at 960 937: B took over at 960 937 + 360 937 = 1 321 874 and
    // advertises at 1 321 874 + k × 100 ms; A goes on at 1 360 937 + k × 100 ms.
    assert_eq!(net.masters(), [RA, RB]);
    net.repair(RA, RB);
    net
}

#[test]
fn healed_tie_higher_address_stays_master_and_reannounces() {
    let mut net = tie(ms(1_430));
    net.run_until(ms(1_600));
    // A's advert at 1 460 937 comes first: B, the higher address, re-announces; A yields.
    assert_eq!(net.masters(), [RB]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(
            us(1_460_937),
            VrrpEvent::SplitBrainHealed {
                at: us(1_460_937),
                peer: A
            }
        ))
    );
    assert_eq!(
        net.events(RA).last(),
        Some(&(us(1_460_937), VrrpEvent::BecameBackup { at: us(1_460_937) }))
    );
}

#[test]
fn healed_tie_lower_address_yields_on_hearing_the_higher() {
    let mut net = tie(ms(1_400));
    net.run_until(ms(1_600));
    // B's advert at 1 421 874 comes first: A yields; B has nothing to re-announce.
    assert_eq!(net.masters(), [RB]);
    assert_eq!(
        net.events(RA).last(),
        Some(&(us(1_421_874), VrrpEvent::BecameBackup { at: us(1_421_874) }))
    );
    assert!(
        !net.events(RB)
            .iter()
            .any(|(_, e)| matches!(e, VrrpEvent::SplitBrainHealed { .. }))
    );
    assert_eq!(
        net.adverts(RB, ms(1_400), ms(1_600)),
        [(us(1_421_874), 100), (us(1_521_874), 100)]
    );
}

/// A (priority 100) alone from 0: master at 360 937 µs, adverts at 360 937 + k × 100 ms.
/// B (priority 200, `b`) starts at 1 s.
fn late_higher(b: VrrpConfig) -> Net {
    let mut net = Net::new([config(A, 100), b]);
    net.start(RA);
    net.run_until(ms(1_000));
    assert_eq!(net.masters(), [RA]);
    net.start(RB);
    net
}

#[test]
fn preempt_higher_priority_joining_later_takes_over() {
    let mut net = late_higher(config(B, 200));
    // B ignores A's lower adverts (1 060 937, 1 160 937, 1 260 937): its down timer from
    // start-up runs out at 1 000 000 + 321 875.
    net.run_until(us(1_321_874));
    assert_eq!(net.masters(), [RA]);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RB]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_321_875), VrrpEvent::BecameMaster { at: us(1_321_875) }))
    );
    assert_eq!(
        net.events(RA).last(),
        Some(&(us(1_321_875), VrrpEvent::BecameBackup { at: us(1_321_875) }))
    );
}

#[test]
fn preempt_delay_postpones_takeover() {
    let b = VrrpConfig {
        preempt_delay: Duration::from_millis(500),
        ..config(B, 200)
    };
    let mut net = late_higher(b);
    // A's first advert B hears is at 1 060 937: B defers until 1 560 937, so the adverts up to
    // 1 460 937 reset its down timer and the one at 1 560 937 does not:
    // takeover at 1 460 937 + 321 875 = 1 782 812.
    net.run_until(us(1_782_811));
    assert_eq!(net.masters(), [RA]);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RB]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_782_812), VrrpEvent::BecameMaster { at: us(1_782_812) }))
    );
}

#[test]
fn nopreempt_higher_priority_stays_backup() {
    let b = VrrpConfig {
        preempt: false,
        ..config(B, 200)
    };
    let mut net = late_higher(b);
    net.run_until(ms(10_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(net.sent_by(RB).count(), 0);
    // It still backs A up: A's last advert at 9 960 937, B's down interval 321 875.
    net.crash(RA);
    net.run_until(ms(11_000));
    assert_eq!(
        net.events(RB).last(),
        Some(&(
            us(10_282_812),
            VrrpEvent::BecameMaster { at: us(10_282_812) }
        ))
    );
}

#[test]
fn backup_learns_the_masters_interval() {
    let slow = VrrpConfig {
        advert_interval: Duration::from_secs(1),
        ..config(A, 200)
    };
    let mut net = Net::new([slow, config(B, 100)]);
    net.start(RA);
    net.start(RB);
    // B's down interval (100 ms interval) is shorter: master at 360 937. A ignores the lower
    // adverts and takes over at its own 3 218 750; B yields and learns A's 1 s.
    net.run_until(ms(5_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(
        net.events(RB)[1..],
        [
            (us(360_937), VrrpEvent::BecameMaster { at: us(360_937) }),
            (us(3_218_750), VrrpEvent::BecameBackup { at: us(3_218_750) }),
        ]
    );
    assert_eq!(
        net.router(RB).master_adver_interval(),
        Duration::from_secs(1)
    );
    assert!(net.sent_by(RA).all(|s| s.interval_cs == 100));
    // A's last advert at 4 218 750; B's down interval is now 3 000 000 + 609 375.
    net.crash(RA);
    net.run_until(us(7_828_124));
    assert_eq!(net.state(RB), State::Backup);
    net.run_until(ms(8_000));
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(7_828_125), VrrpEvent::BecameMaster { at: us(7_828_125) }))
    );
    // As master B advertises its own interval again.
    assert_eq!(
        net.adverts(RB, us(7_828_125), ms(8_000)),
        [(us(7_828_125), 100), (us(7_928_125), 100)]
    );
    assert_eq!(
        net.router(RB).master_adver_interval(),
        Duration::from_millis(100)
    );
    assert!(net.sent_by(RB).all(|s| s.interval_cs == 10));
}

#[test]
fn owner_is_master_at_once_and_backups_follow() {
    let mut net = Net::new([config(A, 255), config(B, 100)]);
    net.start(RB);
    net.run_until(ms(100));
    net.start(RA);
    assert_eq!(
        net.events(RA),
        [(ms(100), VrrpEvent::BecameMaster { at: ms(100) })]
    );
    assert_eq!(net.adverts(RA, ms(0), ms(101)), [(ms(100), 255)]);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(net.adverts(RA, ms(0), ms(2_000)).len(), 19);
    assert_eq!(net.router(RB).poll_timeout(), Some(us(2_000_000 + 360_937)));
}

#[test]
fn three_routers_the_highest_backup_wins_by_skew() {
    let mut net = Net::new([config(A, 200), config(B, 150), config(C, 100)]);
    for r in [RA, RB, RC] {
        net.start(r);
    }
    net.run_until(ms(1_000));
    assert_eq!(net.masters(), [RA]);
    // A's last advert at 921 875: B's down timer runs out first (341 406 < 360 937), and its
    // advert resets C's.
    net.crash(RA);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RA, RB]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_263_281), VrrpEvent::BecameMaster { at: us(1_263_281) }))
    );
    assert_eq!(
        net.events(RC),
        [(ms(0), VrrpEvent::BecameBackup { at: ms(0) })]
    );
    // Clean stop of B: C takes over after its skew.
    net.shutdown(RB);
    net.run_until(ms(3_000));
    assert_eq!(
        net.events(RC).last(),
        Some(&(us(2_060_937), VrrpEvent::BecameMaster { at: us(2_060_937) }))
    );
}

#[test]
fn restarted_higher_priority_router_preempts_again() {
    let mut net = pair();
    net.shutdown(RA);
    net.run_until(ms(2_000));
    assert_eq!(net.masters(), [RB]);
    net.start(RA);
    net.run_until(ms(3_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(
        net.events(RA).last(),
        Some(&(us(2_321_875), VrrpEvent::BecameMaster { at: us(2_321_875) }))
    );
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(2_321_875), VrrpEvent::BecameBackup { at: us(2_321_875) }))
    );
}

#[test]
fn backup_under_a_slow_master_learns_its_interval() {
    let slow = VrrpConfig {
        advert_interval: Duration::from_secs(1),
        ..config(A, 200)
    };
    let mut net = Net::new([slow, config(B, 100)]);
    net.start(RA);
    net.run_until(ms(4_000)); // A master at 3 218 750.
    net.start(RB);
    // B never is master; A's adverts at 4 218 750 and 5 218 750 teach it the 1 s interval,
    // so it waits 3 609 375 µs after the last one, not its own 360 937.
    net.run_until(ms(6_000));
    assert_eq!(
        net.events(RB),
        [(ms(4_000), VrrpEvent::BecameBackup { at: ms(4_000) })]
    );
    assert_eq!(
        net.router(RB).master_adver_interval(),
        Duration::from_secs(1)
    );
    net.crash(RA);
    net.run_until(us(5_218_750 + 3_609_375 - 1));
    assert_eq!(net.state(RB), State::Backup);
    net.run_until(ms(9_000));
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(8_828_125), VrrpEvent::BecameMaster { at: us(8_828_125) }))
    );
}
