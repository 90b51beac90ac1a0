//! ipvsadm 1.31's output, byte for byte, from a kernel-like snapshot ([`IpvsTable`]): the
//! listing (`-L` with `--stats`, `--rate`, `--thresholds`, `--persistent-conn`, `--exact`,
//! `--nosort`), the connection listing (`-c`), `--timeout` and the rules of `-S`. The column
//! formats are the printf formats in the ipvsadm 1.31 binary (`strings /usr/sbin/ipvsadm`:
//! `%-33s %8s ...`, `  -> %-28s %-7s %-6d %-10u %-10u`, ...); the golden files in
//! tests/golden/ipvsadm/ are that binary's own output for the same tables.

use super::args::{Format, proto_names};
use super::names::PortNames;
use crate::dataplane::ipvs::{IpvsConn, IpvsDest, IpvsService, IpvsStats, IpvsTable, ServiceKey};
use crate::dataplane::settings::{Forwarding, Protocol};
use std::fmt::{Display, Write};
use std::net::Ipv4Addr;

/// ipvsadm's `addrport_to_anyname`: `addr:port`, the port named unless `numeric`.
fn anyname(addr: Ipv4Addr, port: u16, protocol: Protocol, numeric: bool, n: &PortNames) -> String {
    match (numeric, n.name(port, proto_names(protocol).2)) {
        (false, Some(name)) => format!("{addr}:{name}"),
        _ => format!("{addr}:{port}"),
    }
}

/// `print_largenum`: 9 columns, or K/M/G/T above them; `--exact` widens instead.
fn largenum(out: &mut String, i: u64, exact: bool) {
    if exact {
        let len = i.to_string().len();
        let width = if len <= 8 { 9 } else { len + 1 };
        let _ = write!(out, "{i:>width$}");
    } else if i < 100_000_000 {
        let _ = write!(out, "{i:>9}");
    } else if i < 1_000_000_000 {
        let _ = write!(out, "{:>8}K", i / 1000);
    } else if i < 100_000_000_000 {
        let _ = write!(out, "{:>8}M", i / 1_000_000);
    } else if i < 100_000_000_000_000 {
        let _ = write!(out, "{:>8}G", i / 1_000_000_000);
    } else {
        let _ = write!(out, "{:>8}T", i / 1_000_000_000_000);
    }
}

fn fwd_name(f: Forwarding) -> &'static str {
    match f {
        Forwarding::Dr => "Route",
        Forwarding::Nat => "Masq",
    }
}

fn fwd_switch(f: Forwarding) -> &'static str {
    match f {
        Forwarding::Dr => "-g",
        Forwarding::Nat => "-m",
    }
}

/// The column titles (`print_title`); nothing for `-S`.
fn title(out: &mut String, f: &Format) {
    if !(f.stats || f.rate || f.thresholds || f.persistent_conn) {
        out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
        out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        return;
    }
    let _ = write!(out, "{:<33}", "Prot LocalAddress:Port");
    let (active, inactive) = (&"ActiveConn", &"InActConn");
    if f.stats {
        right(out, &["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"]);
    } else if f.rate {
        right(out, &["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"]);
    } else if f.thresholds {
        let (u, l) = (&"Uthreshold", &"Lthreshold");
        left(out, &[(u, 10), (l, 10), (active, 10), (inactive, 10)]);
    } else {
        let (w, p) = (&"Weight", &"PersistConn");
        left(out, &[(w, 9), (p, 11), (active, 10), (inactive, 10)]);
    }
    out.push_str("\n  -> RemoteAddress:Port\n");
}

/// ` {value:<width}` for each column: ipvsadm's left-aligned `%-Ns`, `%-Nd` and `%-Nu`.
fn left(out: &mut String, cols: &[(&dyn Display, usize)]) {
    for (value, width) in cols {
        let _ = write!(out, " {value:<width$}");
    }
}

/// ` {value:>8}` for each column: the titles over `print_largenum`'s columns.
fn right(out: &mut String, cols: &[&str]) {
    for value in cols {
        let _ = write!(out, " {value:>8}");
    }
}

