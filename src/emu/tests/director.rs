//! A real [`Director`] on the fabric: it answers an ARP request for its own address, through
//! the switch, with the cables' latency.

use super::{Host, mac, us};
use crate::emu::Node;
use crate::emu::link::Impairments;
use crate::emu::sim::Sim;
use crate::node::Director;
use crate::node::settings::NodeSettings;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame};
use smoltcp::time::Instant;
use std::net::Ipv4Addr;

const DIRECTOR_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const DIRECTOR_MAC: EthernetAddress = EthernetAddress([0x02, 0x74, 0x76, 0, 0, 2]);
const HOST_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);

/// A one-armed director with no failover (always active): the lab's d1.
fn director() -> Director {
    let text = "seed = 1\n\
        [interface]\nname = \"d1\"\nmac = \"02:74:76:00:00:02\"\n\
        address = \"198.18.0.2\"\nprefix_len = 24\ngateway = \"198.18.0.1\"\n\
        [[service]]\nvip = \"198.18.0.100\"\nport = 80\nscheduler = \"rr\"\n\
        [[service.real_server]]\nname = \"rs1\"\naddress = \"198.18.0.11\"\nport = 80\n";
    let settings: NodeSettings = toml::from_str(text).unwrap();
    Director::new(&settings, "d1", 7, Instant::ZERO).unwrap()
}

/// The ARP replies among `frames`, parsed.
fn replies(frames: &[Vec<u8>]) -> Vec<ArpRepr> {
    frames
        .iter()
        .filter_map(|f| {
            let eth = EthernetFrame::new_checked(f.as_slice()).ok()?;
            let arp = ArpPacket::new_checked(eth.payload()).ok()?;
            ArpRepr::parse(&arp).ok()
        })
        .filter(|r| matches!(r, ArpRepr::EthernetIpv4 { operation, .. } if *operation == ArpOperation::Reply))
        .collect()
}

/// The lab's hosts: the director, and a host that keeps every frame it gets, whole.
enum Lab {
    Director(Box<Director>),
    Host(Host, Vec<Vec<u8>>),
}

impl Node for Lab {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        match self {
            Lab::Director(d) => d.handle_frame(now, port, frame),
            Lab::Host(h, frames) => {
                frames.push(frame.to_vec());
                h.handle_frame(now, port, frame)
            }
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Lab::Director(d) => d.handle_timeout(now),
            Lab::Host(h, _) => h.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        match self {
            Lab::Director(d) => Node::poll_transmit(d.as_mut(), now, buf),
            Lab::Host(h, _) => h.poll_transmit(now, buf),
        }
    }
    fn poll_timeout(&mut self) -> Option<Instant> {
        match self {
            Lab::Director(d) => Node::poll_timeout(d.as_mut()),
            Lab::Host(h, _) => h.poll_timeout(),
        }
    }
}

#[test]
fn a_director_on_the_fabric_answers_arp_for_its_own_address() {
    let mut sim = Sim::new(1);
    let br0 = sim.add_switch();
    let d = sim.add_node(Lab::Director(Box::new(director())));
    let mut host = Host::new(11);
    let ask = crate::wire::build::arp_request(mac(11), HOST_IP, DIRECTOR_IP);
    host.send_at(us(500_000), 0, ask);
    let h = sim.add_node(Lab::Host(host, Vec::new()));
    sim.attach(d, 0, br0, Impairments::default()).unwrap();
    sim.attach(h, 0, br0, Impairments::default()).unwrap();
    sim.run_until(us(1_000_000)).unwrap();
    let Lab::Host(host, frames) = sim.node(h) else {
        unreachable!()
    };
    let answers = replies(frames);
    assert_eq!(answers.len(), 1, "one reply");
    let ArpRepr::EthernetIpv4 {
        source_hardware_addr,
        source_protocol_addr,
        target_hardware_addr,
        target_protocol_addr,
        ..
    } = answers[0]
    else {
        unreachable!()
    };
    assert_eq!(source_hardware_addr, DIRECTOR_MAC);
    assert_eq!(source_protocol_addr, DIRECTOR_IP);
    assert_eq!(target_hardware_addr, mac(11));
    assert_eq!(target_protocol_addr, HOST_IP);
    // Asked at 0.5 s; two cables each way (20 µs each); the director answers at once.
    let i = frames
        .iter()
        .position(|f| !replies(std::slice::from_ref(f)).is_empty());
    assert_eq!(host.seen[i.unwrap()].at, us(500_080));
    // The switch learned the director's port from its answer.
    assert_eq!(sim.fabric.switches[br0].port_of(DIRECTOR_MAC), Some(0));
}
