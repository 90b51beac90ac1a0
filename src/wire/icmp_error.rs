//! ICMPv4 error translation for NAT (RFC 3022 section 4.3, RFC 5508).
//!
//! An ICMP error (RFC 792: destination unreachable, including fragmentation needed, time
//! exceeded, parameter problem) about a translated flow quotes the packet as translated: its IPv4
//! header and at least the first 8 bytes of its transport header (routers quote up to 576 bytes,
//! RFC 1812 section 4.3.2.3). The director finds the connection from the quoted flow
//! ([`inner_flow`]), translates the quote back ([`rewrite_inner_src`], [`rewrite_inner_dst`]) and
//! then the outer header with [`rewrite_ip_src`](super::checksum::rewrite_ip_src) or
//! [`rewrite_ip_dst`](super::checksum::rewrite_ip_dst) (the ICMP checksum has no pseudo-header).
//!
//! The ICMP checksum is updated incrementally, not recomputed: the words the translation writes
//! are known (inner address, inner header checksum, port, inner transport checksum), so the cost
//! does not grow with the quote, and a message that arrived corrupt stays detectably corrupt
//! instead of being re-signed by the director. The caller may verify the checksum first.
//!
//! Buffers start at the outer IPv4 header. No allocation, no panic on any input; an error leaves
//! the buffer unchanged. This module must not import anything outside `wire`.

use super::checksum::{
    Delta, End, Mode, RewriteError, check_offset, checked_ip, get_u16, rewrite_port, set_ip_addr,
};
use super::{IpProtocol, Ipv4Packet};
use core::net::Ipv4Addr;
use smoltcp::wire::{IPV4_HEADER_LEN, Icmpv4Message, Icmpv4Packet};

/// Length of the ICMP header before the quoted datagram (type, code, checksum, 4 more bytes).
const ICMP_HEADER_LEN: usize = 8;
/// Transport bytes an ICMP error quotes at least (RFC 792).
const MIN_QUOTED_TRANSPORT: usize = 8;

/// Whether an ICMPv4 type is an error that quotes the offending datagram and is translated here:
/// destination unreachable (3), time exceeded (11) or parameter problem (12). Redirect and the
/// deprecated source quench (RFC 6633) are not.
pub fn is_icmp_error(msg_type: u8) -> bool {
    matches!(
        Icmpv4Message::from(msg_type),
        Icmpv4Message::DstUnreachable | Icmpv4Message::TimeExceeded | Icmpv4Message::ParamProblem
    )
}

/// The flow of the datagram an ICMP error quotes, as quoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InnerFlow {
    /// TCP or UDP.
    pub protocol: IpProtocol,
    pub src: Ipv4Addr,
    pub src_port: u16,
    pub dst: Ipv4Addr,
    pub dst_port: u16,
}

/// Where the parts of a checked ICMP error lie in the buffer.
#[derive(Debug, Clone, Copy)]
struct Quote {
    /// Start of the ICMP message.
    icmp: usize,
    /// End of the ICMP message (the outer total length).
    end: usize,
    /// Length of the quoted IPv4 header.
    inner_header_len: usize,
    /// The quoted datagram's protocol, TCP or UDP.
    protocol: IpProtocol,
}

impl Quote {
    fn inner(&self) -> usize {
        self.icmp + ICMP_HEADER_LEN
    }

    fn transport(&self) -> usize {
        self.inner() + self.inner_header_len
    }
}

