//! Failover of two director nodes on the in-memory LAN: the master crashed at every 10 ms of an
//! advert interval, a split brain healed at every 10 ms of an interval, and a real server
//! failing while the master dies. Every instant is exact: delivery takes no time.

use super::lan::{FIRST_SERVER, Lan};
use super::*;
use crate::control::vrrp::{State, master_down_interval};
use crate::node::event::{DirectorEvent, HealthReason, VrrpState};

/// Connections opened long before the crash, and just before it.
const EARLY: std::ops::Range<usize> = 0..100;
const LATE: std::ops::Range<usize> = 100..150;

fn is_master(event: &DirectorEvent) -> bool {
    *event
        == DirectorEvent::Vrrp {
            state: VrrpState::Master,
        }
}

/// The instant of director `d`'s latest advert at or before now.
fn last_advert(lan: &Lan, d: usize) -> Instant {
    lan.adverts
        .iter()
        .rev()
        .find(|a| a.from == d)
        .expect("an advert")
        .at
}

/// Runs to d1's next advert after now and returns its instant (d1 advertises every interval
/// from when it became master).
fn next_advert_of_d1(lan: &mut Lan) -> Instant {
    let next = last_advert(lan, D1) + ADVERT;
    lan.run_until(next);
    assert_eq!(last_advert(lan, D1), next, "d1 advertises every interval");
    next
}

/// The MAC the router sends VIP traffic to.
fn vip_mac(lan: &Lan) -> EthernetAddress {
    *lan.router.arp.get(&VIP).expect("the router knows the VIP")
}

/// d1 crashes `offset` after one of its adverts (the advert went out). d2 takes over exactly
/// one Master_Down_Interval (its own, priority 100: 360.937 ms) after that advert — within
/// Master_Down_Interval + one interval of the crash — with its first gratuitous ARP at the
/// same instant, and every connection synced before the crash keeps its real server.
#[test]
fn master_crash_at_every_10ms_of_an_interval_breaks_no_synced_connection() {
    let down = master_down_interval(PRIORITIES[D2], ADVERT);
    for offset in (0..100).step_by(10).map(Duration::from_millis) {
        let mut lan = lan("");
        lan.run_until(ms(500));
        open(&mut lan, EARLY);
        lan.run_until(ms(1_000));
        open(&mut lan, LATE);
        let conns: Vec<Conn> = EARLY.chain(LATE).map(conn).collect();
        let before: Vec<usize> = conns.iter().map(|&c| server_of(&lan, c)).collect();
        for s in 0..SERVERS {
            assert!(before.contains(&s), "rr uses every server: {before:?}");
        }
        let advert = next_advert_of_d1(&mut lan);
        let crash = advert + offset;
        lan.run_until(crash);
        assert_eq!(lan.directors[D2].vrrp_state(), Some(State::Backup));
        // For the failure message only: what is measured is where the segments land.
        let synced = lan.directors[D2].dataplane().conns().len();
        lan.crash(D1);

        lan.run_until(crash + down + ADVERT);
        let takeover = lan
            .first_event(D2, crash, is_master)
            .expect("d2 takes over");
        assert!(takeover - crash <= down + ADVERT, "offset {offset}");
        assert_eq!(
            takeover,
            advert + down,
            "offset {offset}: from d1's last advert"
        );
        let garp = lan.first_event(D2, crash, |e| *e == DirectorEvent::GratuitousArp);
        assert_eq!(garp, Some(takeover), "offset {offset}");
        assert_eq!(
            vip_mac(&lan),
            director_mac(D2),
            "the router follows the GARP"
        );

        let after = lan.now;
        for &c in &conns {
            send(&mut lan, c, 2);
        }
        lan.run_until(after + Duration::from_millis(1));
        let broken: Vec<Conn> = conns
            .iter()
            .zip(&before)
            .filter(|&(&c, &s)| landed(&lan, c, after) != [s])
            .map(|(&c, _)| c)
            .collect();
        assert!(
            broken.is_empty(),
            "offset {offset}: {} of {} synced connections broken (d2 held {synced} entries): {broken:?}",
            broken.len(),
            conns.len()
        );
        assert_eq!(lan.router.resets, [], "offset {offset}");
        for s in &lan.servers {
            let via_d2 = s.arrivals.iter().filter(|a| a.at >= after);
            assert!(via_d2.clone().count() > 0);
            assert!(via_d2.into_iter().all(|a| a.via == director_mac(D2)));
        }
    }
}

