//! The refresh walk: a quiet connection stays alive on the backup only with it, and its pace
//! covers the table once per period.

use super::net::Net;
use super::*;

/// A connection (60 s timeout) created at 1 s and kept alive on the master by traffic every
/// 10 s up to 200 s, without any change to sync. Returns whether the backup had it at each
/// checkpoint (10 s, 20 s, … 200 s).
fn quiet_connection(refresh_period: Option<Duration>) -> (Net, Vec<bool>) {
    let config = SyncConfig {
        refresh_period,
        ..SyncConfig::default()
    };
    let mut net = Net::new([config.clone(), config]);
    net.set_master(M, true);
    net.set_master(B, false);
    net.run_until(secs(1));
    let quiet = SyncEntry {
        timeout_s: 60,
        ..conn(1)
    };
    net.change(M, quiet);
    let mut on_backup = Vec::new();
    for s in (10..=200).step_by(10) {
        net.run_until(secs(s));
        net.tables[M].put(now_ms(net.now), quiet);
        on_backup.push(net.tables[B].contains(&quiet));
    }
    assert!(net.tables[M].contains(&quiet));
    (net, on_backup)
}

#[test]
fn a_quiet_connection_outlives_its_timeout_on_the_backup_only_with_refresh() {
    let (net, on_backup) = quiet_connection(Some(Duration::from_secs(30)));
    assert!(on_backup.iter().all(|&had| had), "{on_backup:?}");
    // One message per 30 s for a one-entry table: 30, 60, … 180 s.
    assert_eq!(net.counters(M).refresh_entries_sent, 6);

    let (net, on_backup) = quiet_connection(None);
    // Installed at 1.002 s for 60 s: gone from the 70 s checkpoint on.
    let expected: Vec<bool> = (10..=200).step_by(10).map(|s| s <= 60).collect();
    assert_eq!(on_backup, expected);
    assert_eq!(net.counters(M).refresh_entries_sent, 0);
}

#[test]
fn the_walk_covers_the_table_once_per_period() {
    let mut net = Net::pair();
    for i in 0..100 {
        net.tables[M].put(0, conn(i));
    }
    net.run_until(secs(120));
    // ⌈100 / 40⌉ = 3 messages per 30 s pass: one every 10 s, of 40, 40 and 20 entries.
    let sent: Vec<_> = net
        .carried
        .iter()
        .filter(|(at, from, _)| *from == M && *at > ms(0))
        .map(|(at, _, entries)| (*at, entries.len()))
        .collect();
    let expected: Vec<_> = (1..=12)
        .map(|k| (secs(10 * k), [40, 40, 20][(k as usize - 1) % 3]))
        .collect();
    assert_eq!(sent, expected);
    assert_eq!(net.counters(M).refresh_entries_sent, 400);
    // Every entry comes back exactly every 30 s.
    for i in 0..100 {
        let times: Vec<Instant> = net
            .carried
            .iter()
            .filter(|(_, from, entries)| *from == M && entries.contains(&conn(i)))
            .map(|(at, _, _)| *at)
            .collect();
        assert_eq!(times.len(), 4, "entry {i}: {times:?}");
        assert!(times[0] <= secs(30));
        assert!(
            times
                .windows(2)
                .all(|w| w[1] - w[0] == Duration::from_secs(30)),
            "entry {i}: {times:?}"
        );
    }
}
