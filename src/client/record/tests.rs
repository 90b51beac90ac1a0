//! Unit tests of the interval aggregation.

use super::*;

fn ok(at_ms: u64, latency_us: u64, server: &str, new_conn: bool) -> Outcome<'_> {
    Outcome {
        at: Duration::from_millis(at_ms),
        latency: Duration::from_micros(latency_us),
        error: None,
        response_bytes: 100,
        request_bytes: 40,
        new_conn,
        broken: false,
        server,
    }
}

#[test]
fn outcomes_land_in_their_intervals() {
    let mut r = Recorder::new(Duration::from_millis(1000), Duration::from_millis(250));
    r.record(&ok(0, 100, "rs1", true));
    r.record(&ok(249, 300, "rs1", false));
    r.record(&ok(260, 200, "rs2", true));
    let failed = Outcome {
        error: Some(ErrorKind::Refused),
        new_conn: false,
        request_bytes: 0,
        ..ok(900, 5, "?", false)
    };
    r.record(&failed);
    r.record(&Outcome {
        error: Some(ErrorKind::Timeout),
        ..ok(2000, 5, "?", true)
    });
    let report = r.finish("web", 1234);
    assert_eq!(
        (
            report.load.as_str(),
            report.started_unix_ms,
            report.interval_ms
        ),
        ("web", 1234, 250)
    );
    let iv = &report.intervals;
    assert_eq!(iv.len(), 4);
    assert_eq!(
        iv.iter().map(|i| i.start_ms).collect::<Vec<_>>(),
        [0, 250, 500, 750]
    );
    assert_eq!(
        (
            iv[0].ok,
            iv[0].failed,
            iv[0].bytes,
            iv[0].request_bytes,
            iv[0].new_conns
        ),
        (2, 0, 200, 80, 1)
    );
    assert_eq!(
        iv[0].servers["rs1"],
        crate::metrics::ServerCounts {
            requests: 2,
            new_conns: 1,
            broken_conns: 0,
        }
    );
    assert_eq!(iv[0].latency.max_us, 300);
    assert_eq!(iv[1].servers["rs2"].requests, 1);
    assert_eq!(
        iv[2],
        Interval {
            start_ms: 500,
            ..Interval::default()
        }
    );
    // Late outcomes go to the last interval; failures carry their kind, not a server.
    assert_eq!((iv[3].ok, iv[3].failed, iv[3].new_conns), (0, 2, 1));
    assert_eq!(iv[3].errors.get("refused"), Some(&1));
    assert_eq!(iv[3].errors.get("timeout"), Some(&1));
    assert!(iv[3].servers.is_empty());
    let t = &report.total;
    assert_eq!((t.ok, t.failed, t.new_conns, t.servers.len()), (3, 2, 3, 2));
    assert_eq!(t.latency.p50_us, 200);
}

#[test]
fn percentiles_over_many_requests() {
    let mut r = Recorder::new(Duration::from_secs(1), Duration::from_secs(1));
    for us in 1..=1000 {
        r.record(&ok(10, us, "a", false));
    }
    let l = r.finish("x", 0).total.latency;
    assert_eq!(
        (l.p50_us, l.p90_us, l.p99_us, l.max_us),
        (500, 900, 990, 1000)
    );
}

#[test]
fn error_kinds_of_socket_errors() {
    use std::io::ErrorKind as K;
    let kind = |k: K| ErrorKind::of_io(&std::io::Error::from(k));
    assert_eq!(kind(K::ConnectionRefused), ErrorKind::Refused);
    assert_eq!(kind(K::ConnectionReset), ErrorKind::Reset);
    assert_eq!(kind(K::BrokenPipe), ErrorKind::Reset);
    assert_eq!(kind(K::TimedOut), ErrorKind::Timeout);
    assert_eq!(kind(K::UnexpectedEof), ErrorKind::Short);
    assert_eq!(kind(K::AddrNotAvailable), ErrorKind::Other);
}

#[test]
fn completions_land_in_the_interval_they_finish_in() {
    let mut r = Recorder::new(Duration::from_millis(1000), Duration::from_millis(250));
    // Started at 0, answered 600 ms later (a SYN retransmit would look like this): it starts
    // in interval 0 but completes in interval 2.
    r.record(&ok(0, 600_000, "rs1", true));
    r.record(&ok(100, 10, "rs1", true));
    // Finishing after the end: counted in the last interval.
    r.record(&ok(900, 5_000_000, "rs1", true));
    let failed = Outcome {
        error: Some(ErrorKind::Timeout),
        ..ok(300, 0, "?", false)
    };
    r.record(&failed);
    let report = r.finish("web", 0);
    let completed: Vec<u64> = report.intervals.iter().map(|i| i.completed_ok).collect();
    assert_eq!(completed, [1, 0, 1, 1]);
    assert_eq!(report.total.completed_ok, 3);
    let started: Vec<u64> = report.intervals.iter().map(|i| i.ok).collect();
    assert_eq!(started, [2, 0, 0, 1]);
}
