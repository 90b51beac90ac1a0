//! Incremental Internet checksum updates (RFC 1624) and the in-place NAT rewrites built on them.
//!
//! IPVS masquerading changes one address and one port per packet; instead of summing the whole
//! segment again, the IP header and TCP/UDP checksums are adjusted for the changed 16-bit words
//! only: `HC' = ~(~HC + ~m + m')` (RFC 1624, eqn. 3) in ones-complement arithmetic.
//!
//! Everything here is a pure function on a byte slice that starts at the IPv4 header: no
//! allocation, no panic on any input. A buffer that cannot be rewritten is a [`RewriteError`] and
//! is left exactly as it was. This module must not import anything outside `wire`.
//!
//! # Exactness
//! For a packet whose checksums were correct, the result is bit-identical to a full recompute,
//! including the choice between the two ones-complement zeros: the intermediate sum is zero only
//! if every added word is zero, and a changed word always adds a non-zero `~m + m'`, so the
//! folded sum lands in `1..=0xffff` exactly like a full sum of non-zero data (the IPv4 version
//! nibble and the pseudo-header protocol make that data non-zero). Words that do not change are
//! skipped, so a rewrite to the same address and port leaves every byte as it was.
//!
//! # Partial transport checksums (`*_partial`)
//! A TAP opened with `IFF_VNET_HDR` and offloads hands over `CHECKSUM_PARTIAL` packets
//! (`VIRTIO_NET_HDR_F_NEEDS_CSUM`): the TCP/UDP checksum field holds the ones-complement sum of
//! the pseudo-header, folded to 16 bits and **not** complemented, and whoever transmits the
//! packet later sums the transport header and payload (field included, as is), folds, complements
//! and stores the result in the field. The `*_partial` rewrites keep that convention:
//! - an address change adds `~m + m'` to the field without the surrounding complements,
//!   `S' = S + ~m + m'`, which is Linux's `inet_proto_csum_replace4(.., pseudohdr = true)` on a
//!   `CHECKSUM_PARTIAL` skb; the field ends equal to the folded pseudo-header sum of the new
//!   addresses;
//! - a port change leaves the field alone: the port lies in the summed range and the device will
//!   sum its new value;
//! - UDP's "0 means no checksum" does not apply: a pseudo-header sum is never 0.
//!
//! The caller must have checked that the virtio header's `csum_start` is the end of the IPv4
//! header and `csum_offset` is 16 (TCP) or 6 (UDP). The IPv4 header checksum is always complete
//! (there is no IPv4 header checksum offload on this path) and is updated as usual.

use super::{IpProtocol, Ipv4Packet};
#[cfg(test)]
use super::{TcpPacket, UdpPacket};
use core::net::Ipv4Addr;

/// Why a buffer could not be rewritten. The buffer is unchanged whenever one is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// Not a well-formed IPv4 packet: shorter than its header, version not 4, or header and
    /// total lengths inconsistent with the buffer.
    #[error("malformed IPv4 header")]
    Malformed,
    /// An IPv4 fragment: a non-first fragment has no transport header and a first fragment's
    /// checksum covers bytes not in hand; reassemble before rewriting.
    #[error("IPv4 fragment")]
    Fragment,
    /// The transport protocol has no ports to rewrite (only TCP and UDP do).
    #[error("protocol {0} is not TCP or UDP")]
    NotTcpUdp(IpProtocol),
    /// The TCP or UDP header is shorter than its fixed part or its length fields disagree with
    /// the IPv4 total length.
    #[error("truncated TCP/UDP header")]
    TransportTruncated,
    /// Not an ICMPv4 error message (destination unreachable, time exceeded, parameter problem).
    #[error("not an ICMPv4 error message")]
    NotIcmpError,
    /// The ICMP error does not quote an IPv4 header followed by 8 bytes of its transport header.
    #[error("ICMP error quotes no usable IPv4 header and 8 transport bytes")]
    BadQuote,
}

