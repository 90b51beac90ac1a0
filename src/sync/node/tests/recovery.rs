//! Getting the whole table across: after a lost message, to a backup started late, when the
//! start-up request is lost, when a second request comes mid-walk, and when the roles swap.

use super::net::{Kind, Net};
use super::*;
use crate::sync::wire::{ControlKind, write_control};

/// Bulk entries messages sent by `from` in `[start, end)`, grouped by instant.
fn per_instant(net: &Net, from: usize, start: Instant, end: Instant) -> Vec<(Instant, usize)> {
    let mut out: Vec<(Instant, usize)> = Vec::new();
    for s in net.entries_msgs(from, start, end) {
        match out.last_mut() {
            Some((at, n)) if *at == s.at => *n += 1,
            _ => out.push((s.at, 1)),
        }
    }
    out
}

#[test]
fn a_lost_message_is_counted_and_a_bulk_transfer_repairs_it() {
    let mut net = Net::pair();
    net.lose.push((M, 2));
    for k in 0..5 {
        net.run_until(ms(10 + 10 * k));
        net.change(M, conn(k as u32));
    }
    // Messages at 12, 22 (seq 2, lost), 32, 42, 52 ms; the gap is seen at 32 ms.
    net.run_until(ms(999));
    assert_eq!(net.counters(B).msgs_lost, 1);
    assert!(!net.tables[B].contains(&conn(1)));
    assert_eq!(net.tables[B].entries().len(), 4);
    // The start-up request went at 0: the next may go at 1 s.
    net.run_until(secs(1));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    assert_eq!(net.counters(M).bulk_entries_sent, 5);
    net.run_until(secs(5));
    let b = net.counters(B);
    assert_eq!((b.bulk_requests_sent, b.msgs_lost, b.seq_resets), (2, 1, 0));
}

#[test]
fn a_lost_request_after_a_gap_is_asked_again_without_refresh() {
    let quiet = SyncConfig {
        refresh_period: None,
        ..SyncConfig::default()
    };
    let mut net = Net::new([quiet.clone(), quiet]);
    net.nodes[M].set_master(ms(0), true);
    net.nodes[B].set_master(ms(0), false);
    net.lose.push((M, 2));
    for k in 0..5 {
        net.run_until(ms(10 + 10 * k));
        net.change(M, conn(k as u32));
    }
    // The gap is seen at 32 ms; the request it asks for goes at 1 s and is lost.
    net.run_until(ms(999));
    net.cut[B] = true;
    net.run_until(ms(1001));
    net.cut[B] = false;
    assert!(!net.tables[B].contains(&conn(1)));
    // Nothing else would repair it (no refresh): the backup asks again a second later.
    net.run_until(ms(2001));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    net.run_until(secs(6));
    let b = net.counters(B);
    assert_eq!(
        (b.bulk_requests_sent, b.msgs_lost),
        (3, 1),
        "no asking once whole"
    );
}

#[test]
fn a_backup_started_late_asks_for_and_gets_the_whole_table() {
    let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
    net.set_master(M, true);
    for i in 0..1000 {
        net.change(M, conn(i));
    }
    net.run_until(secs(1));
    assert_eq!(
        net.counters(B).ignored_for_role,
        25,
        "the idle node ignored the changes"
    );
    net.set_master(B, false);
    net.run_until(ms(1100));
    assert_eq!(net.tables[B].entries().len(), 1000);
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    // Paced: 16 messages per millisecond.
    assert_eq!(
        per_instant(&net, M, secs(1), ms(1100)),
        [(ms(1000), 16), (ms(1001), 9)]
    );
    let (m, b) = (net.counters(M), net.counters(B));
    assert_eq!((m.bulk_requests_received, m.bulk_entries_sent), (1, 1000));
    assert_eq!((b.msgs_lost, b.entries_installed), (0, 1000));
}

#[test]
fn the_start_up_request_is_retried_until_entries_arrive() {
    let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
    for i in 0..3 {
        net.tables[M].put(0, conn(i));
    }
    net.set_master(M, true);
    net.set_master(B, false);
    net.cut[B] = true;
    net.run_until(ms(2500));
    assert_eq!(net.counters(B).bulk_requests_sent, 3);
    assert_eq!(net.counters(M).bulk_requests_received, 0);
    net.cut[B] = false;
    net.run_until(secs(3));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    net.run_until(secs(6));
    assert_eq!(net.counters(B).bulk_requests_sent, 4);
}

