//! VRRP version 3 (RFC 5798) over IPv4: the advertisement message, and whole Ethernet + IPv4 +
//! VRRP frames as two directors exchange them.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |Version| Type  | Virtual Rtr ID|   Priority    |Count IPvX Addr|
//! |(rsvd) |     Max Adver Int     |          Checksum             |
//! |                  IPv4 address(es), 4 bytes each               |
//! ```
//! The checksum covers the VRRP message plus the IPv4 pseudo-header (source, destination,
//! protocol 112, message length). Adverts go to 224.0.0.18 (01:00:5e:00:00:12) with TTL 255; a
//! receiver drops any whose TTL is not 255 ([`parse_frame`] does).
//!
//! As in smoltcp: [`VrrpPacket::new_checked`] checks lengths once, after which no accessor
//! panics; [`VrrpRepr`] is the checked, owned form (`parse`, `buffer_len`, `emit`). Nothing here
//! allocates. This module must not import anything outside `wire` and smoltcp.

use super::{
    ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet,
};
use core::fmt;
use core::net::Ipv4Addr;
use smoltcp::wire::{IPV4_HEADER_LEN, Ipv4Repr, checksum};

/// IP protocol number of VRRP.
pub const PROTOCOL: u8 = 112;
/// The IPv4 multicast group of VRRP adverts.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The Ethernet address of [`GROUP`] (01:00:5e + the low 23 bits of the group).
pub const GROUP_MAC: EthernetAddress = EthernetAddress([0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]);
/// The only TTL an advert may carry: it proves the sender is on the link.
pub const TTL: u8 = 255;
/// The protocol version this module speaks.
pub const VERSION: u8 = 3;
/// The only VRRPv3 message type.
pub const TYPE_ADVERTISEMENT: u8 = 1;
/// Length of the fixed header, before the addresses.
pub const HEADER_LEN: usize = 8;
/// Most addresses a [`VrrpRepr`] holds (a fixed array, no allocation).
pub const MAX_ADDRESSES: usize = 16;
/// Largest Max Adver Int: a 12-bit field, in centiseconds (40.95 s).
pub const MAX_ADVERT_INT_CS: u16 = 0x0fff;
/// The DSCP keepalived puts on adverts: class selector 6 ("internetwork control", TOS 0xc0).
const DSCP_CS6: u8 = 48;

mod field {
    use core::ops::Range;
    pub const VERSION_TYPE: usize = 0;
    pub const VRID: usize = 1;
    pub const PRIORITY: usize = 2;
    pub const COUNT: usize = 3;
    pub const MAX_ADVERT_INT: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const ADDRESSES: usize = 8;
}

/// Why a buffer is not a usable VRRPv3 advert (or frame carrying one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VrrpError {
    /// Shorter than the 8-byte header, or than the header plus `count` addresses.
    #[error("truncated VRRP message")]
    Truncated,
    /// The version nibble is not 3.
    #[error("VRRP version {0}, expected 3")]
    Version(u8),
    /// The type nibble is not 1 (ADVERTISEMENT).
    #[error("VRRP type {0}, expected 1 (advertisement)")]
    Type(u8),
    /// The message (the IPv4 payload) is longer than the header plus `count` addresses.
    #[error("VRRP message of {len} bytes does not hold exactly {count} addresses")]
    Length { count: u8, len: usize },
    /// More addresses than [`MAX_ADDRESSES`]: valid on the wire, but not representable here.
    #[error("{0} addresses in one advert, at most {MAX_ADDRESSES} supported")]
    TooManyAddresses(u8),
    /// The checksum (message plus IPv4 pseudo-header) does not verify.
    #[error("bad VRRP checksum")]
    Checksum,
    /// The Ethernet frame is truncated or does not carry IPv4.
    #[error("not an IPv4 frame")]
    NotIpv4,
    /// The IPv4 header is malformed (lengths, version, header checksum) or the packet is a
    /// fragment.
    #[error("malformed or fragmented IPv4 packet")]
    Ipv4,
    /// The IPv4 packet is not VRRP (protocol 112).
    #[error("IP protocol {0} is not VRRP")]
    NotVrrp(u8),
    /// The TTL is not 255: the advert may come from off the link (RFC 5798 §7.1).
    #[error("VRRP advert with TTL {0}, expected 255")]
    Ttl(u8),
    /// The output buffer cannot hold the frame.
    #[error("buffer of {got} bytes, frame needs {needed}")]
    BufferTooSmall { needed: usize, got: usize },
}

