//! The checks a scenario must pass before any namespace exists: every value in range, every
//! name unique and referenced names present, addresses inside the lab's plan, metrics known.

use super::echo::shown;
use super::{Action, EventSpec, LoadMode, Scenario};
use crate::metrics::registry::{self, Entry};
use std::collections::HashSet;
use std::time::Duration;

/// Most events a timeline may hold once repeated events are expanded.
pub const MAX_EVENTS: usize = 10_000;

/// Names a real server cannot take: the lab's hosts (`kn`: the kernel NAT box), the directors
/// and their inside TAPs (two-armed NAT), the kernel NAT box's inside port, a wired director's
/// bridge and TAPs, and the interfaces of the switch namespace, where each server's port is
/// named after it (see `lab::plan`).
const RESERVED_HOSTS: [&str; 19] = [
    "sw", "rt", "cl", "kn", "kni", "d1", "d2", "d1i", "d2i", "d1br", "d1wa", "d1wb", "d2br",
    "d2wa", "d2wb", "br0", "br1", "lo", "eth0",
];

/// A real server's name: it names a namespace and an interface, so `[a-z][a-z0-9]*`, 1 to 8
/// characters (the lab's own rule is the same with 10).
fn server_name(field: &str, name: &str) -> Check {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 8
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if !ok {
        return bad(
            field,
            format!(
                "`{}`: use 1 to 8 characters from a-z and 0-9, starting with a letter \
                 (it names the server's namespace and interface)",
                shown(name)
            ),
        );
    }
    if RESERVED_HOSTS.contains(&name) {
        return bad(
            field,
            format!(
                "`{name}` is a lab host or interface name (reserved: {})",
                RESERVED_HOSTS.join(", ")
            ),
        );
    }
    Ok(())
}

type Check = Result<(), (String, String)>;

fn bad(field: impl Into<String>, reason: impl Into<String>) -> Check {
    Err((field.into(), reason.into()))
}

fn in_range(field: &str, d: Duration, lo: Duration, hi: Duration) -> Check {
    if d < lo || d > hi {
        return bad(field, format!("must be between {:?} and {:?}", lo, hi));
    }
    Ok(())
}

fn plain_name(field: &str, name: &str, max: usize) -> Check {
    let ok = !name.is_empty()
        && name.len() <= max
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !ok {
        return bad(
            field,
            format!(
                "`{}`: use 1 to {max} characters from a-z, 0-9, - and _",
                shown(name)
            ),
        );
    }
    Ok(())
}

impl Scenario {
    pub(super) fn check(&self) -> Check {
        plain_name("name", &self.name, 40)?;
        in_range(
            "interval",
            self.interval,
            Duration::from_millis(50),
            Duration::from_secs(10),
        )?;
        if !(1..=2).contains(&self.lab.nat_arms) {
            return bad(
                "lab.nat_arms",
                format!(
                    "{}: must be 1 (real servers on the LAN, the director their gateway) or 2 \
                     (real servers behind the director's inside arm)",
                    self.lab.nat_arms
                ),
            );
        }
        in_range(
            "lab.settle",
            self.lab.settle,
            Duration::ZERO,
            Duration::from_secs(30),
        )?;
        self.check_service()?;
        if !(1..=1 << 24).contains(&self.lab.max_connections) {
            return bad("lab.max_connections", "must be 1 – 16777216");
        }
        self.check_pcap()?;
        if let Some(Err((field, reason))) = self.defense.as_ref().map(|d| d.check()) {
            return bad(field, reason);
        }
        self.check_failover()?;
        self.check_servers()?;
        self.check_health()?;
        self.check_checker()?;
        self.check_loads()?;
        // The engine's own bounds are checked when the engine is known; here the widest.
        self.check_size(super::bounds::WIDEST_ENGINE)?;
        self.check_links()?;
        self.check_events()?;
        self.check_expectations()
    }

