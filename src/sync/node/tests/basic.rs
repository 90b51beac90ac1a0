//! Changes reaching the backup, batching, acknowledgements and the lag, and what is ignored or
//! counted: foreign sync ids, malformed payloads, install errors, a full change queue, roles.

use super::net::{Kind, Net, Sent};
use super::*;
use crate::sync::wire::{self, ControlKind, MessageWriter, write_control};

/// After [`Net::pair`]: the backup asked at 0, the empty master answered with one empty
/// message (seq 0), the backup acknowledged it at 0.
fn started() -> Net {
    let mut net = Net::pair();
    net.run_until(ms(10));
    net
}

#[test]
fn start_up_exchange_with_an_empty_table() {
    let net = started();
    let kinds = |from| -> Vec<_> {
        let sent = net.sent(from, ms(0), ms(10));
        sent.iter().map(|s| (s.at, s.kind)).collect()
    };
    assert_eq!(
        kinds(B),
        [
            (
                ms(0),
                Kind::Control {
                    kind: ControlKind::BulkRequest,
                    value: 0
                }
            ),
            (
                ms(0),
                Kind::Control {
                    kind: ControlKind::Ack,
                    value: 0
                }
            ),
        ]
    );
    let done = Kind::Control {
        kind: ControlKind::BulkDone,
        value: 0,
    };
    assert_eq!(
        kinds(M),
        [(ms(0), Kind::Entries { seq: 0, count: 0 }), (ms(0), done)]
    );
    assert_eq!(net.counters(B).bulks_completed, 1);
    assert_eq!(net.nodes[M].poll_timeout(), None);
    assert_eq!(net.nodes[B].poll_timeout(), None);
}

#[test]
fn changes_reach_the_backup_after_the_batch_delay() {
    let mut net = started();
    let changed = [conn(1), conn(2), template(1)];
    for entry in changed {
        net.change(M, entry);
    }
    net.run_until(ms(11));
    assert!(net.tables[B].entries().is_empty());
    net.run_until(ms(12));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    assert_eq!(net.tables[B].get(&template(1)), Some(template(1)));
    assert_eq!(
        net.entries_msgs(M, ms(10), ms(13)),
        [Sent {
            at: ms(12),
            from: M,
            len: 8 + 3 * 36 + 4,
            kind: Kind::Entries { seq: 1, count: 3 },
        }]
    );
    let c = net.counters(B);
    assert_eq!((c.entries_received, c.entries_installed), (3, 3));
    assert_eq!(net.counters(M).change_entries_sent, 3);
}

#[test]
fn a_connection_changed_three_times_goes_once_with_its_last_state() {
    let mut net = started();
    let closing = SyncEntry {
        state: 4,
        inactive: true,
        timeout_s: 120,
        ..conn(1)
    };
    // States 1, 1, 4 of one connection around another one's change, within one batch.
    for entry in [conn(1), conn(2), conn(1), closing] {
        net.change(M, entry);
    }
    net.run_until(ms(13));
    let carried: Vec<_> = net.carried[1..]
        .iter()
        .map(|(at, _, e)| (*at, e.clone()))
        .collect();
    assert_eq!(
        carried,
        [(ms(12), vec![closing, conn(2)])],
        "after the empty bulk answer"
    );
    assert_eq!(net.tables[B].get(&conn(1)), Some(closing));
    let c = net.counters(M);
    assert_eq!((c.change_entries_sent, c.changes_coalesced), (2, 2));
    // Changed again after its message left: it goes again, in the next message.
    net.change(M, conn(1));
    net.run_until(ms(20));
    assert_eq!(
        net.carried.last().map(|(_, _, e)| e.clone()),
        Some(vec![conn(1)])
    );
}

#[test]
fn a_full_message_ends_at_the_first_change_that_does_not_fit() {
    let mut net = started();
    for i in 0..41 {
        net.change(M, conn(i));
    }
    // The 41st does not fit: the message ends there, and the newer states of 0 and 39 noted
    // after it go in the next message (changes leave in the order noted, none overtakes).
    let newer = |i| SyncEntry {
        state: 5,
        ..conn(i)
    };
    net.change(M, newer(0));
    net.change(M, newer(39));
    net.run_until(ms(20));
    let carried: Vec<_> = net.carried[1..].iter().map(|(_, _, e)| e.clone()).collect();
    assert_eq!(carried.len(), 2);
    assert_eq!(
        (carried[0].len(), carried[0][0], carried[0][39]),
        (40, conn(0), conn(39))
    );
    assert_eq!(carried[1], [conn(40), newer(0), newer(39)]);
}

