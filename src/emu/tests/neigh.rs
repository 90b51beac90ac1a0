//! The router's neighbour cache against Linux's rules: retries and failure, gratuitous ARP,
//! locktime, and the REACHABLE → STALE → DELAY → PROBE cycle.

use super::router::to_vip;
use super::router::{R0, RT_LAN, VIP, check_forwarded, drain, mac, ms, request_for, router, run};
use crate::emu::Node;
use crate::emu::neigh::State;
use crate::emu::router::Router;
use crate::wire::EthernetAddress;
use crate::wire::build::{arp_reply, arp_request};
use smoltcp::time::{Duration, Instant};

fn d(millis: u64) -> Duration {
    Duration::from_millis(millis)
}
use std::net::Ipv4Addr;

/// A router whose VIP entry was resolved to `mac(2)` at 1 ms.
fn resolved() -> Router {
    let mut r = router();
    r.handle_frame(ms(0), 1, &mut to_vip(1));
    r.handle_frame(ms(1), 0, &mut arp_reply(mac(2), VIP, R0, RT_LAN));
    assert_eq!(
        drain(&mut r, ms(1)).len(),
        2,
        "the request and the queued frame"
    );
    r
}

/// Where the next frame to the VIP goes at `now`, sent at once.
fn sent_to(r: &mut Router, now: Instant) -> EthernetAddress {
    let mut f = to_vip(9);
    assert_eq!(r.handle_frame(now, 1, &mut f), Some(0));
    check_forwarded(&f, R0, EthernetAddress::from_bytes(&f[0..6]));
    EthernetAddress::from_bytes(&f[0..6])
}

#[test]
fn an_unanswered_next_hop_is_asked_three_times_a_second_apart_then_fails() {
    let mut r = router();
    r.handle_frame(ms(0), 1, &mut to_vip(1));
    let mut asked: Vec<Instant> = drain(&mut r, ms(0)).iter().map(|_| ms(0)).collect();
    for (at, port, f) in run(&mut r, ms(10_000)) {
        let a = request_for(&f).unwrap();
        assert_eq!(
            (port, a.eth_dst, a.tip),
            (0, EthernetAddress::BROADCAST, VIP)
        );
        asked.push(at);
    }
    assert_eq!(asked, [ms(0), ms(1_000), ms(2_000)]);
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Failed);
    assert_eq!(r.neigh.stats.failed_drops, 1);
    assert_eq!(r.poll_timeout(), None);
    // A late reply to the last request does not revive the frame, but a new frame asks again.
    assert!(drain(&mut r, ms(10_000)).is_empty());
    r.handle_frame(ms(10_000), 1, &mut to_vip(2));
    assert_eq!(drain(&mut r, ms(10_000)).len(), 1);
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Incomplete);
}

#[test]
fn a_gratuitous_arp_moves_an_existing_entry_at_once_and_creates_none() {
    let mut r = resolved();
    // 200 ms later, inside locktime: a VRRP takeover's gratuitous request from mac(3).
    r.handle_frame(ms(200), 0, &mut arp_request(mac(3), VIP, VIP));
    assert_eq!(r.neigh.get(0, VIP), Some((State::Stale, mac(3))));
    assert_eq!(sent_to(&mut r, ms(201)), mac(3));
    // An ordinary request from the VIP with another MAC, inside locktime: ignored.
    let other = Ipv4Addr::new(198, 18, 0, 11);
    r.handle_frame(ms(300), 0, &mut arp_request(mac(4), VIP, other));
    assert_eq!(r.neigh.get(0, VIP).unwrap().1, mac(3));
    // A gratuitous reply needs target MAC = sender MAC; this one has not.
    r.handle_frame(ms(400), 0, &mut arp_reply(mac(5), VIP, R0, VIP));
    assert_eq!(r.neigh.get(0, VIP).unwrap().1, mac(3));
    // No entry for an address never used (arp_accept=0).
    let stranger = Ipv4Addr::new(198, 18, 0, 77);
    r.handle_frame(ms(500), 0, &mut arp_request(mac(6), stranger, stranger));
    assert_eq!(r.neigh.get(0, stranger), None);
}

#[test]
fn of_two_replies_the_first_wins_until_locktime_has_passed() {
    let mut r = router();
    r.handle_frame(ms(0), 1, &mut to_vip(1));
    // Two answers to one request (a real server without ARP suppression answers too).
    r.handle_frame(ms(1), 0, &mut arp_reply(mac(2), VIP, R0, RT_LAN));
    r.handle_frame(ms(2), 0, &mut arp_reply(mac(3), VIP, R0, RT_LAN));
    let out = drain(&mut r, ms(2));
    assert_eq!(check_forwarded(&out[1].1, R0, mac(2)), 1);
    assert_eq!(sent_to(&mut r, ms(900)), mac(2));
    r.handle_frame(ms(1_000), 0, &mut arp_reply(mac(3), VIP, R0, RT_LAN));
    assert_eq!(
        sent_to(&mut r, ms(1_000)),
        mac(2),
        "1 s after is still inside"
    );
    r.handle_frame(ms(1_002), 0, &mut arp_reply(mac(3), VIP, R0, RT_LAN));
    assert_eq!(r.neigh.get(0, VIP), Some((State::Reachable, mac(3))));
}

#[test]
fn reachable_goes_stale_then_a_use_reprobes_by_unicast() {
    let mut r = resolved();
    let reachable = r.neigh.reachable_time();
    assert!(
        (15_000..45_000).contains(&reachable.total_millis()),
        "{reachable}"
    );
    let stale_at = ms(1) + reachable;
    assert!(run(&mut r, stale_at - d(1)).is_empty());
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Reachable);
    run(&mut r, stale_at + d(10));
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Stale);
    // Used while STALE: sent to the cached MAC, DELAY for 5 s, then unicast probes.
    let used = stale_at + d(20_000);
    assert_eq!(sent_to(&mut r, used), mac(2));
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Delay);
    let probes = run(&mut r, used + d(10_000));
    let at: Vec<Instant> = probes.iter().map(|p| p.0).collect();
    let five = used + d(5_000);
    assert_eq!(at, [five, five + d(1_000), five + d(2_000)]);
    for (_, port, f) in &probes {
        let a = request_for(f).unwrap();
        assert_eq!((*port, a.eth_dst, a.tip), (0, mac(2), VIP));
    }
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Failed);
    // Answered, the same cycle ends REACHABLE again.
    let mut r = resolved();
    let used = ms(1) + reachable + d(1_000);
    run(&mut r, used);
    sent_to(&mut r, used);
    assert_eq!(run(&mut r, used + d(5_000)).len(), 1);
    r.handle_frame(used + d(5_001), 0, &mut arp_reply(mac(2), VIP, R0, RT_LAN));
    assert_eq!(r.neigh.get(0, VIP).unwrap().0, State::Reachable);
}
