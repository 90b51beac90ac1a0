//! Frame builders for tests, benchmarks and fuzzing: whole Ethernet frames from a few fields.
//! They allocate and are never used on the packet path.

use super::{
    ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame,
    EthernetProtocol, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IpAddress, Ipv4Repr, TcpControl, TcpRepr, TcpSeqNumber, UdpRepr};
use std::net::Ipv4Addr;

/// TCP flags of a test segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    pub syn: bool,
    pub ack: bool,
    pub fin: bool,
    pub rst: bool,
}

impl Flags {
    const NONE: Flags = Flags {
        syn: false,
        ack: false,
        fin: false,
        rst: false,
    };
    pub const SYN: Flags = Flags {
        syn: true,
        ..Flags::NONE
    };
    pub const ACK: Flags = Flags {
        ack: true,
        ..Flags::NONE
    };
    pub const FIN_ACK: Flags = Flags {
        ack: true,
        fin: true,
        ..Flags::NONE
    };
    pub const RST: Flags = Flags {
        rst: true,
        ..Flags::NONE
    };
}

/// Ends of a test flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoints {
    pub src_mac: EthernetAddress,
    pub dst_mac: EthernetAddress,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
}

fn ethernet(
    src: EthernetAddress,
    dst: EthernetAddress,
    proto: EthernetProtocol,
    len: usize,
) -> Vec<u8> {
    let mut buf = vec![0u8; ETHERNET_HEADER_LEN + len];
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.set_src_addr(src);
    eth.set_dst_addr(dst);
    eth.set_ethertype(proto);
    buf
}

/// An Ethernet + IPv4 + TCP frame with `payload`, checksums filled.
pub fn tcp_frame(ends: Endpoints, flags: Flags, payload: &[u8]) -> Vec<u8> {
    let control = match (flags.syn, flags.fin, flags.rst) {
        (true, _, _) => TcpControl::Syn,
        (_, true, _) => TcpControl::Fin,
        (_, _, true) => TcpControl::Rst,
        _ => TcpControl::None,
    };
    let ack = flags.ack.then_some(2000);
    tcp_segment(ends, control, 1000, ack, payload)
}

/// An Ethernet + IPv4 + TCP frame with the given control, sequence and acknowledgement
/// numbers and `payload`, checksums filled.
pub fn tcp_segment(
    ends: Endpoints,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &[u8],
) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: ends.src_port,
        dst_port: ends.dst_port,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 64240,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    ipv4_frame(
        ends,
        IpProtocol::Tcp,
        tcp.buffer_len(),
        |b, src, dst, caps| tcp.emit(&mut TcpPacket::new_unchecked(b), src, dst, caps),
    )
}

/// An Ethernet + IPv4 + UDP frame with `payload`, checksums filled.
pub fn udp_frame(ends: Endpoints, payload: &[u8]) -> Vec<u8> {
    let udp = UdpRepr {
        src_port: ends.src_port,
        dst_port: ends.dst_port,
    };
    let len = udp.header_len() + payload.len();
    ipv4_frame(ends, IpProtocol::Udp, len, |b, src, dst, caps| {
        let mut dgram = UdpPacket::new_unchecked(b);
        let fill = |b: &mut [u8]| b.copy_from_slice(payload);
        udp.emit(&mut dgram, src, dst, payload.len(), fill, caps)
    })
}

/// An Ethernet + IPv4 frame of `ends` carrying `payload_len` bytes of `protocol`, which `emit`
/// writes into the IPv4 payload (given the addresses and capabilities for its checksum).
fn ipv4_frame(
    ends: Endpoints,
    protocol: IpProtocol,
    payload_len: usize,
    emit: impl FnOnce(&mut [u8], &IpAddress, &IpAddress, &ChecksumCapabilities),
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: ends.src,
        dst_addr: ends.dst,
        next_header: protocol,
        payload_len,
        hop_limit: 64,
    };
    let mut buf = ethernet(
        ends.src_mac,
        ends.dst_mac,
        EthernetProtocol::Ipv4,
        ip.buffer_len() + payload_len,
    );
    let caps = ChecksumCapabilities::default();
    let mut pkt = Ipv4Packet::new_unchecked(&mut buf[ETHERNET_HEADER_LEN..]);
    ip.emit(&mut pkt, &caps);
    let (src, dst) = (IpAddress::Ipv4(ends.src), IpAddress::Ipv4(ends.dst));
    emit(pkt.payload_mut(), &src, &dst, &caps);
    buf
}

/// A broadcast ARP request from (`mac`, `ip`) for `target`.
pub fn arp_request(mac: EthernetAddress, ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    arp(
        ArpOperation::Request,
        mac,
        ip,
        EthernetAddress::BROADCAST,
        EthernetAddress([0; 6]),
        target,
    )
}

/// An ARP reply from (`mac`, `ip`) to (`to_mac`, `to_ip`).
pub fn arp_reply(
    mac: EthernetAddress,
    ip: Ipv4Addr,
    to_mac: EthernetAddress,
    to_ip: Ipv4Addr,
) -> Vec<u8> {
    arp(ArpOperation::Reply, mac, ip, to_mac, to_mac, to_ip)
}

fn arp(
    op: ArpOperation,
    mac: EthernetAddress,
    ip: Ipv4Addr,
    eth_dst: EthernetAddress,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: op,
        source_hardware_addr: mac,
        source_protocol_addr: ip,
        target_hardware_addr: tha,
        target_protocol_addr: tpa,
    };
    let mut buf = ethernet(mac, eth_dst, EthernetProtocol::Arp, repr.buffer_len());
    repr.emit(&mut ArpPacket::new_unchecked(
        &mut buf[ETHERNET_HEADER_LEN..],
    ));
    buf
}
