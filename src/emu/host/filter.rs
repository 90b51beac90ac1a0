//! The kernel's address checks in front of a simulated host's stack ([`super::stack`]):
//! what is not for this host is dropped and counted before smoltcp sees it, and a TCP
//! segment's 4-tuple (a UDP datagram's destination) is read once, for the per-socket sets
//! ([`super::conns`]).

use super::conns::Key;
use smoltcp::wire::{
    ArpPacket, ArpRepr, EthernetFrame, EthernetProtocol, HardwareAddress, IpProtocol, Ipv4Address,
    Ipv4Packet, TcpPacket, UdpPacket,
};

/// What the filter did with the frames it saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to the stack.
    pub frames_in: u64,
    /// Frames the stack sent.
    pub frames_out: u64,
    /// Frames that do not parse (Ethernet, ARP or IPv4 header).
    pub malformed: u64,
    /// Frames to another MAC, and IPv4 packets to an address this host does not hold.
    pub not_ours: u64,
    /// ARP requests left unanswered on purpose (for an address the host does not announce).
    pub arp_ignored: u64,
    /// Gratuitous ARPs that updated a neighbour entry.
    pub gratuitous_arp: u64,
}

/// Which addresses a host takes packets for and answers ARP for.
pub trait Addresses {
    /// Whether an IPv4 packet to `dst` is for this host.
    fn accepts(&self, dst: Ipv4Address) -> bool;
    /// Whether this host answers an ARP request for `target`.
    fn answers_arp(&self, target: Ipv4Address) -> bool;
}

pub enum Admit {
    /// For the stack; a TCP segment's 4-tuple and flags when it is one.
    Take(Option<Segment>),
    /// For the stack: a UDP datagram to this address and port.
    Udp(Ipv4Address, u16),
    /// An ARP packet, checked.
    Arp(ArpRepr),
    Malformed,
    NotOurs,
}

/// What the stack's TCP needs of a segment before smoltcp takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub key: Key,
    /// A SYN (no ACK, no RST): a listener may take it.
    pub to_listener: bool,
    /// A SYN or a SYN-ACK: a connection starts.
    pub syn: bool,
    /// It carries data.
    pub data: bool,
    /// PSH: the end of what the sender wrote.
    pub push: bool,
    /// A FIN without data.
    pub bare_fin: bool,
}

/// The kernel's address checks, before smoltcp sees the frame.
pub fn admit(frame: &[u8], mac: HardwareAddress, addrs: &impl Addresses) -> Admit {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Admit::Malformed;
    };
    let dst = eth.dst_addr();
    if HardwareAddress::Ethernet(dst) != mac && dst.is_unicast() {
        return Admit::NotOurs;
    }
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let Ok(repr) = ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p))
            else {
                return Admit::Malformed;
            };
            Admit::Arp(repr)
        }
        EthernetProtocol::Ipv4 => match Ipv4Packet::new_checked(eth.payload()) {
            Err(_) => Admit::Malformed,
            Ok(ip) if !addrs.accepts(ip.dst_addr()) => Admit::NotOurs,
            Ok(ip) if ip.next_header() == IpProtocol::Tcp => {
                // A segment that does not parse goes to smoltcp, which drops it.
                let tcp = TcpPacket::new_checked(ip.payload()).ok().map(|t| Segment {
                    key: (ip.dst_addr(), t.dst_port(), ip.src_addr(), t.src_port()),
                    to_listener: !t.ack() && !t.rst(),
                    syn: t.syn() && !t.rst(),
                    data: !t.payload().is_empty(),
                    push: t.psh(),
                    bare_fin: t.fin() && t.payload().is_empty(),
                });
                Admit::Take(tcp)
            }
            Ok(ip) if ip.next_header() == IpProtocol::Udp => {
                // A datagram that does not parse goes to smoltcp, which drops it.
                match UdpPacket::new_checked(ip.payload()) {
                    Ok(udp) => Admit::Udp(ip.dst_addr(), udp.dst_port()),
                    Err(_) => Admit::Take(None),
                }
            }
            Ok(_) => Admit::Take(None),
        },
        // IPv6 and the rest: smoltcp ignores them, as a v4-only host does.
        _ => Admit::Take(None),
    }
}
