//! ARP for the hand-written emulated hosts (router, spoofer, flooder): parse one Ethernet +
//! ARP frame, write one into a caller's buffer, and the answer a host gives a request for its
//! own address. Nothing here allocates.

use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame,
    EthernetProtocol,
};
use std::net::Ipv4Addr;

/// An Ethernet + ARP frame's length (no padding).
pub const ARP_FRAME_LEN: usize = ETHERNET_HEADER_LEN + 28;

/// An IPv4-over-Ethernet ARP message and the Ethernet destination it came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arp {
    pub eth_dst: EthernetAddress,
    pub reply: bool,
    pub sha: EthernetAddress,
    pub sip: Ipv4Addr,
    pub tha: EthernetAddress,
    pub tip: Ipv4Addr,
}

/// The ARP message in `frame`, if it is a well-formed IPv4 request or reply.
pub fn parse(frame: &[u8]) -> Option<Arp> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Arp {
        return None;
    }
    let packet = ArpPacket::new_checked(eth.payload()).ok()?;
    let ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr,
        source_protocol_addr,
        target_hardware_addr,
        target_protocol_addr,
    } = ArpRepr::parse(&packet).ok()?
    else {
        return None;
    };
    let reply = match operation {
        ArpOperation::Request => false,
        ArpOperation::Reply => true,
        _ => return None,
    };
    Some(Arp {
        eth_dst: eth.dst_addr(),
        reply,
        sha: source_hardware_addr,
        sip: source_protocol_addr,
        tha: target_hardware_addr,
        tip: target_protocol_addr,
    })
}

/// Writes `arp` as a frame from `arp.sha` into `buf` (at least [`ARP_FRAME_LEN`] bytes);
/// its length.
pub fn write(buf: &mut [u8], arp: &Arp) -> usize {
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..ARP_FRAME_LEN]);
    eth.set_dst_addr(arp.eth_dst);
    eth.set_src_addr(arp.sha);
    eth.set_ethertype(EthernetProtocol::Arp);
    let repr = ArpRepr::EthernetIpv4 {
        operation: if arp.reply {
            ArpOperation::Reply
        } else {
            ArpOperation::Request
        },
        source_hardware_addr: arp.sha,
        source_protocol_addr: arp.sip,
        target_hardware_addr: arp.tha,
        target_protocol_addr: arp.tip,
    };
    repr.emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    ARP_FRAME_LEN
}

/// The reply (`mac`, `ip`) gives `request` if it asks for `ip`.
pub fn answer(request: &Arp, mac: EthernetAddress, ip: Ipv4Addr) -> Option<Arp> {
    (!request.reply && request.tip == ip && !request.sip.is_unspecified()).then_some(Arp {
        eth_dst: request.sha,
        reply: true,
        sha: mac,
        sip: ip,
        tha: request.sha,
        tip: request.sip,
    })
}

/// A request from (`mac`, `ip`) for `target`, broadcast or to `to`.
pub fn request(
    mac: EthernetAddress,
    ip: Ipv4Addr,
    target: Ipv4Addr,
    to: Option<EthernetAddress>,
) -> Arp {
    Arp {
        eth_dst: to.unwrap_or(EthernetAddress::BROADCAST),
        reply: false,
        sha: mac,
        sip: ip,
        tha: EthernetAddress([0; 6]),
        tip: target,
    }
}
