//! The simple hosts of the in-memory LAN: the router (which speaks for the clients, as the lab's
//! router namespace does) and the real servers. They parse and emit every frame with smoltcp's
//! wire types and keep just enough state to play their part: an ARP cache for the router, a
//! log of the VIP segments that reached each real server, and a TCP port that accepts or
//! refuses the directors' health checks.

use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol,
    Ipv4Packet, TcpPacket,
};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, Ipv4Repr, TcpControl, TcpRepr};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};

/// A client connection: the client's address and port (the VIP and its port are fixed).
pub type Conn = SocketAddrV4;

/// A TCP segment as the hosts send and see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: SocketAddrV4,
    pub dst: SocketAddrV4,
    pub control: TcpControl,
    pub seq: u32,
    pub ack: Option<u32>,
}

/// Ethernet + IPv4 + TCP with `payload`, checksums filled.
pub fn tcp_frame(
    src_mac: EthernetAddress,
    dst_mac: EthernetAddress,
    seg: Segment,
    payload: &[u8],
) -> Vec<u8> {
    let ends = crate::wire::build::Endpoints {
        src_mac,
        dst_mac,
        src: *seg.src.ip(),
        src_port: seg.src.port(),
        dst: *seg.dst.ip(),
        dst_port: seg.dst.port(),
    };
    crate::wire::build::tcp_segment(ends, seg.control, seg.seq, seg.ack, payload)
}

/// What a frame carries, parsed and checked (checksums included).
pub enum Parsed {
    Arp(ArpRepr),
    Tcp(EthernetAddress, Segment),
    Other,
}

/// Parses a frame; anything malformed is a test failure (the directors must not send it).
pub fn parse(frame: &[u8]) -> Parsed {
    let eth = EthernetFrame::new_checked(frame).expect("an Ethernet frame");
    match eth.ethertype() {
        EthernetProtocol::Arp => {
            let arp = ArpPacket::new_checked(eth.payload()).expect("an ARP packet");
            Parsed::Arp(ArpRepr::parse(&arp).expect("Ethernet/IPv4 ARP"))
        }
        EthernetProtocol::Ipv4 => {
            let caps = ChecksumCapabilities::default();
            let ip = Ipv4Packet::new_checked(eth.payload()).expect("an IPv4 packet");
            let repr = Ipv4Repr::parse(&ip, &caps).expect("a valid IPv4 header");
            if repr.next_header != IpProtocol::Tcp {
                return Parsed::Other;
            }
            let (src, dst) = (
                IpAddress::Ipv4(repr.src_addr),
                IpAddress::Ipv4(repr.dst_addr),
            );
            let pkt = TcpPacket::new_checked(ip.payload()).expect("a TCP segment");
            let tcp = TcpRepr::parse(&pkt, &src, &dst, &caps).expect("a valid TCP segment");
            let seg = Segment {
                src: SocketAddrV4::new(repr.src_addr, tcp.src_port),
                dst: SocketAddrV4::new(repr.dst_addr, tcp.dst_port),
                control: tcp.control,
                seq: tcp.seq_number.0 as u32,
                ack: tcp.ack_number.map(|a| a.0 as u32),
            };
            Parsed::Tcp(eth.src_addr(), seg)
        }
        _ => Parsed::Other,
    }
}

/// An ARP reply from (`mac`, `ip`) to the sender of `request`.
fn arp_reply(mac: EthernetAddress, ip: Ipv4Addr, request: &ArpRepr) -> Option<Vec<u8>> {
    let ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: sha,
        source_protocol_addr: spa,
        target_protocol_addr: tpa,
        ..
    } = *request
    else {
        return None;
    };
    (tpa == ip && spa != tpa).then(|| crate::wire::build::arp_reply(mac, ip, sha, spa))
}

/// Whether a frame is for `mac` (or broadcast/multicast): a flooded frame for another MAC is
/// not (the switch floods unknown destinations).
fn for_me(frame: &[u8], mac: EthernetAddress) -> bool {
    let dst = EthernetFrame::new_unchecked(frame).dst_addr();
    dst == mac || dst.is_broadcast() || dst.is_multicast()
}

/// The clients' router: answers ARP for its address, keeps an ARP cache fed by every ARP it
/// sees (gratuitous ones included, as `arp_accept = 1`), and sends the clients' segments to the
/// MAC it holds for the VIP, asking by ARP first when it holds none.
pub struct Router {
    pub mac: EthernetAddress,
    pub ip: Ipv4Addr,
    pub arp: HashMap<Ipv4Addr, EthernetAddress>,
    /// Frames waiting for an ARP answer, by next hop.
    parked: Vec<(Ipv4Addr, Vec<u8>)>,
    out: Vec<Vec<u8>>,
    /// Resets the directors sent to clients: (when, connection).
    pub resets: Vec<(Instant, Conn)>,
}

