//! The registry's entries (see `registry.rs`): one line each, declared once, as a constant the
//! code sets and reads (`catalogue::TAKEOVER_MS`) and in [`METRICS`] / [`FAMILIES`], the lists
//! validation and README.md's table use. Only data here.

use super::registry::{Across, Agg, Family, Metric, Unit};

/// Declares each entry as a constant of type `$ty` and lists them all in `$list`.
macro_rules! entries {
    ($ty:ident, $list:ident, $doc:literal;
     $($id:ident = $name:literal, $unit:ident, $agg:ident, $across:ident, $meaning:literal;)*) => {
        $(pub const $id: $ty = $ty {
            name: $name,
            unit: Unit::$unit,
            agg: Agg::$agg,
            across: Across::$across,
            meaning: $meaning,
        };)*
        #[doc = $doc]
        pub const $list: &[$ty] = &[$($id),*];
    };
}

entries! {
    Metric, METRICS, "Every plain metric, in README.md's order.";
    REQUESTS = "requests", Count, SumLoads, Sum,
        "Requests the loads started and finished (ok or failed).";
    REQUESTS_OK = "requests_ok", Count, SumLoads, Sum,
        "Requests that got a complete, valid response.";
    FAILED_REQUESTS = "failed_requests", Count, SumLoads, Sum,
        "Requests that failed (refused, reset, timeout, bad answer).";
    FAILED_SHARE = "failed_share", Share, Ratio, Mean,
        "`failed_requests` ÷ `requests`.";
    THROUGHPUT_RPS = "throughput_rps", PerSecond, Ratio, Mean,
        "Successful requests per second, from the first load's start to the last load's end.";
    GOODPUT_GBPS = "goodput_gbps", Gbps, Ratio, Mean,
        "Response bytes (headers and bodies) received by successful requests, in Gbit/s over the same span.";
    LATENCY_P50_MS = "latency_p50_ms", Ms, WorstLoad, Mean,
        "Median latency of successful requests, from their intended start (no coordinated omission).";
    LATENCY_P99_MS = "latency_p99_ms", Ms, WorstLoad, Mean,
        "99th percentile of the same.";
    SHARE_ERROR_MAX = "share_error_max", Share, MaxServers, Max,
        "The largest gap between a server's `share:<server>` and its weight share (NaN without new connections).";
    MAX_SERVER_SHARE = "max_server_share", Share, MaxServers, Max,
        "The largest `share:<server>` (NaN without new connections).";
    DIRECTOR_BYTE_SHARE = "director_byte_share", Share, Ratio, Mean,
        "Bytes the directors forwarded, both directions, ÷ those on the router's LAN link (the service's whole traffic): ~request/(request+response) in DR, ~1 in NAT.";
    DIRECTOR_PACKET_SHARE = "director_packet_share", Share, Ratio, Mean,
        "The same in packets.";
    DIRECTOR_BYTES = "director_bytes", Bytes, SumDirectors, Sum,
        "Bytes the directors forwarded, both directions (each director's last counters).";
    DIRECTOR_PACKETS = "director_packets", Packets, SumDirectors, Sum,
        "Packets the directors forwarded, both directions.";
    WIRE_BYTES = "wire_bytes", Bytes, Once, Sum,
        "Bytes on the router's LAN link, both directions, over the load.";
    WIRE_PACKETS = "wire_packets", Packets, Once, Sum,
        "Packets on the router's LAN link, both directions, over the load.";
    DIRECTOR_CONN_RATIO = "director_conn_ratio", Ratio, Ratio, Mean,
        "Connections the directors scheduled ÷ connections the clients established (refused attempts count for the directors only).";
    HOST_PROBE_FAILURES = "host_probe_failures", Count, SumDirectors, Sum,
        "Before the load, each director's status port (its own address, port 7070) is asked over TCP and UDP from the clients' namespace (`tapvs probe`): probes without an answer (answers in `logs/probe.log`).";
    TAKEOVER_MS = "takeover_ms", Ms, FirstFault, Mean,
        "First director fault (kill, freeze, stop, cut_link) → the other director's first gratuitous ARP.";
    MASTER_DOWN_MS = "master_down_ms", Ms, Formula, Mean,
        "RFC 5798's Master_Down_Interval (3 × interval + (256 − priority) × interval / 256) of the director that takes over.";
    DEADTIME_MS = "deadtime_ms", Ms, Formula, Mean,
        "With `manager` or `protocol = \"heartbeat\"`: Heartbeat's deadtime, after which the surviving node declares the other dead and takes the VIP (what `takeover_excess_ms` and `takeover_ratio` are then measured against).";
    TAKEOVER_EXCESS_MS = "takeover_excess_ms", Ms, FirstFault, Max,
        "`takeover_ms` − `master_down_ms` (the kill lands up to one interval after the last advert, so about −interval ≤ excess ≤ lab latency); with Heartbeat, − `deadtime_ms` (its resource scripts' time).";
    TAKEOVER_RATIO = "takeover_ratio", Ratio, FirstFault, Mean,
        "`takeover_ms` ÷ `master_down_ms` (Heartbeat: ÷ `deadtime_ms`).";
    OUTAGE_MS = "outage_ms", Ms, Longest, Max,
        "Longest run of intervals in which no successful response *completed* (whenever its request started), while the loads were sending (with `[failover]`).";
    SPLIT_BRAIN_MS = "split_brain_ms", Ms, Sampled, Max,
        "Time (sampled each interval) with more than one active director.";
    SPLIT_BRAIN_AFTER_HEAL_MS = "split_brain_after_heal_ms", Ms, Sampled, Max,
        "The same after the last repair (resume, restart, restore_link, heal_heartbeat).";
    MASTERS_AT_END = "masters_at_end", Count, Once, Max,
        "Directors active at the last sample.";
    NO_MASTER_MS = "no_master_ms", Ms, Sampled, Max,
        "Time (sampled each interval) with no active director (two tapvs directors).";
    FAILED_BEFORE_FAULT = "failed_before_fault", Count, FirstFault, Sum,
        "Failed requests in the intervals before the first director fault (but the last one, whose requests may be in flight at the fault).";
    BACKUP_TABLE_RATIO = "backup_table_ratio", Ratio, FirstFault, Mean,
        "Just before the first director fault: the other director's table size ÷ the failing one's (`directors.csv` has both over time).";
    BROKEN_CONNECTIONS = "broken_connections", Count, SumLoads, Sum,
        "Keep-alive connections that had served requests and then failed one (reset, timeout, bad answer).";
    BROKEN_ON_LIVE_SERVERS = "broken_on_live_servers", Count, SumLoads, Sum,
        "Of those, the ones whose server (the last that answered on them) was not killed or hung at the time (from the interval before the fault to 1 s after its restore): what the balancer broke.";
    DIRECTOR_RSS_MAX_MB = "director_rss_max_mb", Mb, MaxDirectors, Max,
        "The directors' largest resident memory, sampled once a second (`memory.csv`).";
    DIRECTOR_RSS_GROWTH_MB = "director_rss_growth_mb", Mb, Once, Max,
        "How much the longest-lived director process grew from a quarter of its life to its end (medians of a tenth of its samples).";
    SYNC_MSGS_SENT = "sync_msgs_sent", Count, SumDirectors, Sum,
        "Connection-sync messages sent.";
    SYNC_ENTRIES_SENT = "sync_entries_sent", Count, SumDirectors, Sum,
        "Connection entries sent in sync messages.";
    SYNC_ENTRIES_INSTALLED = "sync_entries_installed", Count, SumDirectors, Sum,
        "Synced entries a backup installed in its table.";
    SYNC_INSTALL_ERRORS = "sync_install_errors", Count, SumDirectors, Sum,
        "Synced entries a backup could not install.";
    SYNC_MSGS_LOST = "sync_msgs_lost", Count, SumDirectors, Sum,
        "Sync messages a backup found missing by their sequence numbers.";
    SYNC_BULK_ENTRIES_SENT = "sync_bulk_entries_sent", Count, SumDirectors, Sum,
        "Entries sent in full-table bulk transfers.";
    SYNC_BULKS_COMPLETED = "sync_bulks_completed", Count, SumDirectors, Sum,
        "Whole tables received by backups: every message of a bulk walk, then its BULK_DONE (a backup asks again every second until then).";
    SYNC_REFRESH_ENTRIES_SENT = "sync_refresh_entries_sent", Count, SumDirectors, Sum,
        "Entries re-sent by the paced refresh, so quiet connections do not expire early on the backup.";
    SYNC_LAG_MS = "sync_lag_ms", Ms, MaxDirectors, Max,
        "Worst age of the oldest unacknowledged sync message while a backup was acknowledging.";
    GARP_BURSTS_DURING_SPOOF = "garp_bursts_during_spoof", Count, SumFaults, Sum,
        "Gratuitous-ARP bursts (takeovers and re-announcements, from the event logs) begun from the first `spoof_vrrp` until 1 s after the last ends.";
    VRRP_NOT_PEER_DROPPED = "vrrp_not_peer_dropped", Count, SumDirectors, Sum,
        "Adverts the directors dropped as not from a peer (the VRRP counters in `logs/d1.events`).";
    VRRP_SPOOFED_COUNTED_SHARE = "vrrp_spoofed_counted_share", Share, Ratio, Mean,
        "`vrrp_not_peer_dropped` ÷ the forged copies the directors were sent (2 per advert each: group and own address).";
    DRAINED_NEW_CONNS = "drained_new_conns", Count, SumFaults, Sum,
        "After a drain (one interval of grace): new connections to the drained server.";
    DRAINED_REQUESTS_AFTER = "drained_requests_after", Count, SumFaults, Sum,
        "After a drain: requests the drained server served (its open connections go on).";
    FAILED_DURING_FAULT = "failed_during_fault", Count, SumFaults, Sum,
        "Failed requests while a killed (or hung) server is down.";
    FAILED_SHARE_DURING_FAULT = "failed_share_during_fault", Share, Ratio, Mean,
        "Those ÷ all requests in the same windows.";
    FAILED_AFTER_RESTORE = "failed_after_restore", Count, SumFaults, Sum,
        "Failed requests from 1 s after a server is back to the end.";
    DETECTION_MS = "detection_ms", Ms, LatestFault, Max,
        "With `[health]`: first server fault (kill_server, hang_server) → a director marks the server down (the latest, when several fail).";
    FAILED_BEFORE_DETECTION = "failed_before_detection", Count, SumFaults, Sum,
        "Failed requests from each fault's interval to its detection's.";
    FAILED_AFTER_DETECTION = "failed_after_detection", Count, SumFaults, Sum,
        "Failed requests from one load timeout + one interval after the detection until a repair (requests already on their way may still fail).";
    CHECKS_RUN = "checks_run", Count, SumDirectors, Sum,
        "Health checks the directors ran.";
    CHECK_TIMEOUTS = "check_timeouts", Count, SumDirectors, Sum,
        "Health checks that got no verdict in time.";
    CHECK_LATENCY_MAX_MS = "check_latency_max_ms", Ms, MaxDirectors, Max,
        "The slowest check that succeeded, in whole milliseconds (a check on the lab's LAN takes well under one).";
    UNDETECTED_FAULTS = "undetected_faults", Count, SumFaults, Sum,
        "Server faults no director noticed.";
    SERVERS_DOWN_AT_END = "servers_down_at_end", Count, FirstDirector, Max,
        "Servers the first director still marks down at the end.";
    RECOVERY_MS = "recovery_ms", Ms, LatestFault, Max,
        "restore_server or unhang_server → marked up again (the longest).";
    REQUESTS_AFTER_RECOVERY = "requests_after_recovery", Count, SumFaults, Sum,
        "Requests a restored server answered after it was marked up.";
    SORRY_SHARE_AFTER_DETECTION = "sorry_share_after_detection", Share, Ratio, Mean,
        "The sorry server's share of the answers after the detection.";
    SORRY_REQUESTS_BEFORE_FAULT = "sorry_requests_before_fault", Count, SumLoads, Sum,
        "What the sorry server answered before the fault (0: it stands in only when all are down).";
    NEW_CONN_SUCCESS_DURING_FLOOD = "new_conn_success_during_flood", Share, Ratio, Mean,
        "With a `syn_flood` load: the share of the real clients' new-connection requests (loads with `connection = \"new\"`) started during the flood's window that succeeded.";
    NEW_CONN_SUCCESS_AFTER_FLOOD = "new_conn_success_after_flood", Share, Ratio, Mean,
        "The same for those started after it.";
    FLOOD_SENT = "flood_sent", Count, SumLoads, Sum,
        "SYNs the flood's raw socket took.";
    FLOOD_SEND_ERRORS = "flood_send_errors", Count, SumLoads, Sum,
        "SYNs the flood's raw socket refused (full queue).";
    FLOOD_RATE_ACHIEVED = "flood_rate_achieved", PerSecond, SumLoads, Mean,
        "SYNs the flood sent per second.";
    TABLE_PEAK = "table_peak", Count, MaxDirectors, Max,
        "The largest connection table (the first director's own peak counter and every director's samples).";
    TABLE_PEAK_SHARE = "table_peak_share", Share, Ratio, Max,
        "`table_peak` ÷ `lab.max_connections`.";
    DEFENSE_LEVEL_CHANGES = "defense_level_changes", Count, FirstDirector, Sum,
        "The flood defence's on/off changes.";
    DEFENSE_HALF_OPEN_EVICTED = "defense_half_open_evicted", Count, FirstDirector, Sum,
        "Half-open entries the defence evicted for a new connection (table full).";
    DEFENSE_HALF_OPEN_DROPPED = "defense_half_open_dropped", Count, FirstDirector, Sum,
        "Half-open entries the defence's random scan dropped.";
    DEFENSE_HALF_OPEN_EXPIRED_EARLY = "defense_half_open_expired_early", Count, FirstDirector, Sum,
        "Half-open entries expired by the defence's short SYN_RECV timeout.";
    DEFENSE_SYNS_REFUSED = "defense_syns_refused", Count, FirstDirector, Sum,
        "New connections refused by `drop_packet`.";
    DEFENSE_SYNS_REFUSED_PER_SOURCE = "defense_syns_refused_per_source", Count, FirstDirector, Sum,
        "New connections refused by the per-source half-open limit.";
    DIRECTOR_TABLE_FULL_DROPS = "director_table_full_drops", Count, FirstDirector, Sum,
        "New connections refused for a full table.";
    TAP_TX_DROPPED = "tap_tx_dropped", Packets, FirstDirector, Sum,
        "Frames the kernel dropped on the first director's TAP queue (switch side: the director did not read them in time).";
    SPURIOUS_TAKEOVERS = "spurious_takeovers", Count, SumDirectors, Sum,
        "Before the first director fault: times a director became master while another was (from the event logs; two tapvs directors).";
    SPURIOUS_TAKEOVERS_EXPECTED = "spurious_takeovers_expected", Count, Formula, Sum,
        "What RFC 5798's three-missed-adverts rule predicts for the heartbeat link's loss p over the same time: adverts sent × (1 − p)·p³, summed over the loss phases.";
    SPLIT_BRAIN_LOGGED_MS = "split_brain_logged_ms", Ms, Once, Max,
        "Before the first director fault: time two directors were master together, to the millisecond from their event logs.";
}

entries! {
    Family, FAMILIES, "Every family (per server, per link).";
    SHARE = "share", Share, PerServer, Mean,
        "Each server's share of new connections before the first event.";
    DETECTION_MS_OF = "detection_ms", Ms, PerServer, Max,
        "`detection_ms` of each faulted server.";
    LINK_FRAMES = "link_frames", Packets, PerLink, Sum,
        "Frames the link's impairment applied to (matching its filter), both directions, counted on its wire.";
    LINK_DROPPED = "link_dropped", Packets, PerLink, Sum,
        "Of those, frames the wire dropped (loss, full rate queue, oversize).";
    LINK_LOSS_PCT = "link_loss_pct", Percent, PerLink, Mean,
        "Frames dropped by the loss setting ÷ frames matched, in per cent.";
    LINK_DELAYED = "link_delayed", Packets, PerLink, Sum,
        "Frames the wire held back (delay, jitter, rate).";
    LINK_DELAY_MEAN_MS = "link_delay_mean_ms", Ms, PerLink, Mean,
        "Mean delay the wire applied to the frames it held, measured.";
    LINK_DELAY_MAX_MS = "link_delay_max_ms", Ms, PerLink, Max,
        "Longest delay the wire applied to a frame, measured.";
}
