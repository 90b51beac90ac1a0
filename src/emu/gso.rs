//! Linux's GSO on the emulated links: a host's TCP hands its link one segment of up to 64 KiB
//! (a socket's whole write, as Linux's TCP builds a GSO packet), and veths, bridges and the
//! router carry it as one packet; it is cut into frames of the lab's 1500-byte MTU only where
//! it reaches a device without offloads (a `tapvs wire`'s TAPs: `tcp_gso_segment` then).
//! smoltcp sends MSS-sized segments, so [`coalesce`] joins those of one socket leaving in one
//! egress pass at the host's rim, and [`segment`] cuts them again. Must not import the fabric
//! or the nodes.
//!
//! Each piece is what `tcp_gso_segment` and `inet_gso_segment` make of a GSO packet: the
//! Ethernet, IPv4 and TCP headers (options too) copied, the IP total length, identification
//! (the first one's plus the piece's index) and header checksum set, the sequence number
//! advanced by the bytes before it, PSH and FIN on the last piece only, CWR on the first only,
//! and the TCP checksum computed over the piece.

use crate::wire::MAX_FRAME_LEN;
use crate::wire::checksum::Delta;
use crate::wire::fields::{be16, be32};
use smoltcp::wire::{EthernetFrame, IpAddress, IpProtocol, Ipv4Packet, TcpPacket};

/// Where the IPv4 header starts in a frame (untagged Ethernet).
const IP_AT: usize = 14;

/// The longest frame a host hands its link: a 64 KiB IPv4 packet (Linux's `GSO_MAX_SIZE`)
/// behind an Ethernet header.
pub const MAX_SUPER_FRAME: usize = 65535 + 14;

/// Why a frame longer than the MTU cannot be cut into frames (it is dropped, as the kernel
/// drops a GSO packet it cannot segment).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unsegmentable {
    /// Not a well-formed TCP segment in IPv4 in Ethernet.
    #[error("not TCP over IPv4")]
    NotTcp,
    /// The headers leave no room for payload in an MTU-sized frame.
    #[error("headers longer than the MTU allows")]
    Headers,
    /// The buffer for the pieces is shorter than an MTU-sized frame.
    #[error("piece buffer shorter than a frame")]
    Buffer,
}

/// Hands `each` the frames of at most [`MAX_FRAME_LEN`] bytes that `frame` is cut into, one
/// after the other in `piece` (at least [`MAX_FRAME_LEN`] long); a frame that already fits is
/// handed over as it is. Returns how many frames were handed over.
pub fn segment(
    frame: &[u8],
    piece: &mut [u8],
    mut each: impl FnMut(&[u8]),
) -> Result<usize, Unsegmentable> {
    if frame.len() <= MAX_FRAME_LEN {
        each(frame);
        return Ok(1);
    }
    if piece.len() < MAX_FRAME_LEN {
        return Err(Unsegmentable::Buffer);
    }
    let eth = EthernetFrame::new_checked(frame).map_err(|_| Unsegmentable::NotTcp)?;
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| Unsegmentable::NotTcp)?;
    if ip.next_header() != IpProtocol::Tcp {
        return Err(Unsegmentable::NotTcp);
    }
    let tcp = TcpPacket::new_checked(ip.payload()).map_err(|_| Unsegmentable::NotTcp)?;
    let ip_len = ip.header_len() as usize;
    let tcp_len = tcp.header_len() as usize;
    let headers = EthernetFrame::<&[u8]>::header_len() + ip_len + tcp_len;
    let mss = MAX_FRAME_LEN
        .checked_sub(headers)
        .filter(|&m| m > 0)
        .ok_or(Unsegmentable::Headers)?;
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    let (seq, ident, fin, psh) = (tcp.seq_number(), ip.ident(), tcp.fin(), tcp.psh());
    let payload = tcp.payload();
    let count = payload.len().div_ceil(mss);
    for (i, chunk) in payload.chunks(mss).enumerate() {
        let len = headers + chunk.len();
        piece[..headers].copy_from_slice(&frame[..headers]);
        piece[headers..len].copy_from_slice(chunk);
        let packet = &mut piece[EthernetFrame::<&[u8]>::header_len()..len];
        let mut ip = Ipv4Packet::new_unchecked(&mut *packet);
        // At most 64 KiB: the lengths fit their fields.
        ip.set_total_len((ip_len + tcp_len + chunk.len()) as u16);
        ip.set_ident(ident.wrapping_add(i as u16));
        ip.fill_checksum();
        let mut tcp = TcpPacket::new_unchecked(&mut packet[ip_len..]);
        tcp.set_seq_number(seq + i * mss);
        let last = i + 1 == count;
        tcp.set_fin(fin && last);
        tcp.set_psh(psh && last);
        if i > 0 {
            tcp.set_cwr(false);
        }
        tcp.fill_checksum(&src, &dst);
        each(&piece[..len]);
    }
    Ok(count)
}