#[test]
fn forty_changes_fill_one_1472_byte_message_at_once() {
    let mut net = started();
    for i in 0..40 {
        net.change(M, conn(i));
    }
    net.run_until(ms(20));
    assert_eq!(
        net.entries_msgs(M, ms(10), ms(20)),
        [Sent {
            at: ms(10),
            from: M,
            len: 1452,
            kind: Kind::Entries { seq: 1, count: 40 },
        }]
    );
    for i in 100..141 {
        net.change(M, conn(i));
    }
    net.run_until(ms(30));
    let sent: Vec<_> = net.entries_msgs(M, ms(20), ms(30));
    let summary: Vec<_> = sent.iter().map(|s| (s.at, s.len)).collect();
    assert_eq!(summary, [(ms(20), 1452), (ms(22), 48)]);
    assert_eq!(net.tables[B].entries().len(), 81);
}

#[test]
fn lag_grows_until_the_backup_acknowledges() {
    let mut net = started();
    assert_eq!(net.counters(M).lag_ms, 0);
    net.paused = true;
    net.change(M, conn(1));
    net.run_until(ms(112));
    assert_eq!(net.nodes[M].lag(net.now), Duration::from_millis(100));
    assert_eq!(net.counters(M).lag_ms, 100);
    net.paused = false;
    // Delivered at 112 ms; the backup last acknowledged at 0, so it waits until 200 ms.
    net.run_until(ms(199));
    assert!(net.tables[B].contains(&conn(1)));
    assert_eq!(net.counters(M).lag_ms, 187);
    net.run_until(ms(200));
    let c = net.counters(M);
    assert_eq!((c.lag_ms, c.acked_seq, c.acks_received), (0, 1, 2));
    assert_eq!(net.counters(B).acked_seq, 1);
}

#[test]
fn acks_at_most_every_ack_interval_and_only_for_news() {
    let mut net = started();
    for k in 1..=100 {
        net.run_until(ms(k * 10));
        net.change(M, conn(k as u32));
    }
    net.run_until(secs(3));
    let acks: Vec<_> = net
        .sent(B, ms(0), secs(3))
        .iter()
        .filter_map(|s| match s.kind {
            Kind::Control {
                kind: ControlKind::Ack,
                value,
            } => Some((s.at, value)),
            _ => None,
        })
        .collect();
    // Change k goes out at k × 10 + 2 ms with seq k.
    assert_eq!(
        acks,
        [
            (ms(0), 0),
            (ms(200), 19),
            (ms(400), 39),
            (ms(600), 59),
            (ms(800), 79),
            (ms(1000), 99),
            (ms(1200), 100),
        ]
    );
    assert_eq!(net.counters(M).lag_ms, 0);
}

#[test]
fn foreign_syncid_is_ignored_both_ways() {
    let config = |syncid| SyncConfig {
        syncid,
        ..SyncConfig::default()
    };
    let mut net = Net::new([config(1), config(2)]);
    net.set_master(M, true);
    net.set_master(B, false);
    net.run_until(ms(10));
    for i in 0..5 {
        net.change(M, conn(i));
    }
    net.run_until(ms(2500));
    assert!(net.tables[B].entries().is_empty());
    let (m, b) = (net.counters(M), net.counters(B));
    assert_eq!(m.msgs_sent, 1);
    assert_eq!(b.foreign_syncid, 1);
    assert_eq!((b.msgs_received, b.entries_installed), (0, 0));
    // Unanswered, the backup keeps asking: at 0, 1 s, 2 s.
    assert_eq!(b.bulk_requests_sent, 3);
    assert_eq!((m.foreign_syncid, m.bulk_requests_received), (3, 0));
}

#[test]
fn malformed_payloads_are_counted_not_fatal() {
    let mut net = started();
    net.change(M, conn(1));
    net.run_until(ms(20));
    let before = net.tables[B].entries();
    let mut good = [0u8; 64];
    let mut writer = MessageWriter::new(&mut good, 1, 2);
    writer.push(&conn(2));
    let len = writer.finish();
    let mut bad_method = good[..len].to_vec();
    bad_method[15] = 2; // tunnelling
    let garbage: [&[u8]; 4] = [
        &[0xff; 5],
        &[1, 1, 0, 8, 0, 0, 0, 0],
        &bad_method,
        &good[..len - 1],
    ];
    for payload in garbage {
        assert!(net.inject(B, payload).is_err());
    }
    assert!(net.inject(M, &[0u8; 3]).is_err());
    assert_eq!(net.counters(B).malformed, 4);
    assert_eq!(net.counters(M).malformed, 1);
    assert_eq!(net.tables[B].entries(), before);
    // The empty bulk message, its BULK_DONE and the change.
    assert_eq!(net.counters(B).msgs_received, 3);
}

