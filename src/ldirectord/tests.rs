//! Tests of the ldirectord.cf reader: what it takes, and every refusal naming its line and key.

use super::cf::{CheckType, parse};
use std::net::Ipv4Addr;

/// The shape of Debian's example file (ldirectord's own `examples/ldirectord.cf`), on lab
/// addresses, with tabs and spaces for indentation and comments at the ends of lines.
const EXAMPLE: &str = "\
# Global Directives
checktimeout=3
checkinterval=1
autoreload=yes
quiescent=no

virtual=198.18.0.100:80
\treal=198.18.0.11:80 gate
\treal=198.18.0.12:80 gate 3   # a stronger one
    real=198.18.0.13 gate
\tservice=http
\tscheduler=wrr
\tpersistent=600
\tnetmask=255.255.255.0
\tprotocol=tcp
\tchecktype=negotiate
\tcheckport=80
\trequest=\"health\"
\treceive=\"ok\"
\tvirtualhost=www.example.test
";

#[test]
fn the_example_reads_as_ldirectord_reads_it() {
    let cf = parse(EXAMPLE).unwrap();
    assert_eq!(cf.checks.timeout_s, Some(3));
    assert_eq!(cf.checks.interval_s, Some(1));
    assert!(!cf.quiescent);
    let [v] = cf.virtuals.as_slice() else {
        panic!("one virtual, got {:?}", cf.virtuals)
    };
    assert_eq!(
        (v.addr, v.port, v.udp),
        (Ipv4Addr::new(198, 18, 0, 100), 80, false)
    );
    assert_eq!(v.scheduler, "wrr");
    assert_eq!(v.persistent_s, Some(600));
    assert_eq!(v.netmask, Some(Ipv4Addr::new(255, 255, 255, 0)));
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!(v.request, "/health", "ldirectord puts a / in front");
    assert_eq!(v.receive.as_deref(), Some("ok"));
    let reals: Vec<_> = v
        .reals
        .iter()
        .map(|r| (r.addr.octets()[3], r.port, r.weight))
        .collect();
    assert_eq!(reals, [(11, 80, 1), (12, 80, 3), (13, 0, 1)]);
    assert_eq!(v.reals[1].line, 9);
}

#[test]
fn defaults_are_ldirectords() {
    let cf = parse("virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n").unwrap();
    let v = &cf.virtuals[0];
    assert_eq!(v.scheduler, "wrr");
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!(v.service, "http", "port 80 means http");
    assert_eq!(v.request, "/");
    let dns = parse("virtual=198.18.0.100:53\n\treal=198.18.0.11 gate\n\tchecktype=on\n").unwrap();
    assert!(dns.virtuals[0].udp, "port 53 means udp");
}

#[test]
fn refusals_name_the_line_and_the_key() {
    let cases: &[(&str, usize, &str, &str)] = &[
        (
            "emailalert=root@x\n",
            1,
            "emailalert",
            "not supported by tapvs",
        ),
        ("frobnicate=1\n", 1, "frobnicate", "unknown key"),
        ("checktimeout=0\n", 1, "checktimeout", "above 0"),
        ("quiescent=maybe\n", 1, "quiescent", "'yes' or 'no'"),
        (
            "\treal=198.18.0.11 gate\n",
            1,
            "real",
            "outside a `virtual=` block",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\nquiescent=no\n\treal=198.18.0.12 gate\n",
            4,
            "real",
            "outside",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 ipip\n",
            2,
            "real",
            "ipip",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=198.18.0.11\n",
            2,
            "real",
            "gate, masq or ipip",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=rs1.example gate\n",
            2,
            "real",
            "not an IPv4",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate x\n",
            2,
            "real",
            "not a number",
        ),
        (
            "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate 1 \"/\", \"ok\"\n",
            2,
            "real",
            "per-server",
        ),
        (
            "virtual=198.18.0.100:80\n\tchecktype=ping\n",
            2,
            "checktype",
            "not supported",
        ),
        (
            "virtual=198.18.0.100:80\n\tchecktype=3\n",
            2,
            "checktype",
            "combined",
        ),
        (
            "virtual=198.18.0.100:80\n\tlogin=\"x\"\n",
            2,
            "login",
            "not supported",
        ),
        (
            "virtual=198.18.0.100:80\n\tscheduler=WRR\n",
            2,
            "scheduler",
            "lowercase",
        ),
        (
            "virtual=198.18.0.100:80\n\tnetmask=24\n",
            2,
            "netmask",
            "dotted quad",
        ),
        (
            "virtual=198.18.0.100:80\n\trequest=/\n",
            2,
            "request",
            "quoted",
        ),
        (
            "virtual=198.18.0.100:80\n\thttpmethod=HEAD\n",
            2,
            "httpmethod",
            "only GET",
        ),
        (
            "virtual=198.18.0.100:8080\n\treal=198.18.0.11 gate\n",
            1,
            "service",
            "negotiate",
        ),
        ("virtual=198.18.0.100:80\n", 1, "virtual", "no `real=`"),
        ("virtual=1\n", 1, "virtual", "not an IPv4"),
        ("virtual=198.18.0.100\n", 1, "virtual", "a port is needed"),
        ("virtual6=[::1]:80\n", 1, "virtual6", "IPv6"),
        ("just words\n", 1, "just words", "key = value"),
    ];
    for &(text, line, key, reason) in cases {
        let e = parse(text).expect_err(text);
        assert_eq!((e.line, e.key.as_str()), (line, key), "{text:?}: {e}");
        assert!(e.reason.contains(reason), "{text:?}: {e}");
    }
}