    fn check_service(&self) -> Check {
        let s = &self.service;
        let [a, b, c, d] = s.vip.octets();
        if (a, b, c) != (198, 18, 0) || !(100..=250).contains(&d) {
            return bad(
                "service.vip",
                "must be in 198.18.0.100 – 198.18.0.250 (the lab's LAN plan)",
            );
        }
        if s.port == 0 {
            return bad("service.port", "must be 1 – 65535");
        }
        in_range(
            "service.persistence",
            s.persistence,
            Duration::ZERO,
            Duration::from_secs(86_400),
        )?;
        let mask = u32::from(s.persistence_netmask);
        if mask.leading_ones() + mask.trailing_zeros() != 32 {
            return bad(
                "service.persistence_netmask",
                "must be a contiguous netmask",
            );
        }
        Ok(())
    }

    fn check_failover(&self) -> Check {
        let Some(f) = &self.failover else {
            return Ok(());
        };
        // VRRPv3 carries the interval in centiseconds, 12 bits.
        let advert = |field: &str, d: Duration| {
            in_range(
                field,
                d,
                Duration::from_millis(10),
                Duration::from_millis(40_950),
            )?;
            if !d.as_millis().is_multiple_of(10) || !d.subsec_nanos().is_multiple_of(1_000_000) {
                return bad(
                    field,
                    "VRRPv3 counts it in centiseconds: use a multiple of 10ms",
                );
            }
            Ok(())
        };
        advert("failover.advert_interval", f.advert_interval)?;
        for (i, d) in f.sweep_advert_intervals.iter().enumerate() {
            advert(&format!("failover.sweep_advert_intervals[{i}]"), *d)?;
        }
        if f.sweep_advert_intervals.len() > 8 {
            return bad("failover.sweep_advert_intervals", "at most 8 intervals");
        }
        if !f.sweep_advert_intervals.is_empty() && !self.lab.compare_modes.is_empty() {
            return bad(
                "failover.sweep_advert_intervals",
                "a scenario sweeps intervals or compares modes, not both",
            );
        }
        if f.priorities.contains(&0) || f.priorities.contains(&255) {
            return bad(
                "failover.priorities",
                "must be 1 – 254 (0 means resigning, 255 the address owner)",
            );
        }
        if f.peer == super::Peer::Keepalived && self.lab.mode != super::Mode::Dr {
            return bad(
                "failover.peer",
                "keepalived as a peer is set up for direct routing only (mode = \"dr\")",
            );
        }
        if f.unicast && !f.peer_filter {
            return bad(
                "failover.unicast",
                "unicast adverts go to the peer list, which also filters: keep peer_filter",
            );
        }
        if f.unicast && f.peer == super::Peer::Keepalived {
            return bad(
                "failover.unicast",
                "the keepalived peer is set up for multicast adverts",
            );
        }
        if f.peer == super::Peer::Keepalived && !f.sweep_advert_intervals.is_empty() {
            return bad(
                "failover.peer",
                "a keepalived peer does not take part in sweeps",
            );
        }
        let refresh = f.sync_refresh;
        if refresh.subsec_nanos() != 0 || refresh > Duration::from_secs(86_400) {
            return bad(
                "failover.sync_refresh",
                "the director counts it in whole seconds: 0s (off) to 86400s",
            );
        }
        if f.vrid == 0 {
            return bad("failover.vrid", "must be 1 – 255");
        }
        if f.manager == super::heartbeat::Manager::Heartbeat {
            self.check_heartbeat_manager(f)?;
        }
        if f.protocol == super::FailoverProtocol::Heartbeat {
            self.check_heartbeat_protocol(f)?;
        }
        if !self.lab.mode.has_director() {
            return bad(
                "failover",
                format!("mode `{}` has no director", self.lab.mode.name()),
            );
        }
        Ok(())
    }

