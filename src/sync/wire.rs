//! The connection-sync UDP payload: IPVS sync version 1 messages, plus our control messages.
//!
//! ```text
//! header (8 bytes)
//! | reserved = 0 | syncid | size (whole message) | nr_conns | version = 1 | seq (IPVS: spare) |
//! IPv4 entry (36 bytes, options after it counted in its length, padded to 4)
//! | type = 0 | protocol | ver_size (version 0 << 12 | length) | flags (u32) |
//! | state | cport | vport | dport | fwmark (u32) | timeout s (u32) | caddr | vaddr | daddr |
//! control message (ours): nr_conns = 0 and a 4-byte body
//! | kind (1 BULK_REQUEST, 2 ACK, 3 BULK_DONE) | 0 | value (u16) |
//! ```
//! All fields in network byte order. The director frames Ethernet/IPv4/UDP (224.0.0.81:8848,
//! TTL 1) itself; this module sees the UDP payload only.
//!
//! Our sequence number rides in the header's `spare` field, which the kernel sends as 0. Note
//! that a Linux backup (`ip_vs_process_message`) only takes a message as version 1 when `spare`
//! is 0 and otherwise reads it as a version-0 message whose count (the `reserved` byte) is 0: it
//! installs nothing from it, but does not misread it either.
//!
//! [`MessageWriter`] encodes into a caller buffer without allocating; [`parse`] checks a whole
//! message once (it never panics), after which [`Entries`] yields every entry infallibly.

use super::entry::{SyncEntry, SyncForwarding, conn_flags};
use core::net::Ipv4Addr;

/// The multicast group of IPVS connection sync.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The UDP port of IPVS connection sync.
pub const PORT: u16 = 8848;
/// The header's version byte.
pub const VERSION: u8 = 1;
/// Length of the message header.
pub const HEADER_LEN: usize = 8;
/// Length of an IPv4 entry without options (all we send).
pub const ENTRY_LEN: usize = 36;
/// Length of a control message: header plus `kind | 0 | value`.
pub const CONTROL_LEN: usize = HEADER_LEN + 4;
/// The UDP payload of a 1500-byte MTU: 1500 − 20 (IPv4) − 8 (UDP).
pub const DEFAULT_MAX_PAYLOAD: usize = 1472;
/// Most entries one message counts (`nr_conns` is a byte).
pub const MAX_ENTRIES: usize = 255;
/// Entry type of IPv4 (the kernel's type 1 bit means IPv6).
const TYPE_IPV4: u8 = 0;

/// How many entries fit in a message of at most `payload` bytes.
pub const fn max_entries(payload: usize) -> usize {
    if payload < HEADER_LEN {
        return 0;
    }
    let n = (payload - HEADER_LEN) / ENTRY_LEN;
    if n > MAX_ENTRIES { MAX_ENTRIES } else { n }
}

/// What a control message asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlKind {
    /// A backup asks the master for its whole table (value 0).
    BulkRequest,
    /// A backup acknowledges every message up to sequence number `value`.
    Ack,
    /// The master ended a bulk walk whose first message had sequence number `value`: a backup
    /// that received every message since then has the whole table.
    BulkDone,
}

impl ControlKind {
    fn code(self) -> u8 {
        match self {
            ControlKind::BulkRequest => 1,
            ControlKind::Ack => 2,
            ControlKind::BulkDone => 3,
        }
    }
}

/// Why a payload is not a sync message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Shorter than the 8-byte header.
    #[error("sync message shorter than its header")]
    Truncated,
    /// The first byte is not 0 (a version-0 message, or garbage).
    #[error("sync header reserved byte {0}, expected 0")]
    Reserved(u8),
    /// The version byte is not 1.
    #[error("sync version {0}, expected 1")]
    Version(u8),
    /// The header's size is not the payload's length.
    #[error("sync message says {declared} bytes, has {actual}")]
    Size { declared: u16, actual: usize },
    /// Entry `index` does not fit in the message (fixed part, or its length with padding).
    #[error("sync entry {index} runs past the end of the message")]
    EntryTruncated { index: u8 },
    /// Entry `index` is not IPv4 (type 0).
    #[error("sync entry {index} has type {ty}, only IPv4 (0) is handled")]
    EntryType { index: u8, ty: u8 },
    /// Entry `index` has a nonzero version in `ver_size`.
    #[error("sync entry {index} has version {version}, expected 0")]
    EntryVersion { index: u8, version: u8 },
    /// Entry `index` claims a length shorter than its fixed part.
    #[error("sync entry {index} claims {len} bytes, at least 36 needed")]
    EntryLength { index: u8, len: u16 },
    /// Entry `index` is forwarded by a method we do not do (only DR 3 and NAT 0).
    #[error("sync entry {index} has forwarding method {method}, expected 0 (NAT) or 3 (DR)")]
    Forwarding { index: u8, method: u8 },
    /// Bytes left after the last entry.
    #[error("{0} bytes after the last sync entry")]
    Trailing(usize),
    /// A message without entries that is neither empty nor a 4-byte control body.
    #[error("sync message without entries has a {0}-byte body")]
    ControlLength(usize),
    /// A control body with an unknown kind or a nonzero pad byte.
    #[error("unknown sync control kind {0}")]
    ControlKind(u8),
}