/// A read/write view of a VRRPv3 message (the IPv4 payload, exactly).
#[derive(Debug, Clone)]
pub struct VrrpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> VrrpPacket<T> {
    /// Wraps a buffer without checks: accessors may panic on a short buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        VrrpPacket { buffer }
    }

    /// Wraps a buffer after [`VrrpPacket::check_len`]; no accessor panics afterwards.
    pub fn new_checked(buffer: T) -> Result<Self, VrrpError> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the header and the `count` addresses it announces.
    pub fn check_len(&self) -> Result<(), VrrpError> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN || len < self.message_len() {
            return Err(VrrpError::Truncated);
        }
        Ok(())
    }

    /// Unwraps the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version nibble.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_TYPE] >> 4
    }

    /// The type nibble.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION_TYPE] & 0x0f
    }

    /// The virtual router id.
    pub fn vrid(&self) -> u8 {
        self.buffer.as_ref()[field::VRID]
    }

    /// The sender's priority (0: the master is stopping; 255: the address owner).
    pub fn priority(&self) -> u8 {
        self.buffer.as_ref()[field::PRIORITY]
    }

    /// Count IPvX Addr.
    pub fn addr_count(&self) -> u8 {
        // `get`: `message_len`, which `check_len` uses, may read this on an empty buffer.
        self.buffer.as_ref().get(field::COUNT).copied().unwrap_or(0)
    }

    /// Max Adver Int in centiseconds (the low 12 bits; the reserved nibble is ignored).
    pub fn max_advert_int(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::MAX_ADVERT_INT];
        u16::from_be_bytes([b[0], b[1]]) & MAX_ADVERT_INT_CS
    }

    /// The checksum field.
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer.as_ref()[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }

    /// Header plus `count` addresses: the length the message claims.
    pub fn message_len(&self) -> usize {
        HEADER_LEN + 4 * usize::from(self.addr_count())
    }

    /// The `index`th address, if `index < count`.
    pub fn address(&self, index: usize) -> Option<Ipv4Addr> {
        if index >= usize::from(self.addr_count()) {
            return None;
        }
        let at = field::ADDRESSES + 4 * index;
        let b = self.buffer.as_ref().get(at..at + 4)?;
        Some(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    }

    /// The announced addresses, in wire order.
    pub fn addresses(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        (0..usize::from(self.addr_count())).filter_map(|i| self.address(i))
    }

    /// Whether the checksum over the first [`VrrpPacket::message_len`] bytes and the
    /// pseudo-header for `src` → `dst` verifies.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        self.sum(src, dst) == 0xffff
    }

    /// The ones-complement sum (not complemented) of the pseudo-header and the message as it
    /// stands, checksum field included.
    fn sum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u16 {
        let len = self.message_len();
        let message = &self.buffer.as_ref()[..len];
        checksum::combine(&[
            checksum::pseudo_header_v4(&src, &dst, IpProtocol::from(PROTOCOL), len as u32),
            checksum::data(message),
        ])
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> VrrpPacket<T> {
    /// Sets the version and type nibbles.
    pub fn set_version_type(&mut self, version: u8, msg_type: u8) {
        self.buffer.as_mut()[field::VERSION_TYPE] = (version << 4) | (msg_type & 0x0f);
    }

    /// Sets the virtual router id.
    pub fn set_vrid(&mut self, vrid: u8) {
        self.buffer.as_mut()[field::VRID] = vrid;
    }

    /// Sets the priority.
    pub fn set_priority(&mut self, priority: u8) {
        self.buffer.as_mut()[field::PRIORITY] = priority;
    }

    /// Sets Count IPvX Addr.
    pub fn set_addr_count(&mut self, count: u8) {
        self.buffer.as_mut()[field::COUNT] = count;
    }

    /// Sets Max Adver Int (centiseconds, 12 bits) with the reserved nibble zero.
    pub fn set_max_advert_int(&mut self, centiseconds: u16) {
        let value = centiseconds & MAX_ADVERT_INT_CS;
        self.buffer.as_mut()[field::MAX_ADVERT_INT].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the `index`th address (panics if the buffer is too short for it).
    pub fn set_address(&mut self, index: usize, addr: Ipv4Addr) {
        let at = field::ADDRESSES + 4 * index;
        self.buffer.as_mut()[at..at + 4].copy_from_slice(&addr.octets());
    }

    /// Computes and stores the checksum for `src` → `dst`.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let sum = self.sum(src, dst);
        self.set_checksum(!sum);
    }
}

/// The addresses of an advert: a fixed array and a count, compared as the used part only.
#[derive(Clone, Copy)]
pub struct AddressList {
    addrs: [Ipv4Addr; MAX_ADDRESSES],
    len: u8,
}

impl AddressList {
    /// An empty list.
    pub const fn new() -> Self {
        AddressList {
            addrs: [Ipv4Addr::UNSPECIFIED; MAX_ADDRESSES],
            len: 0,
        }
    }

    /// A list of `addrs`, or `None` if there are more than [`MAX_ADDRESSES`].
    pub fn from_slice(addrs: &[Ipv4Addr]) -> Option<Self> {
        let mut list = AddressList::new();
        for addr in addrs {
            list.push(*addr).ok()?;
        }
        Some(list)
    }

    /// Appends `addr`; gives it back when full.
    pub fn push(&mut self, addr: Ipv4Addr) -> Result<(), Ipv4Addr> {
        let slot = self.addrs.get_mut(usize::from(self.len)).ok_or(addr)?;
        *slot = addr;
        self.len += 1;
        Ok(())
    }

    /// The addresses, in order.
    pub fn as_slice(&self) -> &[Ipv4Addr] {
        &self.addrs[..usize::from(self.len)]
    }

    /// How many addresses.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether both lists hold the same addresses, in any order (duplicates ignored).
    pub fn same_set(&self, other: &AddressList) -> bool {
        let (a, b) = (self.as_slice(), other.as_slice());
        a.iter().all(|x| b.contains(x)) && b.iter().all(|x| a.contains(x))
    }
}

impl Default for AddressList {
    fn default() -> Self {
        AddressList::new()
    }
}

impl PartialEq for AddressList {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for AddressList {}

impl fmt::Debug for AddressList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// A checked VRRPv3 advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpRepr {
    /// Virtual router id.
    pub vrid: u8,
    /// Sender's priority: 0 = the master is stopping, 255 = the address owner.
    pub priority: u8,
    /// Max Adver Int, centiseconds; only the low 12 bits go on the wire.
    pub max_advert_int_cs: u16,
    /// The virtual addresses.
    pub addresses: AddressList,
}

impl VrrpRepr {
    /// Checks an advert received from `src` for `dst` (the IPv4 addresses, for the checksum):
    /// version 3, type 1, a length of exactly the header plus `count` addresses, and the
    /// checksum.
    pub fn parse<T: AsRef<[u8]>>(
        packet: &VrrpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) -> Result<VrrpRepr, VrrpError> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(VrrpError::Version(packet.version()));
        }
        if packet.msg_type() != TYPE_ADVERTISEMENT {
            return Err(VrrpError::Type(packet.msg_type()));
        }
        let len = packet.buffer.as_ref().len();
        if len != packet.message_len() {
            return Err(VrrpError::Length {
                count: packet.addr_count(),
                len,
            });
        }
        if !packet.verify_checksum(src, dst) {
            return Err(VrrpError::Checksum);
        }
        if usize::from(packet.addr_count()) > MAX_ADDRESSES {
            return Err(VrrpError::TooManyAddresses(packet.addr_count()));
        }
        let mut addresses = AddressList::new();
        for addr in packet.addresses() {
            // Cannot fail: the count was checked against the capacity just above.
            let _ = addresses.push(addr);
        }
        Ok(VrrpRepr {
            vrid: packet.vrid(),
            priority: packet.priority(),
            max_advert_int_cs: packet.max_advert_int(),
            addresses,
        })
    }

    /// Length of the emitted message.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + 4 * self.addresses.len()
    }

    /// Writes the advert, checksum included, into the first [`VrrpRepr::buffer_len`] bytes of
    /// `packet`. Panics, like smoltcp's `emit`, if the buffer is shorter than that.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(
        &self,
        packet: &mut VrrpPacket<T>,
        src: Ipv4Addr,
        dst: Ipv4Addr,
    ) {
        debug_assert!(self.max_advert_int_cs <= MAX_ADVERT_INT_CS);
        packet.set_version_type(VERSION, TYPE_ADVERTISEMENT);
        packet.set_vrid(self.vrid);
        packet.set_priority(self.priority);
        packet.set_addr_count(self.addresses.len);
        packet.set_max_advert_int(self.max_advert_int_cs);
        for (i, addr) in self.addresses.as_slice().iter().enumerate() {
            packet.set_address(i, *addr);
        }
        packet.fill_checksum(src, dst);
    }
}