#[test]
fn a_request_during_a_walk_walks_the_table_again() {
    let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
    for i in 0..1000 {
        net.tables[M].put(0, conn(i));
    }
    net.set_master(M, true);
    net.run_until(ms(10));
    net.set_master(B, false);
    net.run_until(ms(10));
    assert_eq!(net.counters(M).bulk_entries_sent, 16 * 40);
    let mut buf = [0u8; 16];
    let len = write_control(&mut buf, 1, ControlKind::BulkRequest, 0);
    net.inject(M, &buf[..len]).unwrap();
    net.run_until(ms(20));
    assert_eq!(
        per_instant(&net, M, ms(10), ms(20)),
        [(ms(10), 16), (ms(11), 16), (ms(12), 16), (ms(13), 2)]
    );
    assert_eq!(net.counters(M).bulk_entries_sent, 2000);
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
}

#[test]
fn an_empty_table_answers_with_one_empty_message() {
    let mut net = Net::pair();
    net.run_until(secs(5));
    let sent = net.sent(M, ms(0), secs(5));
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].kind, Kind::Entries { seq: 0, count: 0 });
    assert_eq!(
        sent[1].kind,
        Kind::Control {
            kind: ControlKind::BulkDone,
            value: 0
        }
    );
    assert_eq!(net.counters(B).bulk_requests_sent, 1);
}

#[test]
fn roles_swap_and_the_old_master_gets_the_table_back() {
    let mut net = Net::pair();
    net.run_until(ms(10));
    for i in 0..50 {
        net.change(M, conn(i));
    }
    net.run_until(secs(1));
    assert_eq!(net.tables[B].entries().len(), 50);
    // The master restarts with an empty table; the backup took over.
    net.tables[M].clear();
    net.set_master(B, true);
    net.set_master(M, false);
    net.run_until(ms(1001));
    assert_eq!(net.tables[M].entries(), net.tables[B].entries());
    assert_eq!(net.tables[M].entries().len(), 50);
    net.run_until(ms(1500));
    for i in 100..110 {
        net.change(B, conn(i));
    }
    net.run_until(secs(2));
    assert_eq!(net.tables[M].entries().len(), 60);
    assert_eq!(net.tables[M].entries(), net.tables[B].entries());
    let (old, new) = (net.counters(M), net.counters(B));
    assert_eq!((old.bulk_requests_sent, new.bulk_requests_received), (1, 1));
    assert_eq!((old.msgs_lost, old.seq_resets), (0, 0));
    assert!(net.entries_msgs(M, secs(1), secs(2)).is_empty());
}

#[test]
fn a_change_before_the_bulk_does_not_stop_the_retries() {
    // A restarted backup's first request is lost (its switch port does not forward yet) and a
    // change message reaches it first: it keeps asking until a whole walk has arrived.
    let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
    for i in 0..100 {
        net.tables[M].put(0, conn(i));
    }
    net.set_master(M, true);
    net.set_master(B, false);
    net.cut[B] = true;
    net.run_until(ms(10));
    net.cut[B] = false;
    net.change(M, conn(500));
    net.run_until(ms(20));
    assert_eq!(
        net.tables[B].entries(),
        [conn(500)],
        "only the change so far"
    );
    net.run_until(secs(1));
    assert_eq!(net.tables[B].entries().len(), 101);
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    net.run_until(secs(5));
    let b = net.counters(B);
    assert_eq!((b.bulk_requests_sent, b.bulks_completed), (2, 1));
    assert_eq!(net.counters(M).bulk_done_sent, 1);
}

#[test]
fn a_walk_joined_midway_does_not_count_as_whole() {
    let mut net = Net::new([SyncConfig::default(), SyncConfig::default()]);
    for i in 0..1000 {
        net.tables[M].put(0, conn(i));
    }
    net.set_master(M, true);
    // Another backup's request: a walk of 25 messages, 16 of them at 0 ms.
    let mut buf = [0u8; 16];
    let len = write_control(&mut buf, 1, ControlKind::BulkRequest, 0);
    net.inject(M, &buf[..len]).unwrap();
    net.run_until(ms(0));
    // This backup starts now; its own request is lost. It gets the walk's last 9 messages
    // and the BULK_DONE of a walk that began before it listened.
    net.set_master(B, false);
    net.cut[B] = true;
    net.run_until(ms(500));
    assert_eq!(net.tables[B].entries().len(), 1000 - 16 * 40);
    assert_eq!(net.counters(B).bulks_completed, 0);
    net.cut[B] = false;
    net.run_until(ms(1100));
    assert_eq!(net.tables[B].entries(), net.tables[M].entries());
    net.run_until(secs(5));
    let b = net.counters(B);
    assert_eq!((b.bulk_requests_sent, b.bulks_completed), (2, 1));
    assert_eq!(net.counters(M).bulk_done_sent, 2);
}