#[test]
fn a_block_ends_at_the_first_line_not_indented() {
    let text = "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\nchecktimeout=4\n";
    let cf = parse(text).unwrap();
    assert_eq!(
        cf.checks.timeout_s,
        Some(4),
        "a global line after the block"
    );
    assert_eq!(cf.virtuals[0].checks.timeout_s, None);
    let two = "virtual=198.18.0.100:80\n\treal=198.18.0.11 gate\n\
               virtual=198.18.0.101:80\n\treal=198.18.0.12 gate 2\n";
    let cf = parse(two).unwrap();
    assert_eq!(cf.virtuals.len(), 2);
    assert_eq!(cf.virtuals[1].reals[0].weight, 2);
}

/// A scenario whose checks ldirectord can run as they are.
const LDIRECTORD_SCENARIO: &str = r#"
name = "ld"
[service]
scheduler = "wlc"
persistence = "30s"
[health]
check = "http"
interval = "2s"
timeout = "1s"
fall = 3
rise = 1
initial = "down"
on_failure = "remove"
status = [200, 299]
path = "/health"
expect = "ok"
[[real_server]]
name = "rs1"
[[real_server]]
name = "rs2"
weight = 3
[[real_server]]
name = "sorry"
sorry = true
[[load]]
name = "web"
mode = "open"
rate = 10
connection = "new"
duration = "2s"
"#;

fn scenario(text: &str) -> crate::scenario::Scenario {
    crate::scenario::Scenario::parse(std::path::Path::new("ld.toml"), text).unwrap()
}

#[test]
fn a_rendered_file_reads_back_as_the_scenario_says() {
    let text = super::render::render(&scenario(LDIRECTORD_SCENARIO)).unwrap();
    let cf = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(cf.checks.interval_s, Some(2));
    assert_eq!(cf.checks.timeout_s, Some(1));
    assert_eq!(cf.checks.failure_count, Some(3));
    assert!(!cf.quiescent, "on_failure = remove is quiescent = no");
    let v = &cf.virtuals[0];
    assert_eq!((v.addr, v.port), (Ipv4Addr::new(198, 18, 0, 100), 80));
    assert_eq!(v.scheduler, "wlc");
    assert_eq!(v.persistent_s, Some(30));
    assert_eq!(v.checktype, CheckType::Negotiate);
    assert_eq!(
        (v.request.as_str(), v.receive.as_deref()),
        ("/health", Some("ok"))
    );
    let reals: Vec<_> = v
        .reals
        .iter()
        .map(|r| (r.addr.octets()[3], r.weight, r.masq))
        .collect();
    assert_eq!(reals, [(11, 1, false), (12, 3, false)]);
    assert_eq!(v.fallback.as_ref().map(|f| f.addr.octets()[3]), Some(13));
}

#[test]
fn what_ldirectord_cannot_do_is_refused_by_field() {
    let cases = [
        ("timeout = \"1s\"", "timeout = \"500ms\"", "health.timeout"),
        ("rise = 1", "rise = 2", "health.rise"),
        (
            "name = \"rs1\"",
            "name = \"rs1\"\nhealth = { fall = 2 }",
            "real_server[0].health",
        ),
        (
            "status = [200, 299]",
            "status = [200, 399]",
            "health.status",
        ),
        (
            "persistence = \"30s\"",
            "persistence = \"1500ms\"",
            "service.persistence",
        ),
    ];
    for (from, to, field) in cases {
        let s = scenario(&LDIRECTORD_SCENARIO.replace(from, to));
        let (got, why) = super::render::render(&s).expect_err(field);
        assert_eq!(got, field, "{why}");
    }
}