/// A checked sync message.
#[derive(Debug, Clone)]
pub enum Message<'a> {
    /// Connections (possibly none: an empty version-1 message).
    Entries {
        syncid: u8,
        seq: u16,
        entries: Entries<'a>,
    },
    /// Our control message.
    Control {
        syncid: u8,
        seq: u16,
        kind: ControlKind,
        value: u16,
    },
}

impl Message<'_> {
    pub fn syncid(&self) -> u8 {
        match self {
            Message::Entries { syncid, .. } | Message::Control { syncid, .. } => *syncid,
        }
    }

    pub fn seq(&self) -> u16 {
        match self {
            Message::Entries { seq, .. } | Message::Control { seq, .. } => *seq,
        }
    }
}

/// The entries of a checked message, in order.
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    rest: &'a [u8],
    left: u8,
}

impl Iterator for Entries<'_> {
    type Item = SyncEntry;

    fn next(&mut self) -> Option<SyncEntry> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let step = padded(usize::from(be16(self.rest, 2) & 0x0fff));
        let entry = decode_entry(self.rest);
        self.rest = &self.rest[step..];
        entry.ok()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::from(self.left), Some(usize::from(self.left)))
    }
}

impl ExactSizeIterator for Entries<'_> {}

/// Checks `bytes` (a UDP payload) as a whole sync message.
pub fn parse(bytes: &[u8]) -> Result<Message<'_>, WireError> {
    if bytes.len() < HEADER_LEN {
        return Err(WireError::Truncated);
    }
    if bytes[0] != 0 {
        return Err(WireError::Reserved(bytes[0]));
    }
    if bytes[5] != VERSION {
        return Err(WireError::Version(bytes[5]));
    }
    let declared = be16(bytes, 2);
    if usize::from(declared) != bytes.len() {
        return Err(WireError::Size {
            declared,
            actual: bytes.len(),
        });
    }
    let (syncid, count, seq) = (bytes[1], bytes[4], be16(bytes, 6));
    let body = &bytes[HEADER_LEN..];
    if count == 0 && !body.is_empty() {
        return parse_control(syncid, seq, body);
    }
    let mut at = 0;
    for index in 0..count {
        at += check_entry(index, &body[at..])?;
    }
    if at != body.len() {
        return Err(WireError::Trailing(body.len() - at));
    }
    Ok(Message::Entries {
        syncid,
        seq,
        entries: Entries {
            rest: body,
            left: count,
        },
    })
}

fn parse_control(syncid: u8, seq: u16, body: &[u8]) -> Result<Message<'_>, WireError> {
    if body.len() != CONTROL_LEN - HEADER_LEN {
        return Err(WireError::ControlLength(body.len()));
    }
    let kind = match (body[0], body[1]) {
        (1, 0) => ControlKind::BulkRequest,
        (2, 0) => ControlKind::Ack,
        (3, 0) => ControlKind::BulkDone,
        (kind, _) => return Err(WireError::ControlKind(kind)),
    };
    Ok(Message::Control {
        syncid,
        seq,
        kind,
        value: be16(body, 2),
    })
}

/// Checks the entry at the start of `rest`; returns how far the next one starts.
fn check_entry(index: u8, rest: &[u8]) -> Result<usize, WireError> {
    if rest.len() < ENTRY_LEN {
        return Err(WireError::EntryTruncated { index });
    }
    if rest[0] != TYPE_IPV4 {
        return Err(WireError::EntryType { index, ty: rest[0] });
    }
    let ver_size = be16(rest, 2);
    let version = (ver_size >> 12) as u8;
    if version != 0 {
        return Err(WireError::EntryVersion { index, version });
    }
    let len = ver_size & 0x0fff;
    if usize::from(len) < ENTRY_LEN {
        return Err(WireError::EntryLength { index, len });
    }
    let step = padded(usize::from(len));
    if step > rest.len() {
        return Err(WireError::EntryTruncated { index });
    }
    decode_entry(rest).map_err(|method| WireError::Forwarding { index, method })?;
    Ok(step)
}

