//! The ldirectord.cf that says what a scenario's `[service]` and `[health]` say, for the real
//! ldirectord (`[health] checker = "ldirectord"`). ldirectord counts in whole seconds and
//! brings a server back after one good check: what it cannot express is refused, naming the
//! scenario field, rather than silently changed.

use crate::config::Protocol;
use crate::health::config::{CheckKind, OnFailure};
use crate::scenario::{Mode, Scenario};
use std::fmt::Write as _;
use std::time::Duration;

/// A scenario field ldirectord cannot follow, and why.
pub type Refusal = (String, String);

fn refuse(field: &str, reason: impl Into<String>) -> Refusal {
    (field.to_string(), reason.into())
}

/// Whole seconds, or why not.
fn seconds(field: &str, d: Duration) -> Result<u64, Refusal> {
    if d.subsec_nanos() != 0 || d.is_zero() {
        return Err(refuse(
            field,
            format!("ldirectord counts in whole seconds ({d:?} is not)"),
        ));
    }
    Ok(d.as_secs())
}

/// The file's text for `scenario` (its checks, its service, its real servers at their lab
/// addresses).
pub fn render(scenario: &Scenario) -> Result<String, Refusal> {
    let Some(health) = &scenario.health else {
        return Err(refuse(
            "health",
            "the ldirectord checker needs a [health] section",
        ));
    };
    let interval = seconds("health.interval", health.interval)?;
    let timeout = seconds("health.timeout", health.timeout)?;
    if health.rise != 1 {
        return Err(refuse(
            "health.rise",
            "ldirectord brings a server back after one good check: rise must be 1",
        ));
    }
    if let Some(i) = scenario
        .real_servers
        .iter()
        .position(|r| r.health.is_some())
    {
        return Err(refuse(
            &format!("real_server[{i}].health"),
            "ldirectord checks every real server of a service alike",
        ));
    }
    let checktype = match (health.check, scenario.service.protocol) {
        (CheckKind::Tcp, Protocol::Tcp) => "connect",
        (CheckKind::Http, Protocol::Tcp) => "negotiate",
        _ => {
            return Err(refuse(
                "health.check",
                "the ldirectord checker does tcp (connect) and http (negotiate) checks of TCP \
                 services",
            ));
        }
    };
    if health.check == CheckKind::Http && health.status != [200, 299] {
        return Err(refuse(
            "health.status",
            "ldirectord's negotiate check takes any 2xx answer: status must be [200, 299]",
        ));
    }
    let forward = match scenario.lab.mode {
        Mode::Dr => "gate",
        Mode::Nat => "masq",
        other => {
            return Err(refuse(
                "lab.mode",
                format!("no director runs in mode {}", other.name()),
            ));
        }
    };
    let quiescent = match health.on_failure {
        OnFailure::Quiescent => "yes",
        OnFailure::Remove => "no",
    };
    let svc = &scenario.service;
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = writeln!(out, "# Written by tapvs from scenario {}.", scenario.name);
    let _ = writeln!(out, "checkinterval={interval}");
    let _ = writeln!(out, "checktimeout={timeout}");
    let _ = writeln!(out, "negotiatetimeout={timeout}");
    let _ = writeln!(out, "failurecount={}", health.fall);
    let _ = writeln!(out, "quiescent={quiescent}");
    let _ = writeln!(out, "autoreload=no");
    let _ = writeln!(out, "virtual={}:{}", svc.vip, svc.port);
    let layout = scenario.lab.layout();
    for (n, rs) in scenario.real_servers.iter().enumerate() {
        let addr = layout.real_server_address(n as u8 + 1);
        let port = rs.port.unwrap_or(svc.port);
        if rs.sorry {
            let _ = writeln!(out, "\tfallback={addr}:{port} {forward}");
        } else {
            let _ = writeln!(out, "\treal={addr}:{port} {forward} {}", rs.weight);
        }
    }
    let _ = writeln!(out, "\tprotocol=tcp");
    let _ = writeln!(out, "\tscheduler={}", svc.scheduler.name());
    if !svc.persistence.is_zero() {
        let p = seconds("service.persistence", svc.persistence)?;
        let _ = writeln!(out, "\tpersistent={p}");
        let _ = writeln!(out, "\tnetmask={}", svc.persistence_netmask);
    }
    let _ = writeln!(out, "\tchecktype={checktype}");
    if health.check == CheckKind::Http {
        let _ = writeln!(out, "\tservice=http");
        let _ = writeln!(out, "\trequest=\"{}\"", health.path);
        if let Some(expect) = &health.expect {
            let _ = writeln!(out, "\treceive=\"{expect}\"");
        }
    }
    Ok(out)
}