/// The ones-complement difference `new - old` of some 16-bit words, folded to 16 bits.
///
/// Each changed word adds `~old + new`; an unchanged word adds nothing, so the value is zero
/// exactly when nothing changed. Folding after every addition keeps it within 16 bits, so no
/// number of words can overflow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Delta(u16);

impl Delta {
    /// Adds the change of one 16-bit word.
    pub(crate) fn word(self, old: u16, new: u16) -> Delta {
        if old == new {
            self
        } else {
            Delta(fold(u32::from(self.0) + u32::from(!old) + u32::from(new)))
        }
    }

    /// Adds the change of an IPv4 address (two 16-bit words).
    pub(crate) fn addr(self, old: Ipv4Addr, new: Ipv4Addr) -> Delta {
        let (o, n) = (old.octets(), new.octets());
        self.word(
            u16::from_be_bytes([o[0], o[1]]),
            u16::from_be_bytes([n[0], n[1]]),
        )
        .word(
            u16::from_be_bytes([o[2], o[3]]),
            u16::from_be_bytes([n[2], n[3]]),
        )
    }

    /// Adds the changes in `other`.
    pub(crate) fn plus(self, other: Delta) -> Delta {
        Delta(fold(u32::from(self.0) + u32::from(other.0)))
    }

    /// Applies the change to a complemented checksum field (RFC 1624, eqn. 3).
    pub(crate) fn apply(self, check: u16) -> u16 {
        !self.apply_to_sum(!check)
    }

    /// Applies the change to a non-complemented sum (a `CHECKSUM_PARTIAL` pseudo-header sum).
    pub(crate) fn apply_to_sum(self, sum: u16) -> u16 {
        fold(u32::from(sum) + u32::from(self.0))
    }
}

/// Finishes a partial transport checksum (see the module docs) in software, for a packet that
/// leaves without checksum offload: sums `data[start..]` with the field at `field` as it is (the
/// pseudo-header sum), folds, complements and stores the result in the field (0 is stored as
/// 0xffff, as the kernel does). False, leaving `data` untouched, when the field does not fit.
pub fn complete_partial(data: &mut [u8], start: usize, field: usize) -> bool {
    if start > field || field + 2 > data.len() {
        return false;
    }
    let check = match !sum(&data[start..]) {
        0 => 0xffff,
        c => c,
    };
    data[field..field + 2].copy_from_slice(&check.to_be_bytes());
    true
}

