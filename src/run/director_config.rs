//! The director configuration a scenario implies, written for `tapvs director --config`.

use crate::config::{DirectorConfig, InterfaceConfig, Limits, RealServerConfig, ServiceConfig};
use crate::scenario::Scenario;
use std::net::Ipv4Addr;
use std::path::Path;

/// The MAC of director `n` (1-based): locally administered, `02:74:76` ("tv").
pub fn director_mac(n: u8) -> String {
    format!("02:74:76:00:00:{:02x}", n + 1)
}

/// Configuration of director `n` (1-based: d1 is 198.18.0.2) on TAP `d<n>`.
pub fn director_config(scenario: &Scenario, n: u8, control_socket: &Path) -> DirectorConfig {
    let s = &scenario.service;
    DirectorConfig {
        interface: InterfaceConfig {
            name: format!("d{n}"),
            mac: director_mac(n),
            address: Ipv4Addr::new(198, 18, 0, 1 + n),
            prefix_len: 24,
            gateway: Ipv4Addr::new(198, 18, 0, 1),
        },
        services: vec![ServiceConfig {
            vip: s.vip,
            port: s.port,
            protocol: s.protocol,
            scheduler: s.scheduler,
            persistence_s: s.persistence.as_secs() as u32,
            persistence_netmask: s.persistence_netmask,
            real_servers: scenario
                .real_servers
                .iter()
                .enumerate()
                .map(|(i, rs)| RealServerConfig {
                    name: rs.name.clone(),
                    address: Scenario::server_address(i),
                    port: s.port,
                    weight: rs.weight,
                })
                .collect(),
        }],
        limits: Limits {
            max_connections: 1 << 20,
            sloppy: s.sloppy,
        },
        control_socket: Some(control_socket.to_path_buf()),
    }
}
