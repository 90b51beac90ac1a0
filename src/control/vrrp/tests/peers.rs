//! Peer lists (keepalived's `unicast_peer`): a foreign host on the link sends adverts for our
//! VRID; with peers configured they change nothing and are counted, the peer's own adverts
//! still work, and unicast sending elects and fails over like the group. Router 0 is A
//! (198.18.0.2, priority 200), 1 is B (.3, priority 100); the spoofer is S (.9).

use super::net::Net;
use super::*;

const RA: usize = 0;
const RB: usize = 1;
/// The foreign host: on the link, not a director.
const S: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 9);

fn with_peer(own: Ipv4Addr, priority: u8, peer: Ipv4Addr) -> VrrpConfig {
    VrrpConfig {
        peers: vec![peer],
        ..config(own, priority)
    }
}

/// A and B with each other as peer, run to 1 s: A master since 321 875 µs.
fn peered(unicast: bool) -> Net {
    let configs = [with_peer(A, 200, B), with_peer(B, 100, A)];
    let mut net = if unicast {
        Net::new_unicast(configs)
    } else {
        Net::new(configs)
    };
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    assert_eq!(net.masters(), [RA]);
    net
}

/// What must not move when a spoofed advert arrives: states, deadlines, adverts sent, events.
fn snapshot(net: &Net) -> (Vec<State>, Vec<Option<Instant>>, usize, usize) {
    (
        vec![net.state(RA), net.state(RB)],
        vec![net.router(RA).poll_timeout(), net.router(RB).poll_timeout()],
        net.sent_by(RA).count() + net.sent_by(RB).count(),
        net.events(RA).len() + net.events(RB).len(),
    )
}

#[test]
fn spoofed_adverts_from_a_non_peer_change_nothing_and_are_counted() {
    let mut net = peered(false);
    for priority in [255, 50, 0, 200, 100] {
        let before = snapshot(&net);
        let verdicts = net.inject(S, &advert(priority));
        assert_eq!(verdicts, [Verdict::Dropped(DropReason::NotPeer); 2]);
        assert_eq!(
            snapshot(&net),
            before,
            "priority {priority} moved something"
        );
    }
    for r in [RA, RB] {
        let c = net.router(r).counters();
        assert_eq!(c.dropped_not_peer, 5);
        assert_eq!(c.lower_prio_answered, 0);
    }
}

#[test]
fn a_stream_of_spoofed_owner_adverts_leaves_the_master_in_place() {
    // The tester's attack: priority 255 every 100 ms for 3 s, between A's adverts.
    let mut net = peered(false);
    for k in 0..30 {
        net.run_until(ms(1_050 + k * 100));
        net.inject(S, &advert(255));
        assert_eq!(net.masters(), [RA], "at {} ms", 1_050 + k * 100);
    }
    net.run_until(ms(5_000));
    assert_eq!(net.masters(), [RA]);
    assert_eq!(net.router(RA).counters().became_backup, 1, "only at start");
    assert_eq!(net.router(RB).counters().became_master, 0);
    assert_eq!(net.router(RA).counters().dropped_not_peer, 30);
    // A kept its schedule: one advert every 100 ms from 321 875 µs, nothing else.
    let adverts = net.adverts(RA, ms(1_000), ms(5_000));
    assert_eq!(adverts.len(), 40);
    assert!(
        adverts
            .iter()
            .all(|(t, _)| (t.total_micros() - 21_875) % 100_000 == 0)
    );
}

#[test]
fn without_a_peer_list_one_spoofed_owner_advert_takes_the_vip_away() {
    // RFC 5798 alone (the behaviour before peer lists): the master steps down for the spoofer
    // and the backup defers to it too, so nobody is master.
    let mut net = Net::new([config(A, 200), config(B, 100)]);
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    let verdicts = net.inject(S, &advert(255));
    assert_eq!(verdicts, [Verdict::Accepted; 2]);
    assert_eq!(net.masters(), Vec::<usize>::new());
    // A takes over again only after its down interval (learnt from the spoofer's advert).
    net.run_until(us(1_000_000 + 321_875 - 1));
    assert_eq!(net.masters(), Vec::<usize>::new());
    net.run_until(us(1_000_000 + 321_875));
    assert_eq!(net.masters(), [RA]);
}

