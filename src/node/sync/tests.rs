//! Sync datagrams are taken only from the director's peers: a spoofed one installs nothing.

use super::*;
use crate::sync::entry::{SyncEntry, SyncForwarding};
use crate::sync::wire::MessageWriter;
use crate::wire::EthernetAddress;

const PEER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 3);

fn dataplane() -> Dataplane {
    let text = "[interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\naddress = \"198.18.0.2\"\n\
                prefix_len = 24\ngateway = \"198.18.0.1\"\n[[service]]\nvip = \"198.18.0.100\"\n\
                port = 80\nscheduler = \"rr\"\n[[service.real_server]]\nname = \"rs1\"\n\
                address = \"198.18.0.11\"\nport = 80\n";
    Dataplane::new(
        &toml::from_str::<crate::node::settings::NodeSettings>(text)
            .unwrap()
            .dataplane(),
        1,
    )
}

/// A sync datagram from `src` carrying one established connection to rs1.
fn datagram(src: Ipv4Addr) -> Vec<u8> {
    let mut frame = vec![0u8; 1500];
    let mut w = MessageWriter::new(&mut frame[OVERHEAD..], 1, 1);
    assert!(w.push(&SyncEntry {
        protocol: 6,
        template: false,
        forwarding: SyncForwarding::DirectRouting,
        inactive: false,
        state: 1,
        client: Ipv4Addr::new(198, 19, 0, 7),
        client_port: 4000,
        vip: Ipv4Addr::new(198, 18, 0, 100),
        vport: 80,
        server: Ipv4Addr::new(198, 18, 0, 11),
        server_port: 80,
        timeout_s: 900,
    }));
    let len = w.finish();
    let mac = EthernetAddress([2, 0, 0, 0, 0, 3]);
    let n = sync_frame::emit_frame(&mut frame, mac, src, len);
    frame.truncate(n);
    frame
}

#[test]
fn only_the_peers_datagrams_install_connections() {
    let mut dp = dataplane();
    let section = SyncSection {
        syncid: 1,
        refresh_s: 0,
    };
    let mut sync = Sync::new(&section, &[PEER], &mut dp).unwrap();
    let now = Instant::from_millis(0);
    sync.set_master(now, false);
    let stranger = Ipv4Addr::new(198, 18, 0, 66);
    assert!(sync.handle_frame(now, &datagram(stranger), &mut dp));
    assert_eq!(sync.not_peer(), 1);
    assert_eq!(sync.counters(now).msgs_received, 0);
    assert_eq!(dp.conns().len(), 0, "a spoofed table installs nothing");
    assert!(sync.handle_frame(now, &datagram(PEER), &mut dp));
    assert_eq!(sync.counters(now).msgs_received, 1);
    assert_eq!(dp.conns().len(), 1, "the peer's connection is installed");
    // Without a peer list (a lone director, or configured so), anyone's are taken.
    let mut open = Sync::new(&section, &[], &mut dp).unwrap();
    open.set_master(now, false);
    open.handle_frame(now, &datagram(stranger), &mut dp);
    assert_eq!(open.not_peer(), 0);
    assert_eq!(open.counters(now).msgs_received, 1);
}
