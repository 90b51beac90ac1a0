//! The TCP checksums of a simulated host's frames, done here rather than by smoltcp (its
//! device reports TCP checksum offload, [`super::device`]): smoltcp sums two bytes at a
//! time, [`sum`] (`wire::checksum`'s) eight, and a frame's checksum is the same value either way.
//! Frames out get theirs filled in once whole (after the segments of a GSO packet are
//! joined, so its data is summed once); frames in are verified before
//! smoltcp takes them, and one that fails is dropped where smoltcp would have dropped it.
//! Must not import the hosts.

use crate::wire::fields::be16;
use smoltcp::wire::IpProtocol;
#[cfg(test)]
use smoltcp::wire::{EthernetFrame, EthernetProtocol, Ipv4Packet};

/// Where the TCP checksum field is in a TCP header.
const CHECK_AT: usize = 16;

pub use crate::wire::checksum::sum;

/// End-around carry down to 16 bits: zero only for zero.
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc as u16
}

/// A TCP segment in IPv4 in Ethernet, as smoltcp reads one: where the segment starts and
/// ends in the frame (the IP total length's end, not the frame's) and its pseudo-header sum.
/// The checks of smoltcp's `new_checked` for the Ethernet frame and the IPv4 packet, read off
/// the bytes (as [`segment_checked`] does through smoltcp).
fn segment(frame: &[u8]) -> Option<(usize, usize, u16)> {
    const IP_AT: usize = 14;
    let ip = frame.get(IP_AT..)?;
    if frame[12..14] != [0x08, 0x00] || ip.len() < 20 {
        return None;
    }
    let ihl = usize::from(ip[0] & 0x0f) * 4;
    let total = usize::from(be16(ip, 2));
    if ip.len() < ihl || ihl > total || ip.len() < total || ihl < 20 {
        return None;
    }
    if ip[9] != u8::from(IpProtocol::Tcp) {
        return None;
    }
    let len = total - ihl;
    let words = [
        be16(ip, 12),
        be16(ip, 14),
        be16(ip, 16),
        be16(ip, 18),
        u16::from(u8::from(IpProtocol::Tcp)),
        // smoltcp's pseudo-header takes the length as 16 bits.
        len as u16,
    ];
    let pseudo = fold(words.iter().map(|&w| u64::from(w)).sum());
    Some((IP_AT + ihl, IP_AT + total, pseudo))
}

/// [`segment`] through smoltcp's packet views (the tests' reference).
#[cfg(test)]
pub(super) fn segment_checked(frame: &[u8]) -> Option<(usize, usize, u16)> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    let start = EthernetFrame::<&[u8]>::header_len() + usize::from(ip.header_len());
    let len = ip.payload().len();
    let (src, dst) = (ip.src_addr().octets(), ip.dst_addr().octets());
    let words = [
        u16::from_be_bytes([src[0], src[1]]),
        u16::from_be_bytes([src[2], src[3]]),
        u16::from_be_bytes([dst[0], dst[1]]),
        u16::from_be_bytes([dst[2], dst[3]]),
        u16::from(u8::from(IpProtocol::Tcp)),
        // smoltcp's pseudo-header takes the length as 16 bits.
        len as u16,
    ];
    let pseudo = fold(words.iter().map(|&w| u64::from(w)).sum());
    Some((start, start + len, pseudo))
}

/// Fills in the TCP checksum of a frame (whatever its field held); other frames are left as
/// they are.
pub fn fill(frame: &mut [u8]) {
    let Some((start, end, pseudo)) = segment(frame) else {
        return;
    };
    if end - start < CHECK_AT + 2 {
        return;
    }
    frame[start + CHECK_AT..start + CHECK_AT + 2].fill(0);
    let total = fold(u64::from(pseudo) + u64::from(sum(&frame[start..end])));
    frame[start + CHECK_AT..start + CHECK_AT + 2].copy_from_slice(&(!total).to_be_bytes());
}

/// Whether smoltcp, verifying, would take the frame past the TCP checksum: a TCP segment
/// whose checksum is right, or any other frame.
pub fn verify(frame: &[u8]) -> bool {
    match segment(frame) {
        Some((start, end, pseudo)) => {
            fold(u64::from(pseudo) + u64::from(sum(&frame[start..end]))) == 0xffff
        }
        None => true,
    }
}

/// Makes a copy of `frame` (into `out`) that smoltcp drops at the TCP header, as it drops a
/// segment whose checksum is wrong: the data offset set to zero. `false` for a frame that
/// is no TCP segment.
pub fn spoil(frame: &[u8], out: &mut Vec<u8>) -> bool {
    let Some((start, end, _)) = segment(frame) else {
        return false;
    };
    out.clear();
    out.extend_from_slice(frame);
    if end - start > 12 {
        // The data offset's nibble: a header "shorter" than 20 bytes fails to parse.
        out[start + 12] &= 0x0f;
    }
    true
}

#[cfg(test)]
mod tests;
