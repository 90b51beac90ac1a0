//! Two director nodes pairing over heartbeat 3's protocol (`[heartbeat]` instead of `[vrrp]`)
//! on the in-memory LAN: d1, the haresources primary, holds the VIP once they hear each other;
//! crashed, d2 takes the VIP within deadtime, announces it, and the synced connections keep
//! their real servers.

use super::*;
use crate::control::vrrp::State;
use crate::node::event::{DirectorEvent, VrrpState};
use crate::node::settings::HeartbeatSection;

const KEEPALIVE: Duration = Duration::from_millis(200);
const DEADTIME: Duration = Duration::from_millis(1000);

fn is_master(event: &DirectorEvent) -> bool {
    *event
        == DirectorEvent::Vrrp {
            state: VrrpState::Master,
        }
}

fn hb_settings(d: usize) -> NodeSettings {
    let mut s = settings(d, "");
    s.vrrp = None;
    s.heartbeat = Some(HeartbeatSection {
        node: format!("d{}", d + 1),
        peer_node: format!("d{}", 2 - d),
        peer: director_ip(1 - d),
        primary: "d1".into(),
        port: 694,
        keepalive_ms: KEEPALIVE.total_millis(),
        deadtime_ms: DEADTIME.total_millis(),
        warntime_ms: 500,
        initdead_ms: 2000,
        auto_failback: true,
        auth_index: 1,
        auth_key: "lab-secret".into(),
        clock_s: Some(1_800_000_000),
    });
    s
}

fn vip_mac(lan: &Lan) -> EthernetAddress {
    *lan.router.arp.get(&VIP).expect("the router knows the VIP")
}

#[test]
fn the_backup_takes_the_vip_within_deadtime_of_the_primarys_crash() {
    let mut lan = lan_of(hb_settings);
    lan.run_until(ms(1_000));
    // The hand-shake, not initdead (2 s), made d1 master.
    let d1_master = lan
        .first_event(D1, ms(0), is_master)
        .expect("d1 holds the VIP");
    assert!(d1_master < ms(500), "{d1_master}");
    assert_eq!(lan.first_event(D2, ms(0), is_master), None);
    assert_eq!(lan.directors[D1].vrrp_state(), Some(State::Master));
    assert_eq!(lan.directors[D2].vrrp_state(), Some(State::Backup));
    assert_eq!(vip_mac(&lan), director_mac(D1));

    open(&mut lan, 0..60);
    lan.run_until(ms(1_900));
    let conns: Vec<Conn> = (0..60).map(conn).collect();
    let before: Vec<usize> = conns.iter().map(|&c| server_of(&lan, c)).collect();
    let crash = ms(2_000);
    lan.run_until(crash);
    lan.crash(D1);
    lan.run_until(crash + DEADTIME + KEEPALIVE);

    let takeover = lan
        .first_event(D2, crash, is_master)
        .expect("d2 takes over");
    // Dead DEADTIME after the last message heard, which left at most a keepalive before.
    assert!(takeover - crash <= DEADTIME, "{}", takeover - crash);
    assert!(
        takeover - crash >= DEADTIME - KEEPALIVE,
        "{}",
        takeover - crash
    );
    let garp = lan.first_event(D2, crash, |e| *e == DirectorEvent::GratuitousArp);
    assert_eq!(garp, Some(takeover));
    assert_eq!(vip_mac(&lan), director_mac(D2));

    let after = lan.now;
    for &c in &conns {
        send(&mut lan, c, 2);
    }
    lan.run_until(after + Duration::from_millis(1));
    for (&c, &s) in conns.iter().zip(&before) {
        assert_eq!(landed(&lan, c, after), [s], "{c} kept its real server");
    }
    assert_eq!(lan.router.resets, []);
}

#[test]
fn the_pair_exchanges_only_good_messages_and_stays_put() {
    let mut lan = lan_of(hb_settings);
    lan.run_until(ms(5_000));
    assert_eq!(lan.directors[D1].vrrp_state(), Some(State::Master));
    assert_eq!(lan.directors[D2].vrrp_state(), Some(State::Backup));
    let report = lan
        .events_of(D2)
        .filter_map(|(_, e)| match e {
            DirectorEvent::HeartbeatCounters(r) => Some(*r),
            _ => None,
        })
        .last()
        .expect("heartbeat counters are reported");
    assert!(report.peer_alive && !report.holding);
    // About one keepalive per 200 ms from d1, and a few hand-shake messages.
    assert!(report.counters.received >= 24, "{report:?}");
    let c = report.counters;
    assert_eq!((c.bad_auth, c.malformed, c.not_peer, c.stale), (0, 0, 0, 0));
    assert_eq!((report.wrong_source, report.malformed_frames), (0, 0));
}