fn five(out: &mut String, s: &IpvsStats, rate: bool, exact: bool) {
    let values = if rate {
        let r = &s.rates;
        [r.cps, r.inpps, r.outpps, r.inbps, r.outbps]
    } else {
        [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
    };
    for v in values {
        largenum(out, v, exact);
    }
}

/// One service and its servers (`print_service_entry`); `rule` for `-S`.
fn service(out: &mut String, s: &IpvsService, f: &Format, rule: bool, n: &PortNames) {
    let (upper, switch, _) = proto_names(s.key.protocol);
    let vname = anyname(s.key.addr, s.key.port, s.key.protocol, f.numeric, n);
    let svc_name = if rule {
        format!("{switch} {vname}")
    } else {
        let mut name = format!("{upper:<4} {vname}");
        name.truncate(33);
        name
    };
    let mask = (s.netmask != Ipv4Addr::BROADCAST).then_some(s.netmask);
    if rule {
        let _ = write!(out, "-A {svc_name} -s {}", s.scheduler);
        if s.persistence_s > 0 {
            let _ = write!(out, " -p {}", s.persistence_s);
            if let Some(m) = mask {
                let _ = write!(out, " -M {m}");
            }
        }
    } else if f.stats || f.rate {
        let _ = write!(out, "{svc_name:<33}");
        five(out, &s.stats, f.rate, f.exact);
    } else {
        let _ = write!(out, "{svc_name} {}", s.scheduler);
        if s.persistence_s > 0 {
            let _ = write!(out, " persistent {}", s.persistence_s);
            if let Some(m) = mask {
                let _ = write!(out, " mask {m}");
            }
        }
    }
    out.push('\n');
    let mut dests: Vec<&IpvsDest> = s.dests.iter().collect();
    if !f.nosort {
        dests.sort_by_key(|d| (d.addr, d.port));
    }
    for d in dests {
        let mut dname = anyname(d.addr, d.port, s.key.protocol, f.numeric, n);
        if rule {
            let _ = writeln!(
                out,
                "-a {svc_name} -r {dname} {} -w {}",
                fwd_switch(d.forwarding),
                d.weight
            );
            continue;
        }
        dname.truncate(28);
        let _ = write!(out, "  -> {dname:<28}");
        let (active, inactive) = (&d.active, &d.inactive);
        if f.stats {
            five(out, &d.stats, false, f.exact);
        } else if f.rate {
            let r = &d.stats.rates;
            let _ = write!(out, " {:>8} {:>8} {:>8}", r.cps, r.inpps, r.outpps);
            largenum(out, r.inbps, f.exact);
            largenum(out, r.outbps, f.exact);
        } else if f.thresholds {
            left(out, &[(&0, 10), (&0, 10), (active, 10), (inactive, 10)]);
        } else if f.persistent_conn {
            let (w, p) = (&d.weight, &d.persistent);
            left(out, &[(w, 9), (p, 11), (active, 10), (inactive, 10)]);
        } else {
            let fwd = &fwd_name(d.forwarding);
            left(
                out,
                &[(fwd, 7), (&d.weight, 6), (active, 10), (inactive, 10)],
            );
        }
        out.push('\n');
    }
}

/// The services in ipvsadm's order (protocol, address, port) unless `--nosort`.
fn ordered<'a>(t: &'a IpvsTable, f: &Format) -> Vec<&'a IpvsService> {
    let mut services: Vec<&IpvsService> = t.services.iter().collect();
    if !f.nosort {
        services.sort_by_key(|s| (s.key.protocol.number(), s.key.addr, s.key.port));
    }
    services
}

/// `ipvsadm -L` (`list_all`).
pub fn list_all(t: &IpvsTable, f: &Format, n: &PortNames) -> String {
    let v = t.version;
    let mut out = format!(
        "IP Virtual Server version {}.{}.{} (size={})\n",
        (v >> 16) & 0xff,
        (v >> 8) & 0xff,
        v & 0xff,
        t.size
    );
    title(&mut out, f);
    for s in ordered(t, f) {
        service(&mut out, s, f, false, n);
    }
    out
}

/// `ipvsadm -L -t|-u VIP:PORT` (`list_service`): no version line; `None` when not there.
pub fn list_service(t: &IpvsTable, key: &ServiceKey, f: &Format, n: &PortNames) -> Option<String> {
    let s = t.services.iter().find(|s| s.key == *key)?;
    let mut out = String::new();
    title(&mut out, f);
    service(&mut out, s, f, false, n);
    Some(out)
}

/// `ipvsadm -S` (`list_all` with `FMT_RULE`).
pub fn save(t: &IpvsTable, f: &Format, n: &PortNames) -> String {
    let mut out = String::new();
    for s in ordered(t, f) {
        service(&mut out, s, f, true, n);
    }
    out
}

/// `ipvsadm -L --timeout`.
pub fn timeouts(t: &IpvsTable) -> String {
    let x = &t.timeouts;
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        x.tcp, x.tcpfin, x.udp
    )
}

/// `ipvsadm -L -c` (`list_conn`): entries in table order.
pub fn connections(t: &IpvsTable, f: &Format, n: &PortNames) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if f.persistent_conn {
        let (state, source, virt, dest, pe) =
            ("state", "source", "virtual", "destination", "pe name");
        let _ = writeln!(
            out,
            "pro expire {state:<11} {source:<18} {virt:<18} {dest:<18} {pe:<16} pe_data"
        );
    } else {
        let (state, source, virt) = ("state", "source", "virtual");
        let _ = writeln!(
            out,
            "pro expire {state:<11} {source:<18} {virt:<18} destination"
        );
    }
    for c in &t.conns {
        conn(&mut out, c, f.numeric, n);
    }
    out
}

fn conn(out: &mut String, c: &IpvsConn, numeric: bool, n: &PortNames) {
    let p = c.protocol;
    let expire = format!("{:02}:{:02}", c.expires_s / 60, c.expires_s % 60);
    let _ = writeln!(
        out,
        "{:<3} {expire:<6} {:<11} {:<18} {:<18} {}",
        proto_names(p).0,
        c.state,
        anyname(c.client, c.client_port, p, numeric, n),
        anyname(c.vip, c.vport, p, numeric, n),
        anyname(c.dest, c.dest_port, p, numeric, n),
    );
}