/// The ones-complement sum of `data` as big-endian 16-bit words (an odd last byte padded with
/// a zero), folded to 16 bits, not complemented: zero only if every byte is zero, as the sum
/// smoltcp folds, so a checksum made from it is the one smoltcp would make, to the bit. Summed
/// eight bytes at a time.
pub fn sum(data: &[u8]) -> u16 {
    // Native-endian words sum to the byte-swapped sum of big-endian ones (RFC 1071, 2.B).
    // 64-bit words into four 128-bit lanes (an add and an add-with-carry each): no lane can
    // overflow below 2^64 words.
    let mut lanes = [0u128; 4];
    let (blocks, rest) = data.as_chunks::<32>();
    for b in blocks {
        let (words, _) = b.as_chunks::<8>();
        for (lane, w) in lanes.iter_mut().zip(words) {
            *lane += u128::from(u64::from_ne_bytes(*w));
        }
    }
    let (words, rest) = rest.as_chunks::<8>();
    for w in words {
        lanes[0] += u128::from(u64::from_ne_bytes(*w));
    }
    let mut acc = fold_wide(lanes.iter().sum());
    let (pairs, last) = rest.as_chunks::<2>();
    for p in pairs {
        acc += u64::from(u16::from_ne_bytes(*p));
    }
    if let [last] = last {
        acc += u64::from(u16::from_ne_bytes([*last, 0]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    let folded = acc as u16;
    if cfg!(target_endian = "little") {
        folded.swap_bytes()
    } else {
        folded
    }
}

/// End-around carry of a 128-bit sum down to below 2^33 (zero only for zero; the same value
/// modulo 2^16 - 1).
fn fold_wide(total: u128) -> u64 {
    let (lo, hi) = (total as u64, (total >> 64) as u64);
    let (sum, carry) = lo.overflowing_add(hi);
    let acc = sum + u64::from(carry);
    (acc & 0xffff_ffff) + (acc >> 32)
}

/// Folds carries back into the low 16 bits (end-around carry). Zero only for a zero input.
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// A checksum field after one covered 16-bit word changed from `old` to `new` (RFC 1624 eqn. 3).
pub fn update_word(check: u16, old: u16, new: u16) -> u16 {
    Delta::default().word(old, new).apply(check)
}

/// A checksum field after a covered 32-bit value (an IPv4 address) changed from `old` to `new`.
pub fn update_addr(check: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    Delta::default().addr(old, new).apply(check)
}

/// A non-complemented ones-complement sum (a `CHECKSUM_PARTIAL` field) after a covered word
/// changed: `S' = S + ~m + m'`.
pub fn update_sum_word(sum: u16, old: u16, new: u16) -> u16 {
    Delta::default().word(old, new).apply_to_sum(sum)
}

/// A non-complemented ones-complement sum after a covered IPv4 address changed.
pub fn update_sum_addr(sum: u16, old: Ipv4Addr, new: Ipv4Addr) -> u16 {
    Delta::default().addr(old, new).apply_to_sum(sum)
}

/// Which end of a flow a rewrite changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Src,
    Dst,
}

/// How the TCP/UDP checksum field is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Complete and complemented, as on the wire.
    Full,
    /// `CHECKSUM_PARTIAL`: the folded, non-complemented pseudo-header sum.
    Partial,
}

/// Sets the destination address and TCP/UDP destination port, updating the IPv4 header checksum
/// and the transport checksum incrementally. A UDP checksum of 0 (none) stays 0.
#[cfg(test)]
pub fn rewrite_dst(packet: &mut [u8], addr: Ipv4Addr, port: u16) -> Result<(), RewriteError> {
    rewrite(packet, End::Dst, addr, port, Mode::Full)
}

/// Sets the source address and TCP/UDP source port; checksums as in [`rewrite_dst`].
#[cfg(test)]
pub fn rewrite_src(packet: &mut [u8], addr: Ipv4Addr, port: u16) -> Result<(), RewriteError> {
    rewrite(packet, End::Src, addr, port, Mode::Full)
}

/// [`rewrite_dst`] for a packet whose transport checksum is partial (see the module docs): the
/// field follows the address only, never the port.
#[cfg(test)]
pub fn rewrite_dst_partial(
    packet: &mut [u8],
    addr: Ipv4Addr,
    port: u16,
) -> Result<(), RewriteError> {
    rewrite(packet, End::Dst, addr, port, Mode::Partial)
}

/// [`rewrite_src`] for a packet whose transport checksum is partial (see the module docs).
#[cfg(test)]
pub fn rewrite_src_partial(
    packet: &mut [u8],
    addr: Ipv4Addr,
    port: u16,
) -> Result<(), RewriteError> {
    rewrite(packet, End::Src, addr, port, Mode::Partial)
}

/// Sets the destination address and the IPv4 header checksum only, for packets whose transport
/// checksum has no pseudo-header (ICMP) or is not to be touched. Fragments are fine.
pub fn rewrite_ip_dst(packet: &mut [u8], addr: Ipv4Addr) -> Result<(), RewriteError> {
    rewrite_ip(packet, End::Dst, addr)
}

/// Sets the source address and the IPv4 header checksum only; see [`rewrite_ip_dst`].
pub fn rewrite_ip_src(packet: &mut [u8], addr: Ipv4Addr) -> Result<(), RewriteError> {
    rewrite_ip(packet, End::Src, addr)
}

/// Decrements the TTL and updates the header checksum, if the TTL is above 1; returns whether it
/// was. A TTL of 0 or 1 is left as received (a router drops the packet and may quote it in a
/// time exceeded message): the caller decides.
pub fn decrement_ttl(packet: &mut [u8]) -> Result<bool, RewriteError> {
    let mut ip = checked_ip(packet)?;
    let ttl = ip.hop_limit();
    if ttl <= 1 {
        return Ok(false);
    }
    let proto = u8::from(ip.next_header());
    let delta = Delta::default().word(
        u16::from_be_bytes([ttl, proto]),
        u16::from_be_bytes([ttl - 1, proto]),
    );
    ip.set_hop_limit(ttl - 1);
    ip.set_checksum(delta.apply(ip.checksum()));
    Ok(true)
}

/// Why [`rewrite_routed`] left a packet as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoutedError {
    /// The TTL was 0 or 1: a router drops the packet.
    TtlExceeded,
    /// No TCP or UDP header fits where the caller said it starts.
    Rewrite(RewriteError),
}

