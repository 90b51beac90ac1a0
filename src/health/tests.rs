//! The health monitor with a hand-moved clock: the rise/fall hysteresis, timeouts, late
//! answers, the spread of first checks; the policy's weight changes; and the scheduler seeing
//! only weights.

use super::config::{CheckKind, OnFailure, Params};
use super::monitor::{Monitor, Target, Transition};
use super::policy::{Action, ServicePolicy};
use crate::config::DirectorConfig;
use crate::sched::{self, Flow, SchedulerKind, ServerView};
use std::net::Ipv4Addr;
use std::path::Path;

const P: Params = Params {
    interval_ms: 1000,
    timeout_ms: 500,
    rise: 2,
    fall: 3,
    initially_up: true,
};

fn one(params: Params) -> Monitor {
    Monitor::new(
        0,
        &[Target {
            service: 0,
            server: 0,
            params,
        }],
    )
}

/// Runs one check of server 0 at `at` with this verdict; returns any transition.
fn check(m: &mut Monitor, at: u64, ok: bool) -> Option<Transition> {
    assert_eq!(m.poll_start(at), Some(0), "a check is due at {at}");
    m.report(at + 3, 0, ok)
}

#[test]
fn an_up_server_goes_down_after_fall_failures_in_a_row_only() {
    let mut m = one(P);
    assert_eq!(check(&mut m, 0, false), None);
    assert_eq!(check(&mut m, 1000, false), None);
    // A success resets the count.
    assert_eq!(check(&mut m, 2000, true), None);
    assert_eq!(check(&mut m, 3000, false), None);
    assert_eq!(check(&mut m, 4000, false), None);
    assert!(m.is_up(0));
    let down = check(&mut m, 5000, false).unwrap();
    assert_eq!(
        down,
        Transition {
            index: 0,
            up: false,
            at_ms: 5003
        }
    );
    assert!(!m.is_up(0));
    assert_eq!(check(&mut m, 6000, false), None, "already down");
}

#[test]
fn a_down_server_comes_back_after_rise_successes_in_a_row() {
    let mut m = one(Params {
        initially_up: false,
        ..P
    });
    assert!(!m.is_up(0));
    assert_eq!(check(&mut m, 0, true), None);
    assert_eq!(check(&mut m, 1000, false), None);
    assert_eq!(check(&mut m, 2000, true), None);
    let up = check(&mut m, 3000, true).unwrap();
    assert!(up.up);
    assert_eq!(up.at_ms, 3003);
    let c = m.counters(0);
    assert_eq!((c.checks, c.ok, c.failed, c.transitions), (4, 3, 1, 1));
    assert_eq!(c.last_latency_ms, 3);
}

#[test]
fn a_check_without_verdict_times_out_as_a_failure() {
    let mut m = one(Params { fall: 1, ..P });
    assert_eq!(m.poll_start(0), Some(0));
    assert_eq!(m.poll_timeout(), Some(500));
    assert_eq!(m.poll_expired(499), None);
    let (i, t) = m.poll_expired(500).unwrap();
    assert_eq!(i, 0);
    assert_eq!(
        t,
        Some(Transition {
            index: 0,
            up: false,
            at_ms: 500
        })
    );
    // The answer that comes after the timeout is ignored.
    assert_eq!(m.report(600, 0, true), None);
    assert_eq!(m.counters(0).timeouts, 1);
    assert_eq!(m.counters(0).ok, 0);
    // The next check goes one interval after the last one started.
    assert_eq!(m.poll_timeout(), Some(1000));
    assert_eq!(m.poll_start(999), None);
    assert_eq!(m.poll_start(1000), Some(0));
}

#[test]
fn first_checks_are_spread_over_one_interval() {
    let targets: Vec<Target> = (0..4)
        .map(|server| Target {
            service: 0,
            server,
            params: P,
        })
        .collect();
    let mut m = Monitor::new(10_000, &targets);
    let mut starts = Vec::new();
    for t in (10_000..11_000).step_by(50) {
        while let Some(i) = m.poll_start(t) {
            starts.push((t, i));
        }
    }
    assert_eq!(starts, [(10_000, 0), (10_250, 1), (10_500, 2), (10_750, 3)]);
}

fn policy(on_failure: OnFailure, sorry: Option<usize>) -> ServicePolicy {
    ServicePolicy {
        service: 2,
        on_failure,
        configured: vec![5, 1, 3],
        sorry,
    }
}

#[test]
fn down_means_weight_zero_and_up_the_configured_weight_back() {
    let p = policy(OnFailure::Quiescent, None);
    let set = |server, weight| Action::SetWeight {
        service: 2,
        server,
        weight,
    };
    assert_eq!(p.on_change(0, false, &[false, true, true]), [set(0, 0)]);
    assert_eq!(p.on_change(0, true, &[true, true, true]), [set(0, 5)]);
    assert_eq!(p.initial(&[true, false, true]), [set(1, 0)]);
}

#[test]
fn remove_also_expires_the_connections() {
    let p = policy(OnFailure::Remove, None);
    assert_eq!(
        p.on_change(2, false, &[true, true, false]),
        [
            Action::SetWeight {
                service: 2,
                server: 2,
                weight: 0
            },
            Action::ExpireConns {
                service: 2,
                server: 2
            }
        ]
    );
    assert_eq!(p.on_change(2, true, &[true; 3]).len(), 1);
}

