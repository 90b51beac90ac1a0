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
pub mod icmp_error;
pub mod sync_frame;
pub mod vrrp;
