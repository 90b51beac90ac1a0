//! The director configuration a scenario implies, written for `tapvs director --config`.

use crate::config::{
    DirectorConfig, Forwarding, InterfaceConfig, Limits, RealServerConfig, ServiceConfig,
};
use crate::scenario::{Checker, FailoverSpec, Mode, Scenario};
use std::net::Ipv4Addr;

/// The MAC of director `n` (1-based): locally administered, `02:74:76` ("tv").
pub fn director_mac(n: u8) -> String {
    format!("02:74:76:00:00:{:02x}", n + 1)
}

/// The MAC of director `n`'s inside arm.
pub fn director_inside_mac(n: u8) -> String {
    format!("02:74:76:00:01:{:02x}", n + 1)
}

/// The floating gateway of the NAT real servers: 198.18.1.1 inside a two-armed director,
/// the director's own LAN address in a one-armed set-up.
pub fn nat_gateway(scenario: &Scenario) -> Ipv4Addr {
    if scenario.lab.mode.two_armed(scenario.lab.nat_arms) {
        Ipv4Addr::new(198, 18, 1, 1)
    } else {
        Ipv4Addr::new(198, 18, 0, 2)
    }
}

/// The LAN address of director `n` (1-based): d1 is 198.18.0.2, d2 198.18.0.3.
pub fn director_address(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, 0, 1 + n)
}

/// Configuration of director `n` (1-based: d1 is 198.18.0.2) on TAP `d<n>` (and `d<n>i` for
/// the inside arm of a two-armed NAT director, at 198.18.1.(1 + n)); its random choices come
/// from `seed`.
///
/// With `[health] checker = "ldirectord"` the director checks nothing itself and has no sorry
/// server (ldirectord adds its `fallback`); with `initial = "down"` its servers start at weight 0
/// (as `ipvsadm -a … -w 0`), and ldirectord gives each its weight once a check has passed.
pub fn director_config(scenario: &Scenario, n: u8, seed: u64) -> DirectorConfig {
    let s = &scenario.service;
    let own_checks = scenario.checker() == Checker::Tapvs;
    let initially_down = !own_checks
        && scenario
            .health
            .as_ref()
            .is_some_and(|h| h.initial == crate::health::config::InitialState::Down);
    let two_armed = scenario.lab.mode.two_armed(scenario.lab.nat_arms);
    DirectorConfig {
        interface: InterfaceConfig {
            name: format!("d{n}"),
            mac: director_mac(n),
            address: director_address(n),
            prefix_len: 24,
            gateway: Some(Ipv4Addr::new(198, 18, 0, 1)),
            floating: Vec::new(),
        },
        inside: two_armed.then(|| InterfaceConfig {
            name: format!("d{n}i"),
            mac: director_inside_mac(n),
            address: Ipv4Addr::new(198, 18, 1, 1 + n),
            prefix_len: 24,
            gateway: None,
            floating: vec![nat_gateway(scenario)],
        }),
        services: vec![ServiceConfig {
            vip: s.vip,
            port: s.port,
            protocol: s.protocol,
            scheduler: s.scheduler,
            forwarding: match scenario.lab.mode {
                Mode::Nat => Forwarding::Nat,
                Mode::Dr | Mode::Kernel | Mode::Direct => Forwarding::Dr,
            },
            persistence_s: s.persistence.as_secs() as u32,
            persistence_netmask: s.persistence_netmask,
            real_servers: scenario
                .real_servers
                .iter()
                .enumerate()
                .filter(|(_, rs)| !rs.sorry)
                .map(|(i, rs)| RealServerConfig {
                    name: rs.name.clone(),
                    address: scenario.server_address(i),
                    port: scenario.server_port(i),
                    weight: if initially_down { 0 } else { rs.weight },
                    health: rs.health,
                })
                .collect(),
            health: (scenario.health.as_ref())
                .filter(|_| own_checks)
                .map(|h| h.to_config()),
            sorry_server: (scenario.real_servers.iter())
                .position(|rs| rs.sorry && own_checks)
                .map(|i| crate::health::config::SorryServer {
                    address: scenario.server_address(i),
                    port: scenario.server_port(i),
                }),
        }],
        limits: Limits {
            max_connections: scenario.lab.max_connections,
            sloppy: s.sloppy,
            offload: scenario.lab.offload,
        },
        defense: scenario.defense.unwrap_or_default(),
        garp: Default::default(),
        vrrp: scenario
            .failover
            .as_ref()
            .filter(|f| f.heartbeat.is_none())
            .map(|f| crate::config::VrrpSection {
                vrid: f.vrid,
                priority: f.priorities[(n - 1) as usize],
                advert_interval_ms: f.advert_interval.as_millis() as u64,
                preempt: f.preempt,
                preempt_delay_ms: 0,
                // The other director (d1 ↔ d2) is the only peer.
                peers: if f.peer_filter || f.unicast {
                    vec![director_address(3 - n)]
                } else {
                    Vec::new()
                },
                unicast: f.unicast,
                lower_prio_announce_ms: 1000,
            }),
        // Heartbeat sets the role through the control socket; sync takes the other director's.
        failover: scenario
            .failover
            .as_ref()
            .filter(|f| f.heartbeat_manager().is_some())
            .map(|_| crate::config::FailoverSection {
                mode: crate::config::FailoverMode::External,
                peers: vec![director_address(3 - n)],
            }),
        heartbeat: scenario
            .failover
            .as_ref()
            .and_then(|f| f.heartbeat_protocol().map(|hb| heartbeat_section(f, hb, n))),
        // The status port (7070) on the director's own address, for `tapvs probe`.
        host: Default::default(),
        sync: scenario
            .failover
            .as_ref()
            .filter(|f| f.sync)
            .map(|f| crate::config::SyncSection {
                syncid: 1,
                refresh_s: f.sync_refresh.as_secs(),
            }),
        seed: Some(seed),
    }
}

/// Director `n`'s heartbeat settings: node `d<n>`, the other director as its `ucast` peer,
/// d1 the haresources primary; the generation is left to the director's clock.
fn heartbeat_section(
    f: &FailoverSpec,
    hb: &crate::scenario::heartbeat::Heartbeat,
    n: u8,
) -> crate::config::HeartbeatSection {
    let ms = |d: std::time::Duration| d.as_millis() as u64;
    let me = usize::from(n - 1);
    crate::config::HeartbeatSection {
        node: hb.nodes[me].clone(),
        peer_node: hb.nodes[1 - me].clone(),
        peer: director_address(3 - n),
        primary: hb.nodes[hb.preferred].clone(),
        port: hb.udpport,
        keepalive_ms: ms(hb.keepalive),
        deadtime_ms: ms(hb.deadtime),
        warntime_ms: ms(hb.warntime()),
        initdead_ms: ms(hb.initdead()),
        auto_failback: hb.auto_failback,
        auth_index: 1,
        auth_key: f.auth_key.clone().unwrap_or_else(|| "tapvs-lab".into()),
        clock_s: None,
    }
}
