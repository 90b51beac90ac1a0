//! The checks a scenario must pass before any namespace exists: every value in range, every
//! name unique and referenced names present, addresses inside the lab's plan, metrics known.

mod events;
mod expect;
mod failover;
mod loads;
mod names;

use names::{plain_name, server_name};

use super::Scenario;
use super::echo::shown;
use std::collections::HashSet;
use std::time::Duration;

/// Most events a timeline may hold once repeated events are expanded.
pub const MAX_EVENTS: usize = 10_000;

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
}