/// A NAT rewrite of a packet the director routes, in one pass over headers the caller parsed
/// already (an unfragmented IPv4 packet whose header is `ihl` bytes and whose protocol is
/// `proto`): the TTL decremented and `end`'s address and port set, the IPv4 header checksum
/// updated once for both changes and the transport checksum once (`Mode::Partial`: the field
/// follows the address only, see the module docs). The lengths are checked against the buffer only, so nothing can
/// panic; nothing is written unless all of it is.
pub(crate) fn rewrite_routed(
    packet: &mut [u8],
    (ihl, proto): (usize, IpProtocol),
    (end, addr, port): (End, Ipv4Addr, u16),
    mode: Mode,
) -> Result<(), RoutedError> {
    let transport_len = match proto {
        IpProtocol::Tcp => 20,
        IpProtocol::Udp => 8,
        other => return Err(RoutedError::Rewrite(RewriteError::NotTcpUdp(other))),
    };
    if ihl < 20 || packet.len() < ihl + transport_len {
        return Err(RoutedError::Rewrite(RewriteError::TransportTruncated));
    }
    let ttl = packet[8];
    if ttl <= 1 {
        return Err(RoutedError::TtlExceeded);
    }
    let at = match end {
        End::Src => 12,
        End::Dst => 16,
    };
    let old = Ipv4Addr::new(packet[at], packet[at + 1], packet[at + 2], packet[at + 3]);
    let addr_delta = Delta::default().addr(old, addr);
    let ttl_word = |ttl: u8| u16::from_be_bytes([ttl, packet[9]]);
    let ip_delta = addr_delta.word(ttl_word(ttl), ttl_word(ttl - 1));
    rewrite_port(&mut packet[ihl..], proto, end, port, addr_delta, mode);
    packet[8] = ttl - 1;
    packet[at..at + 4].copy_from_slice(&addr.octets());
    let check = u16::from_be_bytes([packet[10], packet[11]]);
    packet[10..12].copy_from_slice(&ip_delta.apply(check).to_be_bytes());
    Ok(())
}

/// Whether an IPv4 header (`header`: exactly its IHL × 4 bytes) has a right checksum, as
/// smoltcp's `Ipv4Packet::verify_checksum` says ([`sum`], eight bytes at a time).
#[inline]
pub fn ipv4_header_ok(header: &[u8]) -> bool {
    sum(header) == 0xffff
}

/// Parses the IPv4 header at the edge: after this no accessor of the view can panic.
pub(crate) fn checked_ip<T: AsRef<[u8]>>(packet: T) -> Result<Ipv4Packet<T>, RewriteError> {
    let ip = Ipv4Packet::new_checked(packet).map_err(|_| RewriteError::Malformed)?;
    if ip.version() != 4 {
        return Err(RewriteError::Malformed);
    }
    Ok(ip)
}

/// Replaces one address of a checked IPv4 header, updates its checksum and returns the address
/// change (for pseudo-headers).
pub(crate) fn set_ip_addr(ip: &mut Ipv4Packet<&mut [u8]>, end: End, addr: Ipv4Addr) -> Delta {
    let old = match end {
        End::Src => ip.src_addr(),
        End::Dst => ip.dst_addr(),
    };
    let delta = Delta::default().addr(old, addr);
    match end {
        End::Src => ip.set_src_addr(addr),
        End::Dst => ip.set_dst_addr(addr),
    }
    ip.set_checksum(delta.apply(ip.checksum()));
    delta
}

