//! A gratuitous ARP moves a host's neighbour entry to the announcing MAC, as on Linux.

use super::{SimClient, VIP, client, server_config};
use crate::emu::Node;
use crate::emu::host::SimServer;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Ipv4Address, Ipv4Cidr,
};

const B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 12]);

/// Sends one gratuitous ARP for the VIP from MAC `B` at `at`.
struct Announcer {
    at: Option<Instant>,
}

impl Node for Announcer {
    fn handle_frame(&mut self, _: Instant, _: usize, _: &mut [u8]) -> Option<usize> {
        None
    }
    fn handle_timeout(&mut self, _: Instant) {}
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.at.filter(|&at| at <= now)?;
        self.at = None;
        let eth = EthernetRepr {
            src_addr: B,
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..42]);
        eth.emit(&mut frame);
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: B,
            source_protocol_addr: VIP,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: VIP,
        }
        .emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        Some((0, 42))
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        self.at
    }
}

#[test]
fn a_gratuitous_arp_moves_the_client_to_the_new_mac() {
    // rs1 answers ARP for the VIP; rs2 (MAC B) holds it quietly until it announces it.
    let mut rs1 = SimServer::new(server_config(false));
    let mut rs2 = SimServer::new(crate::emu::host::ServerConfig {
        name: "rs2".into(),
        mac: B,
        addr: Ipv4Cidr::new(Ipv4Address::new(198, 18, 0, 12), 24),
        ..server_config(true)
    });
    let mut client = SimClient::new(crate::emu::host::ClientConfig {
        target: (VIP, 80),
        pacing: super::Pacing::Closed {
            think: Duration::from_millis(100),
            backoff: Duration::from_millis(10),
        },
        ..client(10)
    });
    let mut announcer = Announcer {
        at: Some(Instant::from_millis(450)),
    };
    let mut hub = super::net::Hub::new(vec![&mut client, &mut rs1, &mut rs2, &mut announcer]);
    hub.run(Instant::from_secs(60), |_| false);
    drop(hub);
    let report = client.take_report().expect("a report");
    assert_eq!(report.total.ok, 10, "{:?}", report.total);
    let served = |s: &str| report.total.servers.get(s).map_or(0, |c| c.requests);
    assert_eq!((served("rs1"), served("rs2")), (5, 5));
    assert_eq!(client.counters().gratuitous_arp, 1);
    // The servers had no entry for the VIP: Linux creates none from a gratuitous ARP.
    assert_eq!(
        rs1.counters().gratuitous_arp + rs2.counters().gratuitous_arp,
        0
    );
}
