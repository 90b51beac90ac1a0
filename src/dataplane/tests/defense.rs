//! The SYN-flood defence through the data plane (table of 1000): a real SYN always finds room,
//! established entries are never dropped, the short SYN_RECV timeout comes and goes with the
//! level, the per-source limit.

use super::*;

/// A spoofed source: 198.19.128.0 + n.
fn spoofed(n: u32) -> Endpoints {
    client(32768 + n, 40000)
}

fn flood(dp: &mut Dataplane, now: i64, count: u32) {
    for n in 0..count {
        send(dp, now, spoofed(n), Flags::SYN).unwrap();
    }
}

#[test]
fn a_real_syn_finds_room_in_a_table_full_of_half_open_entries() {
    let mut dp = resolved("rr", &[1], "");
    flood(&mut dp, 0, 1000);
    assert_eq!(dp.conns().len(), 1000);
    for n in 0..100 {
        let real = client(n, 2000);
        assert_eq!(send(&mut dp, 1, real, Flags::SYN), Ok(0), "real SYN {n}");
        assert_eq!(
            send(&mut dp, 1, real, Flags::ACK),
            Ok(0),
            "its handshake ends"
        );
    }
    assert_eq!(dp.conns().len(), 1000);
    let d = dp.defense();
    assert_eq!(d.half_open_evicted, 100);
    assert_eq!(d.table_peak, 1000);
    assert_eq!(dp.counters().drops_for(DropReason::TableFull), 0);
    assert_eq!(dp.stats().defense.half_open_evicted, 100, "in the stats");
}

#[test]
fn established_entries_are_never_dropped_by_the_defence() {
    let extra = "[defense]\ndrop_entry = \"always\"";
    let mut dp = resolved("rr", &[1], extra);
    for n in 0..600 {
        let real = client(n, 2000);
        send(&mut dp, 0, real, Flags::SYN).unwrap();
        send(&mut dp, 0, real, Flags::ACK).unwrap();
    }
    // Spoofed SYNs well past the capacity, with the random scan running all along.
    for round in 0..20 {
        for n in 0..200 {
            send(
                &mut dp,
                round * 100,
                spoofed(round as u32 * 200 + n),
                Flags::SYN,
            )
            .unwrap();
        }
        sweep(&mut dp, round * 100);
    }
    let d = *dp.defense();
    assert!(d.half_open_dropped > 0, "the random scan ran: {d:?}");
    assert!(d.half_open_evicted > 0, "room was made: {d:?}");
    for n in 0..600 {
        let idx = dp.conns().find(&key(client(n, 2000))).expect("still there");
        assert_eq!(dp.conns().get(idx).state, tcp_state::ConnState::Established);
    }
    assert_eq!(dp.services()[0].views[0].active_conns, 600);
    // A table of established connections only: a new SYN is refused, nothing is evicted.
    let mut dp = resolved("rr", &[1], extra);
    for n in 0..1000 {
        send(&mut dp, 0, client(n, 2000), Flags::SYN).unwrap();
        send(&mut dp, 0, client(n, 2000), Flags::ACK).unwrap();
    }
    assert_eq!(
        send(&mut dp, 1, spoofed(0), Flags::SYN),
        Err(Verdict::Dropped(DropReason::TableFull))
    );
    assert_eq!(dp.defense().half_open_evicted, 0);
}

#[test]
fn the_short_syn_recv_timeout_comes_and_goes_with_the_level() {
    let extra = "[defense]\nthreshold = 0.5\nsyn_recv_timeout_ms = 5000\ndrop_entry = \"off\"";
    let mut dp = resolved("rr", &[1], extra);
    flood(&mut dp, 0, 600);
    sweep(&mut dp, 0);
    assert!(dp.defense().on, "600 of 1000 is past 0.5");
    sweep(&mut dp, 4900);
    assert_eq!(dp.conns().len(), 600, "not yet: 5 s");
    sweep(&mut dp, 5000);
    assert_eq!(dp.conns().len(), 0, "expired at 5 s, not 60 s");
    assert_eq!(dp.defense().half_open_expired_early, 600);
    sweep(&mut dp, 5100);
    assert!(!dp.defense().on, "the table drained");
    assert_eq!(dp.defense().level_changes, 2);
    // Back to normal: a half-open entry lives its 60 s again.
    send(&mut dp, 6000, client(1, 2000), Flags::SYN).unwrap();
    sweep(&mut dp, 6000 + 59_900);
    assert_eq!(dp.conns().len(), 1);
    sweep(&mut dp, 6000 + 60_000);
    assert_eq!(dp.conns().len(), 0);
    assert_eq!(dp.defense().half_open_expired_early, 600);
}

#[test]
fn the_per_source_limit_counts_half_open_entries_only() {
    let extra = "[defense]\nmax_half_open_per_source = 3";
    let mut dp = resolved("rr", &[1], extra);
    let from = |port| client(7, port);
    for port in 1000..1003 {
        send(&mut dp, 0, from(port), Flags::SYN).unwrap();
    }
    assert_eq!(
        send(&mut dp, 0, from(1003), Flags::SYN),
        Err(Verdict::Dropped(DropReason::HalfOpenLimit))
    );
    assert_eq!(
        send(&mut dp, 0, client(8, 1003), Flags::SYN),
        Ok(0),
        "another source"
    );
    // One handshake completes: room for one more half-open entry.
    send(&mut dp, 1, from(1000), Flags::ACK).unwrap();
    assert_eq!(send(&mut dp, 1, from(1003), Flags::SYN), Ok(0));
    assert!(send(&mut dp, 1, from(1004), Flags::SYN).is_err());
    // One expires: room again.
    sweep(&mut dp, 60_000);
    assert_eq!(send(&mut dp, 60_001, from(1005), Flags::SYN), Ok(0));
    assert_eq!(dp.defense().syns_refused_per_source, 2);
    assert_eq!(dp.counters().drops_for(DropReason::HalfOpenLimit), 2);
    // Off by default.
    let mut dp = resolved("rr", &[1], "");
    for port in 1000..1100 {
        send(&mut dp, 0, from(port), Flags::SYN).unwrap();
    }
}

#[test]
fn drop_packet_refuses_new_connections_as_the_table_fills() {
    let extra = "[defense]\nthreshold = 0.5\ndrop_entry = \"off\"\ndrop_packet = \"auto\"";
    let mut dp = resolved("rr", &[1], extra);
    flood(&mut dp, 0, 750);
    sweep(&mut dp, 0); // 250 of 500 threshold slots free: one in two refused
    let refused = (0..100)
        .filter(|n| send(&mut dp, 1, client(*n, 2000), Flags::SYN).is_err())
        .count();
    assert_eq!(refused, 50);
    assert_eq!(dp.defense().syns_refused, 50);
    assert_eq!(dp.counters().drops_for(DropReason::DefenseDropPacket), 50);
}