#[test]
fn a_kernel_masters_message_installs_without_sequence_checks() {
    let mut net = started();
    let before = net.counters(B);
    let mut buf = [0u8; 64];
    let mut writer = MessageWriter::new(&mut buf, 1, 500);
    writer.push(&conn(7));
    // A kernel sends no record: cut it and fix the size.
    let len = writer.finish() - wire::RECORD_LEN;
    buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    net.inject(B, &buf[..len]).unwrap();
    net.run_until(ms(500));
    assert_eq!(net.tables[B].get(&conn(7)), Some(conn(7)));
    let c = net.counters(B);
    assert_eq!(c.entries_installed, before.entries_installed + 1);
    // Sequence 500 in a record would have been a gap of 499 and a bulk request.
    assert_eq!((c.msgs_lost, c.seq_resets), (0, 0));
    assert_eq!(
        (c.acks_sent, c.bulk_requests_sent),
        (before.acks_sent, before.bulk_requests_sent)
    );
}

#[test]
fn install_errors_are_counted_by_reason() {
    let mut net = started();
    net.tables[B].vips = Some(vec![VIP]);
    net.tables[B].capacity = Some(2);
    let elsewhere = SyncEntry {
        vip: Ipv4Addr::new(198, 18, 0, 101),
        ..conn(9)
    };
    for entry in [conn(1), conn(2), conn(3), elsewhere] {
        net.change(M, entry);
    }
    net.run_until(ms(20));
    let c = net.counters(B);
    assert_eq!((c.entries_received, c.entries_installed), (4, 2));
    assert_eq!(
        (c.install_errors, c.install_table_full, c.install_no_service),
        (2, 1, 1)
    );
    assert_eq!(net.tables[B].entries(), [conn(1), conn(2)]);
}

#[test]
fn a_full_change_queue_drops_and_refresh_catches_up() {
    let small = SyncConfig {
        change_queue: 4,
        ..SyncConfig::default()
    };
    let mut net = Net::new([small, SyncConfig::default()]);
    net.set_master(M, true);
    net.set_master(B, false);
    net.run_until(ms(10));
    for i in 0..6 {
        net.change(M, conn(i));
    }
    assert_eq!(net.counters(M).changes_dropped, 2);
    net.run_until(ms(20));
    assert_eq!(net.tables[B].entries().len(), 4);
    // One refresh message per 30 s for six entries, counted from 10 ms (when the master
    // first saw a non-empty table).
    net.run_until(ms(30_009));
    assert_eq!(net.tables[B].entries().len(), 4);
    net.run_until(ms(30_010));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    assert_eq!(net.counters(M).refresh_entries_sent, 6);
}

#[test]
fn each_role_ignores_what_is_not_for_it() {
    let mut net = started();
    net.nodes[B].note_change(net.now, conn(1));
    net.run_until(ms(100));
    assert!(net.entries_msgs(B, ms(0), ms(100)).is_empty());
    // Entries reaching a master (a second master), control reaching a backup (another
    // backup's): ignored.
    let mut buf = [0u8; 64];
    let mut writer = MessageWriter::new(&mut buf, 1, 7);
    writer.push(&conn(2));
    let len = writer.finish();
    net.inject(M, &buf[..len]).unwrap();
    assert!(net.tables[M].entries().is_empty());
    let len = write_control(&mut buf, 1, ControlKind::Ack, 3);
    net.inject(B, &buf[..len]).unwrap();
    assert_eq!(net.counters(M).ignored_for_role, 1);
    assert_eq!(net.counters(B).ignored_for_role, 1);
    // An idle node sends nothing and ignores everything.
    net.nodes[B].stop(net.now);
    assert_eq!(net.nodes[B].role(), Role::Idle);
    net.inject(B, &buf[..len]).unwrap();
    assert_eq!(net.counters(B).ignored_for_role, 2);
    assert_eq!(net.nodes[B].poll_timeout(), None);
}