    /// `manager = "heartbeat"`: two tapvs directors, and faults that Heartbeat can see (its
    /// timing and files were checked as the scenario was read).
    fn check_heartbeat_manager(&self, f: &super::FailoverSpec) -> Check {
        if f.peer != super::Peer::Tapvs {
            return bad(
                "failover.peer",
                "Heartbeat manages two tapvs directors: keep peer = \"tapvs\"",
            );
        }
        if !f.sweep_advert_intervals.is_empty() {
            let reason = "VRRP's interval sweep: with Heartbeat, sweep_deadtimes";
            return bad("failover.sweep_advert_intervals", reason);
        }
        if !f.sweep_deadtimes.is_empty() && !self.lab.compare_modes.is_empty() {
            let reason = "a scenario sweeps deadtimes or compares modes, not both";
            return bad("failover.sweep_deadtimes", reason);
        }
        if let Some(l) = self.links.iter().position(|l| l.name == "heartbeat") {
            let reason = "the heartbeat link filters VRRP adverts; Heartbeat speaks UDP 694";
            return bad(format!("link[{l}].name"), reason);
        }
        for (i, e) in self.events.iter().enumerate() {
            use super::Action::*;
            // The director and its Heartbeat are one machine: these act on the director only.
            if matches!(
                e.action,
                FreezeDirector
                    | ResumeDirector
                    | CutLink
                    | RestoreLink
                    | PartitionHeartbeat
                    | HealHeartbeat
                    | SpoofVrrp
            ) {
                let reason = "not with manager = \"heartbeat\" (kill_director, stop_director \
                              and restart_director act on the director and its Heartbeat)";
                return bad(format!("event[{i}].action"), reason);
            }
        }
        Ok(())
    }

    /// `[failover] protocol = "heartbeat"`: two tapvs directors by unicast, a secret without
    /// spaces, and no VRRP-only faults (the timing was checked as the scenario was read).
    fn check_heartbeat_protocol(&self, f: &super::FailoverSpec) -> Check {
        if f.peer != super::Peer::Tapvs || !f.sweep_advert_intervals.is_empty() {
            return bad(
                "failover.protocol",
                "heartbeat is spoken by two tapvs directors, without advert sweeps",
            );
        }
        if f.media == Some(super::heartbeat::Media::Bcast) {
            return bad(
                "failover.media",
                "tapvs speaks heartbeat by unicast to the other director only",
            );
        }
        if let Some(key) = &f.auth_key
            && (key.is_empty() || key.chars().any(char::is_whitespace))
        {
            return bad("failover.auth_key", "a non-empty secret without spaces");
        }
        // The switch's heartbeat filter and the `heartbeat` wire take VRRP frames only.
        let vrrp_only = [super::Action::PartitionHeartbeat, super::Action::SpoofVrrp];
        if let Some(i) = self
            .events
            .iter()
            .position(|e| vrrp_only.contains(&e.action))
        {
            return bad(
                format!("event[{i}].action"),
                "acts on VRRP frames only, not on heartbeat's protocol (UDP 694)",
            );
        }
        if let Some(i) = self
            .links
            .iter()
            .position(|l| l.name == super::link::HEARTBEAT)
        {
            return bad(
                format!("link[{i}].name"),
                "the heartbeat wire impairs VRRP frames only, not heartbeat's protocol",
            );
        }
        Ok(())
    }

    /// `lab.pcap` and `lab.pcap_limit_mb`.
    fn check_pcap(&self) -> Check {
        let lab = &self.lab;
        if lab.pcap_limit_mb.is_some() && !lab.pcap {
            return bad("lab.pcap_limit_mb", "needs `pcap = true`");
        }
        if !(1..=100_000).contains(&lab.pcap_limit()) {
            return bad("lab.pcap_limit_mb", "must be 1 – 100000 (MB per port)");
        }
        if lab.pcap && lab.compare_modes.is_empty() && !lab.mode.has_director() {
            return bad(
                "lab.pcap",
                format!(
                    "mode `{}` has no tapvs director to capture",
                    lab.mode.name()
                ),
            );
        }
        Ok(())
    }

