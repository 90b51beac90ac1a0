//! The sync node: a master and a backup on an in-memory link (`net`) with fake tables
//! (`table`) and a hand-moved clock, every instant exact. Node 0 ([`M`]) starts as master,
//! node 1 ([`B`]) as backup, with [`SyncConfig::default`] unless a test says otherwise:
//! batch delay 2 ms, ACK at most every 200 ms, bulk retry 1 s, refresh 30 s, 16 bulk/refresh
//! messages per millisecond, 40 entries per 1472-byte message.

use super::*;
use std::net::Ipv4Addr;

mod basic;
mod net;
mod recovery;
mod refresh;
mod table;

const M: usize = 0;
const B: usize = 1;
const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);

fn ms(millis: i64) -> Instant {
    Instant::from_millis(millis)
}

fn secs(s: i64) -> Instant {
    Instant::from_secs(s)
}

/// Connection `i`: a distinct client from 198.19.0.0/16 to VIP:80, DR to one of three
/// servers, TCP ESTABLISHED, 900 s.
fn conn(i: u32) -> SyncEntry {
    SyncEntry {
        protocol: 6,
        template: false,
        forwarding: crate::sync::entry::SyncForwarding::DirectRouting,
        inactive: false,
        state: 1,
        client: Ipv4Addr::new(198, 19, (i / 250) as u8, (i % 250 + 1) as u8),
        client_port: 40_000 + (i % 1000) as u16,
        vip: VIP,
        vport: 80,
        server: Ipv4Addr::new(198, 18, 0, 11 + (i % 3) as u8),
        server_port: 80,
        timeout_s: 900,
    }
}

/// A persistence template: client network → server, no client port, 300 s.
fn template(i: u32) -> SyncEntry {
    SyncEntry {
        template: true,
        client: Ipv4Addr::new(198, 19, i as u8, 0),
        client_port: 0,
        timeout_s: 300,
        ..conn(i)
    }
}

#[test]
fn config_is_checked() {
    let bad = |c: SyncConfig| SyncNode::new(c).unwrap_err();
    let d = SyncConfig::default;
    assert_eq!(
        bad(SyncConfig {
            max_payload: 47,
            ..d()
        }),
        ConfigError::Payload(47)
    );
    assert_eq!(
        bad(SyncConfig {
            refresh_period: Some(Duration::ZERO),
            ..d()
        }),
        ConfigError::ZeroInterval
    );
    assert_eq!(
        bad(SyncConfig { burst: 0, ..d() }),
        ConfigError::ZeroCapacity
    );
    assert!(
        SyncNode::new(SyncConfig {
            max_payload: 48,
            ..d()
        })
        .is_ok()
    );
}