/// A VRRP advert taken from a whole Ethernet frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrrpFrame {
    pub src_mac: EthernetAddress,
    pub dst_mac: EthernetAddress,
    /// The sender's primary address: the tie-breaker between equal priorities.
    pub src: Ipv4Addr,
    /// [`GROUP`] for multicast adverts, or a unicast peer's address (keepalived `unicast_peer`).
    pub dst: Ipv4Addr,
    pub repr: VrrpRepr,
}

/// Length of the Ethernet + IPv4 + VRRP frame [`emit_frame`] writes for `repr`.
pub fn frame_len(repr: &VrrpRepr) -> usize {
    ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + repr.buffer_len()
}

/// Writes the Ethernet + IPv4 + VRRP frame of `repr` from `src_mac`/`src` to [`GROUP`]
/// ([`GROUP_MAC`]), TTL 255, TOS 0xc0, every checksum filled, and returns its length (no
/// Ethernet padding: the TAP does not need it). Allocates nothing.
pub fn emit_frame(
    buf: &mut [u8],
    src_mac: EthernetAddress,
    src: Ipv4Addr,
    repr: &VrrpRepr,
) -> Result<usize, VrrpError> {
    emit_frame_to(buf, (src_mac, src), (GROUP_MAC, GROUP), repr)
}

