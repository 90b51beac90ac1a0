//! Connection-sync datagrams on the LAN: IPv4/UDP to 224.0.0.81:8848 (IPVS's group and port),
//! TTL 1, from the director's own address; the payload is `crate::sync::wire`'s business.

use super::{
    ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet,
};
use core::net::Ipv4Addr;
use smoltcp::wire::{IPV4_HEADER_LEN, Ipv4Repr, UDP_HEADER_LEN, UdpPacket};

/// IPVS's sync multicast group and port.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
pub const PORT: u16 = 8848;
/// 01:00:5e + the group's low 23 bits.
pub const GROUP_MAC: EthernetAddress = EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x51]);
/// Bytes in front of the payload.
pub const OVERHEAD: usize = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;

/// Writes a sync datagram whose payload already sits at `buf[OVERHEAD..OVERHEAD + len]`;
/// returns the frame's length.
pub fn emit_frame(buf: &mut [u8], src_mac: EthernetAddress, src: Ipv4Addr, len: usize) -> usize {
    let total = OVERHEAD + len;
    let ip_repr = Ipv4Repr {
        src_addr: src,
        dst_addr: GROUP,
        next_header: IpProtocol::Udp,
        payload_len: UDP_HEADER_LEN + len,
        hop_limit: 1,
    };
    let mut ip = super::emit_ipv4_frame(&mut buf[..total], (src_mac, GROUP_MAC), &ip_repr);
    ip.fill_checksum();
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    udp.set_src_port(PORT);
    udp.set_dst_port(PORT);
    udp.set_len((UDP_HEADER_LEN + len) as u16);
    udp.fill_checksum(&src.into(), &GROUP.into());
    total
}

/// The sender and payload of a sync datagram from someone else than `own`, or `None` for any
/// other frame (or a malformed one: bad IPv4 or UDP checksum, fragment, truncated).
pub fn parse_frame(frame: &[u8], own: Ipv4Addr) -> Option<(Ipv4Addr, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp
        || ip.dst_addr() != GROUP
        || ip.src_addr() == own
        || !ip.verify_checksum()
        || ip.more_frags()
        || ip.frag_offset() != 0
    {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != PORT || !udp.verify_checksum(&src.into(), &dst.into()) {
        return None;
    }
    Some((src, udp.payload()))
}

/// Whether a frame is an IPv4 UDP datagram to the sync group (cheap test, no checksums).
pub fn is_sync(frame: &[u8]) -> bool {
    frame.len() > OVERHEAD
        && frame[12..14] == [0x08, 0x00]
        && frame[ETHERNET_HEADER_LEN + 9] == 17
        && frame[ETHERNET_HEADER_LEN + 16..ETHERNET_HEADER_LEN + 20] == GROUP.octets()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_datagram_round_trips_and_others_are_refused() {
        let mac = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
        let own = Ipv4Addr::new(198, 18, 0, 2);
        let mut buf = [0u8; 200];
        buf[OVERHEAD..OVERHEAD + 12].copy_from_slice(b"syncpayload!");
        let n = emit_frame(&mut buf, mac, own, 12);
        assert_eq!(n, OVERHEAD + 12);
        assert!(is_sync(&buf[..n]));
        // Our own datagram (the bridge floods it back) is ignored; a peer's is taken.
        assert_eq!(parse_frame(&buf[..n], own), None);
        let peer = Ipv4Addr::new(198, 18, 0, 3);
        assert_eq!(
            parse_frame(&buf[..n], peer),
            Some((own, &b"syncpayload!"[..]))
        );
        // TTL 1, UDP 8848 -> 8848, the group MAC.
        assert_eq!(buf[ETHERNET_HEADER_LEN + 8], 1);
        assert_eq!(&buf[..6], &GROUP_MAC.0);
        // A corrupted payload fails the UDP checksum.
        buf[n - 1] ^= 0xff;
        assert_eq!(parse_frame(&buf[..n], peer), None);
        assert_eq!(parse_frame(&buf[..10], peer), None);
    }
}