    /// `[health]`, the per-server overrides and the sorry server.
    fn check_health(&self) -> Check {
        let sorry: Vec<usize> = (0..self.real_servers.len())
            .filter(|&i| self.real_servers[i].sorry)
            .collect();
        let Some(h) = &self.health else {
            if let Some(&i) = sorry.first() {
                return bad(
                    format!("real_server[{i}].sorry"),
                    "a sorry server needs health checks: add [health]",
                );
            }
            if let Some(i) = self.real_servers.iter().position(|r| r.health.is_some()) {
                return bad(format!("real_server[{i}].health"), "needs [health]");
            }
            return Ok(());
        };
        if !self.lab.mode.has_director() {
            return bad(
                "health",
                format!(
                    "mode `{}` has no director to run checks",
                    self.lab.mode.name()
                ),
            );
        }
        let udp_check = h.check == crate::health::config::CheckKind::Udp;
        if udp_check != (self.service.protocol == crate::config::Protocol::Udp) {
            return bad(
                "health.check",
                "a UDP service needs the udp check; a TCP service tcp or http",
            );
        }
        let config = h.to_config();
        // The scenario writes durations where the director's file has milliseconds.
        config.check().map_err(|(f, r)| {
            let f = f.strip_suffix("_ms").unwrap_or(&f).to_string();
            (format!("health.{f}"), r.replace("interval_ms", "interval"))
        })?;
        for (i, rs) in self.real_servers.iter().enumerate() {
            crate::health::config::check_params(&config.params(rs.health.as_ref()))
                .map_err(|(f, r)| (format!("real_server[{i}].health.{f}"), r))?;
        }
        match sorry.as_slice() {
            [] => Ok(()),
            [i] if self.real_servers[*i].name != "sorry" => bad(
                format!("real_server[{i}].name"),
                "the sorry server must be named `sorry`",
            ),
            [_] if sorry.len() == self.real_servers.len() => bad(
                "real_server",
                "a sorry server needs real servers to stand in for",
            ),
            [_] => Ok(()),
            [_, i, ..] => bad(
                format!("real_server[{i}].sorry"),
                "one sorry server at most",
            ),
        }
    }

    fn check_servers(&self) -> Check {
        if self.real_servers.is_empty() {
            return bad("real_server", "need at least 1 real server");
        }
        let vip = self.service.vip;
        if let Some(i) = (0..self.real_servers.len()).find(|&i| self.server_address(i) == vip) {
            return bad(
                "service.vip",
                format!(
                    "{vip} is real server `{}`'s address (real servers take 198.18.0.11 \
                     onwards, one each)",
                    self.real_servers[i].name
                ),
            );
        }
        let mut names = HashSet::new();
        for (i, rs) in self.real_servers.iter().enumerate() {
            let field = format!("real_server[{i}]");
            server_name(&format!("{field}.name"), &rs.name)?;
            if !names.insert(rs.name.as_str()) {
                return bad(
                    format!("{field}.name"),
                    format!("`{}` is used twice", rs.name),
                );
            }
            if rs.port == Some(0) {
                return bad(format!("{field}.port"), "must be 1 – 65535");
            }
            if rs.port.is_some_and(|p| p != self.service.port) && self.lab.mode == super::Mode::Dr {
                return bad(
                    format!("{field}.port"),
                    "direct routing cannot map ports (the packet is not rewritten); use mode = \"nat\"",
                );
            }
            if rs.weight > 65_535 {
                return bad(format!("{field}.weight"), "must be 0 – 65535 (as ipvsadm)");
            }
            if rs.command.iter().any(|w| w.is_empty()) {
                return bad(format!("{field}.command"), "empty word in the command");
            }
            if let Some(program) = rs.command.first()
                && let Err(why) = super::command::find(program)
            {
                return bad(
                    format!("{field}.command"),
                    format!("`{}` cannot be started: {why}", shown(program)),
                );
            }
        }
        if self.lab.mode == super::Mode::Direct && self.real_servers.len() != 1 {
            return bad(
                "real_server",
                "mode `direct` (no balancer) talks to exactly one real server",
            );
        }
        if self.real_servers.iter().all(|r| r.weight == 0) {
            return bad(
                "real_server",
                "every weight is 0: no server could take a connection",
            );
        }
        Ok(())
    }