/// The TCP flags that end a GSO packet: FIN, SYN, RST, PSH, URG (an ACK-only segment of data
/// may be continued).
const ENDS: u8 = 0x01 | 0x02 | 0x04 | 0x08 | 0x20;

/// A TCP segment in IPv4 (no IP options, not a fragment) in Ethernet: the TCP header's start
/// and length and the payload's length. The checks of smoltcp's `new_checked` for the
/// Ethernet frame, the IPv4 packet and the TCP segment, read off the bytes (as
/// [`tcp_at_checked`] does through smoltcp).
fn tcp_at(frame: &[u8]) -> Option<(usize, usize, usize)> {
    let ip = frame.get(IP_AT..)?;
    if ip.len() < 20 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2));
    if ip.len() < ihl || ihl > total || ip.len() < total || ihl != 20 {
        return None;
    }
    if ip[9] != u8::from(IpProtocol::Tcp) || be16(ip, 6) & 0x2000 != 0 {
        return None;
    }
    let tcp = &ip[20..total];
    let hlen = usize::from(tcp.get(12)? >> 4) * 4;
    if tcp.len() < 20 || tcp.len() < hlen || hlen < 20 {
        return None;
    }
    Some((IP_AT + 20, hlen, tcp.len() - hlen))
}

/// [`tcp_at`] through smoltcp's packet views (the tests' reference).
#[cfg(test)]
fn tcp_at_checked(frame: &[u8]) -> Option<(usize, usize, usize)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp || ip.header_len() != 20 || ip.more_frags() {
        return None;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    let tcp_len = tcp.header_len() as usize;
    Some((IP_AT + 20, tcp_len, tcp.payload().len()))
}

/// Appends `next`'s data to `last` when `next` continues it (the same flow, headers and
/// options, its sequence number right after `last`'s data, `last` an ACK-only data segment,
/// the sum within 64 KiB), as Linux's TCP would have sent them as one GSO packet; `false`:
/// `last` is unchanged. The IP length and header checksum are updated; the TCP checksum is
/// left as it was, for the caller to fill in once the packet is whole (the data is summed
/// once, not once a segment).
pub fn coalesce(last: &mut Vec<u8>, next: &[u8]) -> bool {
    let (Some((at, hlen, l_data)), Some((n_at, n_hlen, n_data))) = (tcp_at(last), tcp_at(next))
    else {
        return false;
    };
    let flags = at + 13;
    let continues = n_at == at
        && n_hlen == hlen
        && l_data > 0
        && n_data > 0
        && last.len() == at + hlen + l_data
        && next.len() == at + hlen + n_data
        && last.len() + n_data <= MAX_SUPER_FRAME
        && last[flags] & ENDS == 0
        && next[flags] & (ENDS & !0x01 & !0x08) == 0
        // Ethernet, IP addresses, ports; acknowledgement, window, options.
        && last[..IP_AT] == next[..IP_AT]
        && last[IP_AT + 12..at + 4] == next[IP_AT + 12..at + 4]
        && last[at + 8..flags] == next[at + 8..flags]
        && last[at + 14..at + 16] == next[at + 14..at + 16]
        && last[at + 18..at + hlen] == next[at + 18..at + hlen]
        && be32(next, at + 4) == be32(last, at + 4).wrapping_add(l_data as u32);
    if !continues {
        return false;
    }
    last[flags] = next[flags];
    let old_total = be16(last, IP_AT + 2);
    let new_total = old_total + n_data as u16;
    last[IP_AT + 2..IP_AT + 4].copy_from_slice(&new_total.to_be_bytes());
    let ip_check = Delta::default()
        .word(old_total, new_total)
        .apply(be16(last, IP_AT + 10));
    last[IP_AT + 10..IP_AT + 12].copy_from_slice(&ip_check.to_be_bytes());
    last.extend_from_slice(&next[at + hlen..]);
    true
}

#[cfg(test)]
pub(super) mod tests;