#[test]
fn the_sorry_server_has_weight_only_while_no_real_server_is_up() {
    let p = policy(OnFailure::Quiescent, Some(3));
    let sorry = |weight| Action::SetWeight {
        service: 2,
        server: 3,
        weight,
    };
    assert_eq!(p.on_change(1, false, &[false, false, true])[1], sorry(0));
    assert_eq!(p.on_change(2, false, &[false, false, false])[1], sorry(1));
    assert_eq!(p.on_change(0, true, &[true, false, false])[1], sorry(0));
    assert_eq!(p.initial(&[false; 3]).last(), Some(&sorry(1)));
    assert_eq!(p.initial(&[true; 3]), [sorry(0)]);
}

/// Policy apart from mechanism: what the health checks decide reaches the scheduler as a
/// weight, nothing else. For every scheduler, a server at weight 0 gets no new flow, and gets
/// flows again once its weight is back.
#[test]
fn schedulers_see_health_only_as_weights() {
    let flow = |i: u32| Flow {
        protocol: 6,
        src: Ipv4Addr::from(0xc613_0000 + i),
        src_port: 1024 + (i % 60_000) as u16,
        // Several VIPs, so that dh (by destination) spreads too.
        dst: Ipv4Addr::new(198, 18, 0, 100 + (i % 100) as u8),
        dst_port: 80,
    };
    for kind in SchedulerKind::ALL {
        let mut views: Vec<ServerView> = (0..3)
            .map(|i| ServerView {
                addr: Ipv4Addr::new(198, 18, 0, 11 + i),
                port: 80,
                weight: 1,
                // The down server is the least loaded: count-based schedulers would want it.
                active_conns: if i == 1 { 0 } else { 10 },
                inactive_conns: 0,
            })
            .collect();
        let mut s = sched::build(kind, &views);
        views[1].weight = 0;
        s.update(&views);
        for i in 0..300 {
            assert_ne!(s.schedule(&views, &flow(i)), Some(1), "{kind:?}");
        }
        views[1].weight = 1;
        s.update(&views);
        let back = (0..300).filter(|&i| s.schedule(&views, &flow(i)) == Some(1));
        assert!(back.count() > 0, "{kind:?}: the server is back");
    }
}

/// A director configuration with one checked service (`health` is the section's body) and
/// two real servers, the second with `over` as its own `health`.
fn director_config(health: &str, over: &str, extra: &str) -> Result<DirectorConfig, String> {
    let text = format!(
        "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
         prefix_len = 24\ngateway = \"198.18.0.1\"\n\
         [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"rr\"\n{extra}\n\
         {health}\n\
         [[service.real_server]]\nname = \"rs1\"\naddress = \"198.18.0.11\"\nport = 80\n\
         [[service.real_server]]\nname = \"rs2\"\naddress = \"198.18.0.12\"\nport = 80\n{over}\n"
    );
    DirectorConfig::parse(Path::new("d1.toml"), &text).map_err(|e| e.to_string())
}

#[test]
fn the_director_config_takes_checks_per_service_and_per_server() {
    let section =
        "[service.health]\ncheck = \"http\"\ninterval_ms = 500\ntimeout_ms = 200\nfall = 2";
    let c = director_config(section, "health = { fall = 5, initial = \"down\" }", "").unwrap();
    let s = &c.services[0];
    let h = s.health.as_ref().unwrap();
    assert_eq!(h.check, CheckKind::Http);
    assert_eq!((h.path.as_str(), h.status), ("/", [200, 399]));
    let base = Params {
        interval_ms: 500,
        timeout_ms: 200,
        rise: 2,
        fall: 2,
        initially_up: true,
    };
    assert_eq!(h.params(s.real_servers[0].health.as_ref()), base);
    assert_eq!(
        h.params(s.real_servers[1].health.as_ref()),
        Params {
            fall: 5,
            initially_up: false,
            ..base
        }
    );
}

#[test]
fn bad_checks_are_refused_naming_the_file_and_field() {
    let tcp = "[service.health]\ncheck = \"tcp\"";
    let cases = [
        (
            "[service.health]\ncheck = \"tcp\"\ninterval_ms = 100\ntimeout_ms = 200",
            "",
            "",
            "`service[0].health.timeout_ms`",
        ),
        (
            tcp,
            "health = { rise = 0 }",
            "",
            "`service[0].real_server[1].health.rise`",
        ),
        (
            "[service.health]\ncheck = \"http\"\npath = \"/a b\"",
            "",
            "",
            "`service[0].health.path`",
        ),
        (
            "[service.health]\ncheck = \"http\"\nstatus = [500, 200]",
            "",
            "",
            "`service[0].health.status`",
        ),
        (
            "",
            "",
            "sorry_server = { address = \"198.18.0.20\", port = 80 }",
            "`service[0].sorry_server`",
        ),
        (
            tcp,
            "",
            "sorry_server = { address = \"198.18.5.20\", port = 80 }",
            "`service[0].sorry_server.address`",
        ),
    ];
    for (section, over, extra, field) in cases {
        let err = director_config(section, over, extra).unwrap_err();
        assert!(err.starts_with("d1.toml: field "), "{err}");
        assert!(err.contains(field), "{field} in: {err}");
    }
}