/// Adverts between the directors are lost both ways from 1 s: d2 takes over too (two masters,
/// the router follows d2's gratuitous ARP). The path heals at every 10 ms of an interval after
/// 1.6 s: within one advert interval of the repair d1 (the higher priority) is the only master
/// (the first advert that crosses ends it: a lower-priority master steps down on d1's advert,
/// and d1 answers d2's advert at once), stays the only one, and the router sends VIP traffic
/// to d1 again, so new connections are forwarded by d1.
#[test]
fn a_healed_split_brain_leaves_one_master_and_the_router_on_it() {
    for offset in (0..100).step_by(10) {
        let mut lan = lan("");
        lan.run_until(ms(1_000));
        assert_eq!(vip_mac(&lan), director_mac(D1));
        lan.partition(D1, D2);
        lan.run_until(ms(1_600 + offset));
        let states: Vec<_> = lan.directors.iter().map(|d| d.vrrp_state()).collect();
        assert_eq!(states, [Some(State::Master); 2], "a split brain");
        assert_eq!(vip_mac(&lan), director_mac(D2));

        let heal = lan.now;
        lan.repair(D1, D2);
        lan.run_until(heal + ADVERT);
        let states: Vec<_> = lan.directors.iter().map(|d| d.vrrp_state()).collect();
        assert_eq!(
            states,
            [Some(State::Master), Some(State::Backup)],
            "heal at +{offset} ms"
        );
        assert_eq!(vip_mac(&lan), director_mac(D1), "heal at +{offset} ms");
        assert_eq!(lan.switch.port_of(vip_mac(&lan)), Some(D1));

        lan.run_until(heal + Duration::from_secs(1));
        assert_eq!(lan.first_event(D2, heal + ADVERT, is_master), None);
        assert_eq!(lan.directors[D2].vrrp_state(), Some(State::Backup));
        let opened = lan.now;
        open(&mut lan, 0..30);
        for i in 0..30 {
            assert_eq!(landed(&lan, conn(i), opened).len(), 2, "SYN and ACK arrive");
        }
        let arrivals = lan.servers.iter().flat_map(|s| &s.arrivals);
        assert!(arrivals.into_iter().all(|a| a.via == director_mac(D1)));
    }
}

/// Health checks every 100 ms, a failed connect is a failure at once, fall 3.
fn health(on_failure: &str) -> String {
    format!(
        "check = \"tcp\"\ninterval_ms = 100\ntimeout_ms = 50\nrise = 2\nfall = 3\n\
         on_failure = \"{on_failure}\""
    )
}

const FALL_MS: i64 = 300;
/// The real server that fails (rs2).
const FAILING: usize = 1;

/// rs2 stops accepting (its checks are refused) 10 ms after an advert of d1, which crashes
/// 20 ms later, before its own checks could reach the fall count. d2, whose own checks see the
/// refusals, marks rs2 down within fall × interval of its failure (a check starts at most one
/// interval after it, then fall − 1 more) and takes over; what is asserted of d2 afterwards:
/// - no new connection goes to rs2 (weight 0), new ones go to rs1 and rs3;
/// - connections synced to rs1 and rs3 keep their server;
/// - `quiescent`: rs2's synced connections are kept and still reach it (IPVS weight 0);
///   `remove`: d2 expired them when it marked rs2 down (one `ConnsExpired` with their
///   number), so their next segments reach no real server and the clients get a reset.
#[test]
fn a_server_failing_during_a_takeover_is_taken_out_by_the_new_master() {
    for on_failure in ["quiescent", "remove"] {
        let mut lan = lan(&health(on_failure));
        lan.run_until(ms(500));
        let old = 0..90;
        open(&mut lan, old.clone());
        let before: Vec<usize> = old.clone().map(|i| server_of(&lan, conn(i))).collect();
        let on_failing = before.iter().filter(|&&s| s == FAILING).count();
        assert_eq!(on_failing, 30, "rr over three servers");
        lan.run_until(ms(1_000));
        let advert = next_advert_of_d1(&mut lan);

        let fails = advert + Duration::from_millis(10);
        lan.run_until(fails);
        lan.servers[FAILING].up = false;
        let crash = fails + Duration::from_millis(20);
        lan.run_until(crash);
        lan.crash(D1);
        lan.run_until(crash + Duration::from_secs(1));

        let rs2_down = |e: &DirectorEvent| {
            matches!(e, DirectorEvent::Health { server, up: false, reason: HealthReason::Refused, .. }
                if server == "rs2")
        };
        assert_eq!(lan.first_event(D1, ms(0), rs2_down), None, "d1 died first");
        let down = lan
            .first_event(D2, fails, rs2_down)
            .expect("d2 marks rs2 down");
        assert!(
            down <= fails + Duration::from_millis(FALL_MS as u64),
            "{on_failure}"
        );
        let takeover = lan.first_event(D2, crash, is_master).expect("takeover");
        let expired = lan.events_of(D2).find_map(|(_, e)| match e {
            DirectorEvent::ConnsExpired { server, count } if server == "rs2" => Some(*count),
            _ => None,
        });
        let removed = on_failure == "remove";
        assert_eq!(expired, removed.then_some(on_failing), "{on_failure}");

        let after = lan.now.max(takeover).max(down);
        let new = 200..290;
        open(&mut lan, new.clone());
        for i in old.clone() {
            send(&mut lan, conn(i), 2);
        }
        lan.run_until(lan.now + Duration::from_millis(1));
        let mut share = [0; SERVERS];
        for i in new {
            let at = landed(&lan, conn(i), after);
            assert_eq!(
                at.len(),
                2,
                "{on_failure}: SYN and ACK of new {} arrive",
                conn(i)
            );
            share[at[0]] += 1;
        }
        assert_eq!(
            share,
            [45, 0, 45],
            "{on_failure}: new connections by server"
        );
        let mut reset = 0;
        for (i, &s) in old.zip(&before) {
            let at = landed(&lan, conn(i), after);
            if s != FAILING || !removed {
                assert_eq!(at, [s], "{on_failure}: old {} keeps its server", conn(i));
            } else {
                assert!(
                    at.is_empty(),
                    "{on_failure}: old {} was expired: {at:?}",
                    conn(i)
                );
                assert!(lan.router.resets.iter().any(|&(_, c)| c == conn(i)));
                reset += 1;
            }
        }
        assert_eq!(reset, if removed { on_failing } else { 0 });
        let failing = &lan.servers[FAILING];
        assert!(failing.connects.iter().any(|&(at, ok)| at > fails && !ok));
        assert_eq!(FIRST_SERVER + FAILING, 4, "rs2's port");
    }
}
