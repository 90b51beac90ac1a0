//! The director's configuration file (`tapvs director --config FILE`): read and checked here
//! into the node's own typed settings ([`NodeSettings`]), with errors that name the file and
//! the field. The core never imports this module.

pub use crate::dataplane::settings::{
    Forwarding, InterfaceConfig, Limits, Protocol, RealServerConfig, ServiceConfig, parse_mac,
};
pub use crate::node::settings::{
    DEFAULT_STATUS_PORT, FailoverMode, FailoverSection, HeartbeatSection, HostSection,
    NodeSettings, SyncSection, VrrpSection,
};
use std::net::Ipv4Addr;
use std::path::Path;

/// The file's schema is the node's settings.
pub type DirectorConfig = NodeSettings;

/// Why a configuration was refused.
pub type ConfigError = crate::file_error::FileError;

impl DirectorConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = crate::file_error::read_text(path)?;
        Self::parse(path, &text)
    }

    /// Parses and checks configuration text; `path` only names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let config: DirectorConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.into(),
            message: e.to_string(),
        })?;
        config.check().map_err(crate::file_error::invalid(path))?;
        Ok(config)
    }

    /// The interface MAC as bytes (checked by [`DirectorConfig::parse`]).
    pub fn mac(&self) -> [u8; 6] {
        parse_mac(&self.interface.mac).expect("checked at parse")
    }

    fn check(&self) -> Result<(), (String, String)> {
        let bad = |field: &str, reason: &str| Err((field.to_string(), reason.to_string()));
        check_interface("interface", &self.interface)?;
        let roles = [
            self.vrrp.is_some(),
            self.heartbeat.is_some(),
            self.failover.is_some(),
        ];
        if self.sync.is_some() && !roles.contains(&true) {
            let reason = "connection sync follows the failover role: add [vrrp], [heartbeat] or \
                          [failover]";
            return bad("sync", reason);
        }
        if roles.iter().filter(|&&r| r).count() > 1 {
            return bad(
                "failover",
                "one way to set the role: [vrrp], [heartbeat] or [failover] (from outside)",
            );
        }
        if let Some(hb) = &self.heartbeat {
            self.check_heartbeat(hb)?;
        }
        if let Some(vrrp) = &self.vrrp {
            self.check_peers("vrrp", &vrrp.peers)?;
            if vrrp.unicast && vrrp.peers.is_empty() {
                let reason = "unicast adverts need peers to send to: add vrrp.peers";
                return bad("vrrp.unicast", reason);
            }
        }
        if let Some(failover) = &self.failover {
            self.check_peers("failover", &failover.peers)?;
        }
        if self.interface.gateway.is_none() {
            return bad(
                "interface.gateway",
                "the outside interface needs the router's address",
            );
        }
        if let Some(inside) = &self.inside {
            check_interface("inside", inside)?;
            if inside.name == self.interface.name {
                return bad("inside.name", "must differ from interface.name");
            }
        }
        if self.services.is_empty() {
            return bad("service", "at least one virtual service is needed");
        }
        if self.limits.max_connections == 0 {
            return bad("limits.max_connections", "must be at least 1");
        }
        if let Err((field, reason)) = self.defense.check() {
            return bad(field, &reason);
        }
        for (i, s) in self.services.iter().enumerate() {
            let field = format!("service[{i}]");
            if s.real_servers.is_empty() || s.real_servers.len() > u16::MAX as usize {
                return bad(
                    &format!("{field}.real_server"),
                    "a service needs 1 to 65535 real servers",
                );
            }
            for (j, rs) in s.real_servers.iter().enumerate() {
                let field = format!("{field}.real_server[{j}].address");
                let outside = self.interface.on_link(rs.address);
                let inside = self.inside.as_ref().is_some_and(|i| i.on_link(rs.address));
                if !outside && !inside {
                    return bad(&field, "not on a network of the director's interfaces");
                }
                if s.forwarding == Forwarding::Dr && !outside {
                    return bad(
                        &field,
                        "direct routing needs the real server on the outside network",
                    );
                }
            }
            self.check_health(&field, s)?;
            for (j, o) in self.services.iter().enumerate().take(i) {
                if o.vip == s.vip && o.port == s.port && o.protocol == s.protocol {
                    return bad(&field, &format!("same VIP:port as service[{j}]"));
                }
            }
        }
        Ok(())
    }
}