fn rewrite_ip(packet: &mut [u8], end: End, addr: Ipv4Addr) -> Result<(), RewriteError> {
    let mut ip = checked_ip(packet)?;
    set_ip_addr(&mut ip, end, addr);
    Ok(())
}

/// Reads the big-endian 16-bit word at `at`, if `buf` holds it.
pub(crate) fn get_u16(buf: &[u8], at: usize) -> Option<u16> {
    let bytes = buf.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}

/// Writes the big-endian 16-bit word at `at`, if `buf` holds it.
fn set_u16(buf: &mut [u8], at: usize, value: u16) {
    if let Some(bytes) = at.checked_add(2).and_then(|end| buf.get_mut(at..end)) {
        bytes.copy_from_slice(&value.to_be_bytes());
    }
}

/// Offset of the checksum field in a TCP (16) or UDP (6) header; `None` for other protocols.
pub(crate) fn check_offset(proto: IpProtocol) -> Option<usize> {
    match proto {
        IpProtocol::Tcp => Some(16),
        IpProtocol::Udp => Some(6),
        _ => None,
    }
}

/// Sets one port of the TCP/UDP header at the start of `seg` and updates its checksum for the
/// port change plus the pseudo-header change `addr`, if `seg` holds the field.
///
/// With `Mode::Full` a UDP checksum of 0 (none) stays 0 and a result of 0 is written as 0xffff;
/// with `Mode::Partial` the field follows `addr` only (module docs). Fields `seg` does not hold
/// are skipped, which is what an ICMP quote of 8 bytes of TCP needs. Returns the change of the
/// words written, for an enclosing checksum (ICMP's).
pub(crate) fn rewrite_port(
    seg: &mut [u8],
    proto: IpProtocol,
    end: End,
    port: u16,
    addr: Delta,
    mode: Mode,
) -> Delta {
    let Some(check_at) = check_offset(proto) else {
        return Delta::default();
    };
    let port_at = match end {
        End::Src => 0,
        End::Dst => 2,
    };
    let Some(old_port) = get_u16(seg, port_at) else {
        return Delta::default();
    };
    set_u16(seg, port_at, port);
    let mut written = Delta::default().word(old_port, port);
    if let Some(check) = get_u16(seg, check_at) {
        let new = match mode {
            Mode::Partial => addr.apply_to_sum(check),
            Mode::Full if proto == IpProtocol::Udp && check == 0 => 0,
            Mode::Full => match addr.plus(written).apply(check) {
                0 if proto == IpProtocol::Udp => 0xffff,
                new => new,
            },
        };
        set_u16(seg, check_at, new);
        written = written.word(check, new);
    }
    written
}

#[cfg(test)]
fn rewrite(
    packet: &mut [u8],
    end: End,
    addr: Ipv4Addr,
    port: u16,
    mode: Mode,
) -> Result<(), RewriteError> {
    let mut ip = checked_ip(packet)?;
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(RewriteError::Fragment);
    }
    // Everything is checked before anything is written, so an error leaves the buffer as it was.
    let proto = ip.next_header();
    let fits = match proto {
        IpProtocol::Tcp => TcpPacket::new_checked(ip.payload_mut()).is_ok(),
        IpProtocol::Udp => UdpPacket::new_checked(ip.payload_mut()).is_ok(),
        other => return Err(RewriteError::NotTcpUdp(other)),
    };
    if !fits {
        return Err(RewriteError::TransportTruncated);
    }
    let old_addr = match end {
        End::Src => ip.src_addr(),
        End::Dst => ip.dst_addr(),
    };
    let addr_delta = Delta::default().addr(old_addr, addr);
    rewrite_port(ip.payload_mut(), proto, end, port, addr_delta, mode);
    set_ip_addr(&mut ip, end, addr);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