/// The fixed part of an entry (at least [`ENTRY_LEN`] bytes); the error is the forwarding
/// method when it is neither NAT nor DR.
fn decode_entry(b: &[u8]) -> Result<SyncEntry, u8> {
    let flags = be32(b, 4);
    let forwarding = match flags & conn_flags::FWD_MASK {
        conn_flags::DROUTE => SyncForwarding::DirectRouting,
        conn_flags::MASQ => SyncForwarding::Nat,
        other => return Err(other as u8),
    };
    Ok(SyncEntry {
        protocol: b[1],
        template: flags & conn_flags::TEMPLATE != 0,
        forwarding,
        inactive: flags & conn_flags::INACTIVE != 0,
        state: be16(b, 8),
        client_port: be16(b, 10),
        vport: be16(b, 12),
        server_port: be16(b, 14),
        // 16..20: fwmark, not used here.
        timeout_s: be32(b, 20),
        client: Ipv4Addr::from(be32(b, 24)),
        vip: Ipv4Addr::from(be32(b, 28)),
        server: Ipv4Addr::from(be32(b, 32)),
    })
}

/// Builds one entries message in a caller buffer.
#[derive(Debug)]
pub struct MessageWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    count: u8,
}

impl<'a> MessageWriter<'a> {
    /// Starts a message in `buf` (its length is the most the message may take: pass the MTU's
    /// payload). Panics if `buf` is shorter than [`HEADER_LEN`].
    pub fn new(buf: &'a mut [u8], syncid: u8, seq: u16) -> Self {
        assert!(buf.len() >= HEADER_LEN, "sync buffer shorter than a header");
        let limit = buf.len().min(usize::from(u16::MAX));
        let buf = &mut buf[..limit];
        buf[..HEADER_LEN].copy_from_slice(&[0, syncid, 0, 0, 0, VERSION, 0, 0]);
        buf[6..8].copy_from_slice(&seq.to_be_bytes());
        MessageWriter {
            buf,
            len: HEADER_LEN,
            count: 0,
        }
    }

    /// Appends `entry`; false (and nothing written) when it would not fit in the buffer or
    /// would be entry 256.
    pub fn push(&mut self, entry: &SyncEntry) -> bool {
        let end = self.len + ENTRY_LEN;
        if end > self.buf.len() || usize::from(self.count) == MAX_ENTRIES {
            return false;
        }
        encode_entry(entry, &mut self.buf[self.len..end]);
        self.len = end;
        self.count += 1;
        true
    }

    /// Entries pushed so far.
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// How many more entries fit.
    pub fn room(&self) -> usize {
        let by_bytes = (self.buf.len() - self.len) / ENTRY_LEN;
        by_bytes.min(MAX_ENTRIES - self.count())
    }

    /// Writes the size and count; returns the message length.
    pub fn finish(self) -> usize {
        self.buf[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
        self.buf[4] = self.count;
        self.len
    }
}

/// Writes a control message into `buf`; returns its length ([`CONTROL_LEN`]). Panics if `buf`
/// is shorter.
pub fn write_control(buf: &mut [u8], syncid: u8, seq: u16, kind: ControlKind, value: u16) -> usize {
    let out = &mut buf[..CONTROL_LEN];
    out[..HEADER_LEN].copy_from_slice(&[0, syncid, 0, CONTROL_LEN as u8, 0, VERSION, 0, 0]);
    out[6..8].copy_from_slice(&seq.to_be_bytes());
    out[8] = kind.code();
    out[9] = 0;
    out[10..12].copy_from_slice(&value.to_be_bytes());
    CONTROL_LEN
}

fn encode_entry(e: &SyncEntry, out: &mut [u8]) {
    out[0] = TYPE_IPV4;
    out[1] = e.protocol;
    out[2..4].copy_from_slice(&(ENTRY_LEN as u16).to_be_bytes());
    out[4..8].copy_from_slice(&e.flags().to_be_bytes());
    out[8..10].copy_from_slice(&e.state.to_be_bytes());
    out[10..12].copy_from_slice(&e.client_port.to_be_bytes());
    out[12..14].copy_from_slice(&e.vport.to_be_bytes());
    out[14..16].copy_from_slice(&e.server_port.to_be_bytes());
    out[16..20].copy_from_slice(&0u32.to_be_bytes());
    out[20..24].copy_from_slice(&e.timeout_s.to_be_bytes());
    out[24..28].copy_from_slice(&e.client.octets());
    out[28..32].copy_from_slice(&e.vip.octets());
    out[32..36].copy_from_slice(&e.server.octets());
}

/// An entry's length rounded up to 4 bytes.
fn padded(len: usize) -> usize {
    (len + 3) & !3
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

#[cfg(test)]
mod tests;