#[test]
fn the_peers_adverts_still_count() {
    let mut net = peered(false);
    // B hears A: its down timer runs from A's last advert (921 875 µs).
    assert_eq!(net.router(RB).poll_timeout(), Some(us(921_875 + 360_937)));
    assert_eq!(net.router(RB).counters().adverts_accepted, 7);
    assert_eq!(net.router(RB).counters().dropped_not_peer, 0);
    // A clean stop: B takes over after Skew_Time only.
    net.shutdown(RA);
    net.run_until(ms(1_100));
    assert_eq!(net.masters(), [RB]);
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_060_937), VrrpEvent::BecameMaster { at: us(1_060_937) }))
    );
}

#[test]
fn a_peer_list_without_the_real_peer_ignores_it() {
    // A misconfigured list: B does not accept A, so both end up master (counted, visible).
    let mut net = Net::new([with_peer(A, 200, B), with_peer(B, 100, S)]);
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    assert_eq!(net.masters(), [RA, RB]);
    assert!(net.router(RB).counters().dropped_not_peer > 0);
}

#[test]
fn lower_priority_adverts_ask_for_one_reannouncement_per_interval() {
    // A master hears a peer at priority 50 every 100 ms for 3 s (e.g. a peer stuck in a
    // split brain): each gets an advert back, but gratuitous ARP is asked once a second.
    let mut r = VrrpRouter::new(with_peer(A, 200, B)).unwrap();
    r.start(ms(0));
    r.handle_timeout(us(321_875));
    assert_eq!(r.state(), State::Master);
    while r.poll_transmit().is_some() {}
    while r.poll_event().is_some() {}
    let mut answered = 0;
    let mut announced = Vec::new();
    for k in 0..30 {
        let now = ms(400 + k * 100);
        assert_eq!(r.handle_advert(now, B, &advert(50)), Verdict::Accepted);
        answered += std::iter::from_fn(|| r.poll_transmit()).count();
        announced.extend(std::iter::from_fn(|| r.poll_event()));
    }
    assert_eq!(answered, 30, "one advert back for each");
    assert_eq!(
        announced,
        [400, 1_400, 2_400].map(|t| VrrpEvent::SplitBrainHealed { at: ms(t), peer: B })
    );
    assert_eq!(r.counters().lower_prio_answered, 30);
    assert_eq!(r.counters().lower_prio_announced, 3);
}

#[test]
fn unicast_mode_elects_and_fails_over() {
    let mut net = peered(true);
    // Same election as over the group: A at its down interval, adverts every 100 ms.
    assert_eq!(
        net.events(RA).last(),
        Some(&(us(321_875), VrrpEvent::BecameMaster { at: us(321_875) }))
    );
    assert_eq!(net.router(RB).counters().adverts_accepted, 7);
    // A spoofer sending to the group reaches the routers' sockets and is still refused.
    assert_eq!(
        net.inject(S, &advert(255)),
        [Verdict::Dropped(DropReason::NotPeer); 2]
    );
    // A crashes after its advert at 921 875 µs: B takes over after its down interval.
    net.crash(RA);
    net.run_until(ms(1_500));
    assert_eq!(
        net.masters(),
        [RA, RB],
        "A believes it is master; it is crashed"
    );
    assert_eq!(
        net.events(RB).last(),
        Some(&(us(1_282_812), VrrpEvent::BecameMaster { at: us(1_282_812) }))
    );
}

#[test]
fn unicast_mode_reaches_only_the_listed_peers() {
    // B lists A but A lists nobody (multicast config in a unicast net sends to no one): B never
    // hears A and becomes master too.
    let mut net = Net::new_unicast([config(A, 200), with_peer(B, 100, A)]);
    net.start(RA);
    net.start(RB);
    net.run_until(ms(1_000));
    assert_eq!(net.router(RB).counters().adverts_accepted, 0);
    assert_eq!(net.masters(), [RA, RB]);
}