impl DirectorConfig {
    /// Heartbeat: node names as heartbeat takes them, the peer on the outside network, timers
    /// in heartbeat's order (keepalive < warntime < deadtime <= initdead), authkeys' index.
    fn check_heartbeat(&self, hb: &HeartbeatSection) -> Result<(), (String, String)> {
        let bad = |field: &str, reason: &str| Err((format!("heartbeat.{field}"), reason.into()));
        for (field, name) in [("node", &hb.node), ("peer_node", &hb.peer_node)] {
            let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
            if name.is_empty() || name.len() > 60 || !name.chars().all(ok) {
                return bad(
                    field,
                    "1 to 60 of a-z, 0-9, '-', '_', '.' (heartbeat lowercases)",
                );
            }
        }
        if hb.node == hb.peer_node {
            return bad("peer_node", "must differ from node");
        }
        if hb.primary != hb.node && hb.primary != hb.peer_node {
            return bad("primary", "must be node or peer_node");
        }
        if !self.interface.on_link(hb.peer) || hb.peer == self.interface.address {
            return bad("peer", "the other director, on the outside network");
        }
        if hb.port == 0 {
            return bad("port", "must be 1 – 65535");
        }
        if hb.keepalive_ms < 10 {
            return bad("keepalive_ms", "at least 10 ms");
        }
        if hb.warntime_ms <= hb.keepalive_ms || hb.warntime_ms >= hb.deadtime_ms {
            return bad(
                "warntime_ms",
                "must be above keepalive_ms and below deadtime_ms",
            );
        }
        if hb.initdead_ms < hb.deadtime_ms {
            return bad("initdead_ms", "must be at least deadtime_ms");
        }
        if !(1..=15).contains(&hb.auth_index) {
            return bad("auth_index", "authkeys numbers keys 1 – 15");
        }
        if hb.auth_key.is_empty() || hb.auth_key.chars().any(char::is_whitespace) {
            return bad("auth_key", "a non-empty secret without spaces");
        }
        Ok(())
    }

    /// Peers (of `section`): on the outside network, not ourselves, listed once.
    fn check_peers(&self, section: &str, peers: &[Ipv4Addr]) -> Result<(), (String, String)> {
        let bad = |i: usize, reason: &str| Err((format!("{section}.peers[{i}]"), reason.into()));
        for (i, peer) in peers.iter().enumerate() {
            if *peer == self.interface.address {
                return bad(i, "is the director's own address");
            }
            if !self.interface.on_link(*peer) || peer.is_multicast() || peer.is_broadcast() {
                return bad(
                    i,
                    "not a host on the outside network (peers share the link)",
                );
            }
            if peers[..i].contains(peer) {
                return bad(i, "listed twice");
            }
        }
        Ok(())
    }

    /// The health section, the per-server overrides and the sorry server of service `field`.
    fn check_health(&self, field: &str, s: &ServiceConfig) -> Result<(), (String, String)> {
        let Some(health) = &s.health else {
            if s.sorry_server.is_some() {
                let reason = "a sorry server needs health checks: add [service.health]";
                return Err((format!("{field}.sorry_server"), reason.into()));
            }
            return Ok(());
        };
        health
            .check()
            .map_err(|(f, r)| (format!("{field}.health.{f}"), r))?;
        for (j, rs) in s.real_servers.iter().enumerate() {
            crate::health::config::check_params(&health.params(rs.health.as_ref()))
                .map_err(|(f, r)| (format!("{field}.real_server[{j}].health.{f}"), r))?;
        }
        if let Some(sorry) = &s.sorry_server {
            let outside = self.interface.on_link(sorry.address);
            let inside = self
                .inside
                .as_ref()
                .is_some_and(|i| i.on_link(sorry.address));
            let reachable = if s.forwarding == Forwarding::Dr {
                outside
            } else {
                outside || inside
            };
            if !reachable {
                let reason = "not on a network the service's real servers can be on";
                return Err((format!("{field}.sorry_server.address"), reason.into()));
            }
        }
        Ok(())
    }
}

fn check_interface(field: &str, i: &InterfaceConfig) -> Result<(), (String, String)> {
    let bad = |name: &str, reason: &str| Err((format!("{field}.{name}"), reason.to_string()));
    match parse_mac(&i.mac) {
        Some(mac) if mac[0] & 1 == 0 => {}
        Some(_) => return bad("mac", "a multicast MAC cannot be a host's address"),
        None => return bad("mac", "expected six hex bytes like 02:00:00:00:00:01"),
    }
    if !(1..=30).contains(&i.prefix_len) {
        return bad("prefix_len", "must be between 1 and 30");
    }
    if i.name.is_empty() || i.name.len() > 15 {
        return bad("name", "a Linux interface name has 1 to 15 characters");
    }
    Ok(())
}