/// Checks the whole message once; after this, every offset in [`Quote`] is inside the buffer.
fn locate(packet: &[u8]) -> Result<Quote, RewriteError> {
    let ip = checked_ip(packet)?;
    if ip.next_header() != IpProtocol::Icmp {
        return Err(RewriteError::NotIcmpError);
    }
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Err(RewriteError::Fragment);
    }
    let icmp = usize::from(ip.header_len());
    let end = usize::from(ip.total_len());
    let message = packet.get(icmp..end).ok_or(RewriteError::Malformed)?;
    let Some(&msg_type) = message.first() else {
        return Err(RewriteError::Malformed);
    };
    if !is_icmp_error(msg_type) {
        return Err(RewriteError::NotIcmpError);
    }
    let quoted = message.get(ICMP_HEADER_LEN..).unwrap_or_default();
    if quoted.len() < IPV4_HEADER_LEN {
        return Err(RewriteError::BadQuote);
    }
    let inner = Ipv4Packet::new_unchecked(quoted);
    let inner_header_len = usize::from(inner.header_len());
    if inner.version() != 4
        || inner_header_len < IPV4_HEADER_LEN
        || quoted.len() < inner_header_len + MIN_QUOTED_TRANSPORT
    {
        return Err(RewriteError::BadQuote);
    }
    let protocol = inner.next_header();
    if check_offset(protocol).is_none() {
        return Err(RewriteError::NotTcpUdp(protocol));
    }
    // A quoted non-first fragment has no ports. A quoted first fragment is fine: its transport
    // checksum covers the whole datagram, and an incremental update is right for that too.
    if inner.frag_offset() != 0 {
        return Err(RewriteError::Fragment);
    }
    Ok(Quote {
        icmp,
        end,
        inner_header_len,
        protocol,
    })
}

/// Reads the flow of the datagram quoted by the ICMP error in `packet`.
pub fn inner_flow(packet: &[u8]) -> Result<InnerFlow, RewriteError> {
    let quote = locate(packet)?;
    let inner = Ipv4Packet::new_unchecked(&packet[quote.inner()..quote.transport()]);
    let transport = &packet[quote.transport()..quote.end];
    Ok(InnerFlow {
        protocol: quote.protocol,
        src: inner.src_addr(),
        src_port: get_u16(transport, 0).unwrap_or_default(),
        dst: inner.dst_addr(),
        dst_port: get_u16(transport, 2).unwrap_or_default(),
    })
}

/// Sets the quoted datagram's source address and port, updating the quoted IPv4 header checksum,
/// the quoted TCP/UDP checksum if the quote holds it (always for UDP; for TCP only when at least
/// 18 transport bytes are quoted: a checksum cut in half stays as quoted), and the ICMP checksum.
/// The outer header is not touched.
pub fn rewrite_inner_src(packet: &mut [u8], addr: Ipv4Addr, port: u16) -> Result<(), RewriteError> {
    rewrite_inner(packet, End::Src, addr, port)
}

/// Sets the quoted datagram's destination address and port; checksums as in
/// [`rewrite_inner_src`].
pub fn rewrite_inner_dst(packet: &mut [u8], addr: Ipv4Addr, port: u16) -> Result<(), RewriteError> {
    rewrite_inner(packet, End::Dst, addr, port)
}

fn rewrite_inner(
    packet: &mut [u8],
    end: End,
    addr: Ipv4Addr,
    port: u16,
) -> Result<(), RewriteError> {
    let quote = locate(packet)?;
    let message = &mut packet[quote.icmp..quote.end];
    let (icmp_header, quoted) = message.split_at_mut(ICMP_HEADER_LEN);
    let (inner_header, transport) = quoted.split_at_mut(quote.inner_header_len);
    let mut inner = Ipv4Packet::new_unchecked(inner_header);
    let old_inner_check = inner.checksum();
    let addr_delta = set_ip_addr(&mut inner, end, addr);
    let inner_check_delta = Delta::default().word(old_inner_check, inner.checksum());
    let transport_delta =
        rewrite_port(transport, quote.protocol, end, port, addr_delta, Mode::Full);
    // Every word written lies at an even offset of the ICMP message (8-byte ICMP header, header
    // lengths in 4-byte units), so the changes add straight into the ICMP checksum.
    let icmp_delta = addr_delta.plus(inner_check_delta).plus(transport_delta);
    let mut icmp = Icmpv4Packet::new_unchecked(icmp_header);
    icmp.set_checksum(icmp_delta.apply(icmp.checksum()));
    Ok(())
}

#[cfg(test)]
mod tests;