impl Router {
    pub fn new(mac: EthernetAddress, ip: Ipv4Addr) -> Router {
        Router {
            mac,
            ip,
            arp: HashMap::new(),
            parked: Vec::new(),
            out: Vec::new(),
            resets: Vec::new(),
        }
    }

    /// Sends a client's segment towards `seg.dst` (the VIP, on the LAN).
    pub fn send(&mut self, seg: Segment, payload: &[u8]) {
        let next_hop = *seg.dst.ip();
        let mut frame = tcp_frame(self.mac, EthernetAddress([0; 6]), seg, payload);
        match self.arp.get(&next_hop) {
            Some(&mac) => {
                EthernetFrame::new_unchecked(&mut frame[..]).set_dst_addr(mac);
                self.out.push(frame);
            }
            None => {
                if !self.parked.iter().any(|(ip, _)| *ip == next_hop) {
                    let ask = crate::wire::build::arp_request(self.mac, self.ip, next_hop);
                    self.out.push(ask);
                }
                self.parked.push((next_hop, frame));
            }
        }
    }

    pub fn receive(&mut self, now: Instant, frame: &[u8]) {
        if !for_me(frame, self.mac) {
            return;
        }
        match parse(frame) {
            Parsed::Arp(arp) => {
                let ArpRepr::EthernetIpv4 {
                    source_hardware_addr: sha,
                    source_protocol_addr: spa,
                    ..
                } = arp
                else {
                    return;
                };
                if !spa.is_unspecified() {
                    self.arp.insert(spa, sha);
                    self.release(spa, sha);
                }
                self.out.extend(arp_reply(self.mac, self.ip, &arp));
            }
            Parsed::Tcp(_, seg) if seg.control == TcpControl::Rst => {
                self.resets.push((now, seg.dst));
            }
            _ => {}
        }
    }

    /// Sends the frames that waited for `ip`.
    fn release(&mut self, ip: Ipv4Addr, mac: EthernetAddress) {
        let (ready, waiting) = std::mem::take(&mut self.parked)
            .into_iter()
            .partition(|(hop, _)| *hop == ip);
        self.parked = waiting;
        for (_, mut frame) in ready {
            EthernetFrame::new_unchecked(&mut frame[..]).set_dst_addr(mac);
            self.out.push(frame);
        }
    }

    pub fn transmit(&mut self, out: &mut Vec<Vec<u8>>) {
        out.append(&mut self.out);
    }
}

/// One VIP segment that reached a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    pub at: Instant,
    pub conn: Conn,
    pub control: TcpControl,
    /// The director that forwarded it (the frame's source MAC).
    pub via: EthernetAddress,
}

/// A direct-routing real server: holds the VIP without answering ARP for it, logs the VIP
/// segments that reach it, and answers connects to its own address and port: SYN-ACK while up,
/// RST while down (a stopped server process). Everything else (the check's ACK and RST) is
/// taken silently; answers go to the frame's source MAC.
pub struct Server {
    pub mac: EthernetAddress,
    pub addr: SocketAddrV4,
    pub vip: Ipv4Addr,
    pub up: bool,
    pub arrivals: Vec<Arrival>,
    /// Connects (health checks) answered: (when, accepted).
    pub connects: Vec<(Instant, bool)>,
    out: Vec<Vec<u8>>,
}

impl Server {
    pub fn new(mac: EthernetAddress, addr: SocketAddrV4, vip: Ipv4Addr) -> Server {
        Server {
            mac,
            addr,
            vip,
            up: true,
            arrivals: Vec::new(),
            connects: Vec::new(),
            out: Vec::new(),
        }
    }

    pub fn receive(&mut self, now: Instant, frame: &[u8]) {
        if !for_me(frame, self.mac) {
            return;
        }
        match parse(frame) {
            Parsed::Arp(arp) => self.out.extend(arp_reply(self.mac, *self.addr.ip(), &arp)),
            Parsed::Tcp(via, seg) if *seg.dst.ip() == self.vip => self.arrivals.push(Arrival {
                at: now,
                conn: seg.src,
                control: seg.control,
                via,
            }),
            Parsed::Tcp(from, seg) if seg.dst == self.addr && seg.control == TcpControl::Syn => {
                self.connects.push((now, self.up));
                let answer = Segment {
                    src: seg.dst,
                    dst: seg.src,
                    control: if self.up {
                        TcpControl::Syn
                    } else {
                        TcpControl::Rst
                    },
                    seq: if self.up { 7_000 } else { 0 },
                    ack: Some(seg.seq.wrapping_add(1)),
                };
                self.out.push(tcp_frame(self.mac, from, answer, &[]));
            }
            _ => {}
        }
    }

    pub fn transmit(&mut self, out: &mut Vec<Vec<u8>>) {
        out.append(&mut self.out);
    }
}