    fn check_loads(&self) -> Check {
        if self.loads.is_empty() || self.loads.len() > 8 {
            return bad("load", "need 1 to 8 loads");
        }
        let mut names = HashSet::new();
        for (i, l) in self.loads.iter().enumerate() {
            let f = |name: &str| format!("load[{i}].{name}");
            plain_name(&f("name"), &l.name, 20)?;
            if !names.insert(l.name.as_str()) {
                return bad(f("name"), format!("`{}` is used twice", shown(&l.name)));
            }
            if l.mode == LoadMode::SynFlood {
                self.check_flood(&f, l.rate)?;
            } else if l.mode == LoadMode::Open && !(1..=50_000).contains(&l.rate) {
                return bad(
                    f("rate"),
                    "an open loop needs a rate of 1 – 50000 requests/s",
                );
            }
            if l.mode == LoadMode::Closed && l.rate != 0 {
                return bad(
                    f("rate"),
                    "a closed loop has no rate (it runs `concurrency` workers)",
                );
            }
            // At most the engine's bound: see `check_size`.
            if l.concurrency == 0 {
                return bad(f("concurrency"), "must be at least 1");
            }
            if l.clients == 0 {
                return bad(f("clients"), "must be at least 1 client address");
            }
            in_range(
                &f("duration"),
                l.duration,
                Duration::from_secs(1),
                Duration::from_secs(3600),
            )?;
            in_range(
                &f("start"),
                l.start,
                Duration::ZERO,
                Duration::from_secs(600),
            )?;
            in_range(
                &f("timeout"),
                l.timeout,
                Duration::from_millis(100),
                Duration::from_secs(60),
            )?;
            if self.service.protocol == crate::config::Protocol::Udp {
                if l.connection != super::ConnectionMode::New {
                    return bad(f("connection"), "UDP has no keep-alive: use \"new\"");
                }
                if l.response_bytes > 1400 {
                    return bad(
                        f("response_bytes"),
                        "a UDP answer is one datagram: at most 1400 bytes",
                    );
                }
            }
            if l.response_bytes > 64 << 20 {
                return bad(f("response_bytes"), "must be at most 64 MiB");
            }
        }
        Ok(())
    }

    /// Expands events with `every` (and `until`) into single events, in time order. The file's
    /// own order is checked here, so a misplaced event is named by its index in the file (the
    /// expanded timeline is sorted, so later checks need not look).
    pub(super) fn expand_repeats(&mut self) -> Check {
        let mut last = Duration::ZERO;
        let mut expanded = Vec::new();
        for (i, e) in self.events.iter().enumerate() {
            let f = |name: &str| format!("event[{i}].{name}");
            if e.at < last {
                return bad(f("at"), "events must be in time order");
            }
            last = e.at;
            let (every, until) = match (e.every, e.until) {
                (None, None) => {
                    expanded.push(e.clone());
                    continue;
                }
                (Some(every), Some(until)) => (every, until),
                (Some(_), None) => return bad(f("until"), "a repeated event needs `until`"),
                (None, Some(_)) => return bad(f("every"), "`until` needs `every`"),
            };
            if every < Duration::from_millis(100) {
                return bad(f("every"), "must be at least 100ms");
            }
            if until < e.at || until > self.load_end() {
                return bad(f("until"), "must be between `at` and the end of the load");
            }
            let mut at = e.at;
            while at <= until {
                if expanded.len() >= MAX_EVENTS {
                    return bad(f("every"), format!("more than {MAX_EVENTS} events in all"));
                }
                let single = EventSpec {
                    at,
                    when: super::seeds::When::At(at),
                    every: None,
                    until: None,
                    ..e.clone()
                };
                expanded.push(single);
                at += every;
            }
        }
        expanded.sort_by_key(|e| e.at);
        self.events = expanded;
        Ok(())
    }

    /// A spoofed-SYN flood: a bounded rate at a TCP service behind a tapvs director.
    fn check_flood(&self, f: &dyn Fn(&str) -> String, rate: u32) -> Check {
        if !(1..=crate::client::MAX_FLOOD_RATE as u32).contains(&rate) {
            return bad(f("rate"), "a SYN flood needs a rate of 1 – 2000000 SYNs/s");
        }
        if self.service.protocol != crate::config::Protocol::Tcp {
            return bad(f("mode"), "a SYN flood needs a TCP service");
        }
        if !self.lab.mode.has_director() || !self.lab.compare_modes.is_empty() {
            return bad(
                f("mode"),
                "a SYN flood is for a tapvs director (lab.mode dr or nat)",
            );
        }
        Ok(())
    }

