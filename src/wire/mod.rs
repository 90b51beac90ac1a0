//! Packet views. tapvs parses and emits Ethernet, ARP, IPv4, TCP and UDP with `smoltcp::wire`;
//! this module re-exports what the rest of the crate uses and adds only what smoltcp lacks.

pub use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol,
    Ipv4Packet, TcpPacket, UdpPacket,
};

/// Length of an Ethernet header without VLAN tag.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Largest frame the data plane handles: a 1500-byte MTU plus the Ethernet header.
pub const MAX_FRAME_LEN: usize = 1514;

pub mod build;
pub mod checksum;
pub mod fields;
pub mod icmp_error;
pub mod sync_frame;
pub mod vrrp;

/// Writes the Ethernet header (`src_mac` → `dst_mac`, IPv4) and the IPv4 header of `repr` at
/// the start of `frame`, and returns the IPv4 packet to fill in; its header checksum is left
/// for the caller to fill once every header field is final.
pub fn emit_ipv4_frame<'a>(
    frame: &'a mut [u8],
    (src_mac, dst_mac): (EthernetAddress, EthernetAddress),
    repr: &smoltcp::wire::Ipv4Repr,
) -> Ipv4Packet<&'a mut [u8]> {
    let mut eth = EthernetFrame::new_unchecked(&mut *frame);
    eth.set_dst_addr(dst_mac);
    eth.set_src_addr(src_mac);
    eth.set_ethertype(EthernetProtocol::Ipv4);
    let mut ip = Ipv4Packet::new_unchecked(&mut frame[smoltcp::wire::ETHERNET_HEADER_LEN..]);
    repr.emit(&mut ip, &smoltcp::phy::ChecksumCapabilities::ignored());
    ip
}