/// [`emit_frame`] to any destination: a unicast peer (keepalived's `unicast_peer`: its MAC and
/// address) or the group. TTL 255 either way, as keepalived sends unicast adverts by default,
/// so a receiver can keep requiring 255 (the peer is on the link).
pub fn emit_frame_to(
    buf: &mut [u8],
    (src_mac, src): (EthernetAddress, Ipv4Addr),
    (dst_mac, dst): (EthernetAddress, Ipv4Addr),
    repr: &VrrpRepr,
) -> Result<usize, VrrpError> {
    let needed = frame_len(repr);
    let got = buf.len();
    let frame = buf
        .get_mut(..needed)
        .ok_or(VrrpError::BufferTooSmall { needed, got })?;
    let ip_repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::from(PROTOCOL),
        payload_len: repr.buffer_len(),
        hop_limit: TTL,
    };
    let mut ip = super::emit_ipv4_frame(frame, (src_mac, dst_mac), &ip_repr);
    ip.set_dscp(DSCP_CS6);
    ip.fill_checksum();
    repr.emit(&mut VrrpPacket::new_unchecked(ip.payload_mut()), src, dst);
    Ok(needed)
}

/// Parses a whole Ethernet frame as a VRRPv3 advert: IPv4 (well-formed, header checksum
/// good, not a fragment), protocol 112, TTL 255, then [`VrrpRepr::parse`]. Trailing Ethernet
/// padding is ignored (the IPv4 total length bounds the message).
pub fn parse_frame(frame: &[u8]) -> Result<VrrpFrame, VrrpError> {
    let eth = EthernetFrame::new_checked(frame).map_err(|_| VrrpError::NotIpv4)?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return Err(VrrpError::NotIpv4);
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).map_err(|_| VrrpError::Ipv4)?;
    if ip.version() != 4 || !ip.verify_checksum() || ip.more_frags() || ip.frag_offset() != 0 {
        return Err(VrrpError::Ipv4);
    }
    let protocol = u8::from(ip.next_header());
    if protocol != PROTOCOL {
        return Err(VrrpError::NotVrrp(protocol));
    }
    if ip.hop_limit() != TTL {
        return Err(VrrpError::Ttl(ip.hop_limit()));
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let packet = VrrpPacket::new_checked(ip.payload())?;
    let repr = VrrpRepr::parse(&packet, src, dst)?;
    Ok(VrrpFrame {
        src_mac: eth.src_addr(),
        dst_mac: eth.dst_addr(),
        src,
        dst,
        repr,
    })
}

#[cfg(test)]
mod tests;