    fn check_events(&self) -> Check {
        let mut killed: HashSet<&str> = HashSet::new();
        let mut hung: HashSet<&str> = HashSet::new();
        // Directors ended (killed/stopped) and cut off, and whether the heartbeat is cut.
        let mut ended: HashSet<&str> = HashSet::new();
        let mut cut: HashSet<&str> = HashSet::new();
        let mut partitioned = false;
        for (i, e) in self.events.iter().enumerate() {
            let f = |name: &str| format!("event[{i}].{name}");
            if e.at > self.load_end() {
                return bad(f("at"), "after the end of the load");
            }
            if e.action == Action::SpoofVrrp {
                self.check_spoof(i, e)?;
                continue;
            }
            if matches!(e.action, Action::DegradeLink | Action::RepairLink) {
                self.check_link_event(i)?;
                continue;
            }
            if !e.link.is_empty() || e.impair.is_some() {
                return bad(f("link"), "only degrade_link and repair_link take a link");
            }
            if e.priority.is_some() || !e.interval.is_zero() || !e.duration.is_zero() {
                return bad(
                    f("priority"),
                    "only spoof_vrrp takes priority, interval and duration",
                );
            }
            if matches!(e.action, Action::PartitionHeartbeat | Action::HealHeartbeat) {
                if self.failover.is_none() {
                    return bad(
                        f("action"),
                        "there is no heartbeat without [failover] (two directors)",
                    );
                }
                if !e.director.is_empty() || !e.server.is_empty() || e.weight.is_some() {
                    return bad(f("action"), "takes neither director, server nor weight");
                }
                let healing = e.action == Action::HealHeartbeat;
                if partitioned != healing {
                    let why = if healing {
                        "the heartbeat is not partitioned here"
                    } else {
                        "the heartbeat is already partitioned"
                    };
                    return bad(f("action"), why);
                }
                partitioned = !healing;
                continue;
            }
            if e.action.is_director_action() {
                if !self.directors().contains(&e.director) {
                    return bad(
                        f("director"),
                        format!(
                            "no director named `{}` (the lab has {})",
                            shown(&e.director),
                            self.directors().join(", ")
                        ),
                    );
                }
                if !e.server.is_empty() || e.weight.is_some() {
                    return bad(f("server"), "a director action takes only `director`");
                }
                if !self.lab.mode.has_director() {
                    return bad(
                        f("action"),
                        format!("mode `{}` has no director", self.lab.mode.name()),
                    );
                }
                let d = e.director.as_str();
                let order = match e.action {
                    Action::KillDirector | Action::StopDirector if !ended.insert(d) => {
                        Some("is already ended")
                    }
                    Action::RestartDirector if !ended.remove(d) => {
                        Some("was not killed or stopped before")
                    }
                    Action::CutLink if !cut.insert(d) => Some("is already cut off"),
                    Action::RestoreLink if !cut.remove(d) => Some("was not cut off before"),
                    _ => None,
                };
                if let Some(why) = order {
                    return bad(f("action"), format!("director `{d}` {why}"));
                }
                continue;
            }
            if !e.director.is_empty() {
                return bad(f("director"), "only director actions take a director");
            }
            if !self.real_servers.iter().any(|r| r.name == e.server) {
                return bad(
                    f("server"),
                    format!("no real server named `{}`", shown(&e.server)),
                );
            }
            if matches!(e.action, Action::Drain | Action::SetWeight)
                && !self.lab.mode.has_director()
            {
                return bad(
                    f("action"),
                    format!(
                        "mode `{}` has no director to change weights on",
                        self.lab.mode.name()
                    ),
                );
            }
            match (e.action, e.weight) {
                (Action::SetWeight, None) => return bad(f("weight"), "set_weight needs a weight"),
                (Action::SetWeight, Some(w)) if w > 65_535 => {
                    return bad(f("weight"), "must be 0 – 65535");
                }
                (Action::SetWeight, _) => {}
                (_, Some(_)) => return bad(f("weight"), "only set_weight takes a weight"),
                (Action::KillServer, _) if !killed.insert(&e.server) => {
                    return bad(f("action"), format!("`{}` is already killed", e.server));
                }
                (Action::RestoreServer, _) if !killed.remove(e.server.as_str()) => {
                    return bad(f("action"), format!("`{}` was not killed before", e.server));
                }
                (Action::HangServer, _) if !hung.insert(&e.server) => {
                    return bad(f("action"), format!("`{}` already hangs", e.server));
                }
                (Action::UnhangServer, _) if !hung.remove(e.server.as_str()) => {
                    return bad(f("action"), format!("`{}` was not hung before", e.server));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A `spoof_vrrp` event: two directors to attack, a priority, a bounded stream.
    fn check_spoof(&self, i: usize, e: &super::EventSpec) -> Check {
        let f = |name: &str| format!("event[{i}].{name}");
        if self.failover.is_none() || !self.lab.mode.has_director() {
            return bad(
                f("action"),
                "spoof_vrrp needs [failover] and tapvs directors",
            );
        }
        if !e.director.is_empty() || !e.server.is_empty() || e.weight.is_some() {
            return bad(
                f("action"),
                "spoof_vrrp takes neither director, server nor weight",
            );
        }
        if e.priority.is_none() {
            return bad(
                f("priority"),
                "spoof_vrrp needs the priority to claim (0 – 255)",
            );
        }
        let min = crate::spoof::MIN_INTERVAL;
        in_range(&f("interval"), e.interval, min, Duration::from_secs(10))?;
        // At most 60 s / 10 ms = 6000 adverts: within `tapvs spoof`'s own bound.
        in_range(
            &f("duration"),
            e.duration,
            e.interval,
            Duration::from_secs(60),
        )?;
        if e.at + e.duration > self.load_end() {
            return bad(f("duration"), "the spoofing must end with the load");
        }
        Ok(())
    }

    fn check_expectations(&self) -> Check {
        for (i, x) in self.expectations.iter().enumerate() {
            let f = |name: &str| format!("expect[{i}].{name}");
            self.check_metric(&f("metric"), &x.metric)?;
            match (x.min, x.max) {
                (None, None) => return bad(f("min"), "give min, max or both"),
                (Some(lo), Some(hi)) if lo > hi => return bad(f("min"), "min is above max"),
                _ => {}
            }
        }
        Ok(())
    }
}

impl Scenario {
    /// A metric key of an expectation: a registry metric, or a family member naming one of
    /// this scenario's real servers.
    fn check_metric(&self, field: &str, key: &str) -> Check {
        match registry::lookup(key) {
            Some(Entry::Metric(_)) => Ok(()),
            Some(Entry::Member(family, link)) if family.part() == "link" => {
                if self.link(link).is_some() {
                    return Ok(());
                }
                let names: Vec<&str> = self.links.iter().map(|l| l.name.as_str()).collect();
                bad(
                    field,
                    format!(
                        "`{}`: no [[link]] `{}` ({} exists for each [[link]]: {})",
                        shown(key),
                        shown(link),
                        family.pattern(),
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    ),
                )
            }
            Some(Entry::Member(family, server)) => {
                if self.real_servers.iter().any(|r| r.name == server) {
                    return Ok(());
                }
                let names: Vec<&str> = self.real_servers.iter().map(|r| r.name.as_str()).collect();
                bad(
                    field,
                    format!(
                        "`{}`: no real server `{}` ({} exists for each of: {})",
                        shown(key),
                        shown(server),
                        family.pattern(),
                        names.join(", ")
                    ),
                )
            }
            None => bad(
                field,
                format!(
                    "unknown metric `{}`; the closest known is `{}` (all of them: `tapvs metrics`, \
                     or README.md, \"Metrics\")",
                    shown(key),
                    registry::closest(key)
                ),
            ),
        }
    }
}
