//! The connection-sync UDP payload: IPVS sync version 1 messages exactly as a Linux backup reads
//! them, each closed by one 4-byte tapvs record that a Linux backup never reads.
//!
//! ```text
//! header (8 bytes)
//! | reserved = 0 | syncid | size (whole message) | nr_conns | version = 1 | spare = 0 |
//! nr_conns IPv4 entries (36 bytes, options after it counted in its length, padded to 4)
//! | type = 0 | protocol | ver_size (version 0 << 12 | length) | flags (u32) |
//! | state | cport | vport | dport | fwmark (u32) | timeout s (u32) | caddr | vaddr | daddr |
//! tapvs record (ours, after the last entry, counted in size)
//! | kind | 0 | value (u16) |
//!   kind 4 SEQ: the message's sequence number (any nr_conns, 0 included)
//!   kind 1 BULK_REQUEST, 2 ACK, 3 BULK_DONE: a control message (nr_conns = 0)
//! ```
//! All fields in network byte order. The director frames Ethernet/IPv4/UDP (224.0.0.81:8848,
//! TTL 1) itself; this module sees the UDP payload only.
//!
//! # What a Linux backup does with these (`ip_vs_process_message`, net/netfilter/ipvs/ip_vs_sync.c)
//! The rules encoded here (and re-implemented in `wire/kernel.rs`'s tests, which check our bytes
//! against them):
//! 1. A datagram shorter than 4 bytes, or whose `size` is not its length, is dropped.
//! 2. A `syncid` other than the backup's is dropped, unless the backup's is 0.
//! 3. Only `version == 1 && reserved == 0 && spare == 0` is version 1. Anything else goes to
//!    the version-0 parser, which takes the first byte (`reserved`) as its count. tapvs once
//!    carried its sequence number in `spare`: a kernel read those messages as version 0 with
//!    no connections. Here `spare` is always 0, and [`parse`] refuses a nonzero one.
//! 4. Then exactly `nr_conns` entries, each: its 36-byte fixed part inside the datagram, its
//!    length (`ver_size & 0x0fff`) not past the end, its version (`ver_size >> 12`) 0, its
//!    type 0 (IPv4; bit 1 is IPv6, which tapvs does not do); options (type, length, data) fill
//!    the rest of its length; the next entry starts at the length rounded up to 4. A broken
//!    entry drops the rest of the message, with a rate-limited error log.
//! 5. After the `nr_conns`-th entry the function returns: it never reads further bytes.
//!
//! So an entries message is installed in full by a kernel backup, which stops before our SEQ
//! record; a control message is a version-1 message with `nr_conns = 0`, whose entry loop runs
//! zero times: a kernel backup installs nothing and logs nothing. A kernel master's message
//! (no record) parses here as entries without a sequence number.
//!
//! [`MessageWriter`] encodes into a caller buffer without allocating; [`parse`] checks a whole
//! message once (it never panics), after which [`Entries`] yields every entry infallibly.

use super::entry::{SyncEntry, SyncForwarding, conn_flags};
use crate::wire::fields::{be16, be32};
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
/// Length of the tapvs record closing every message we send: `kind | 0 | value`.
pub const RECORD_LEN: usize = 4;
/// Length of a control message: header plus the record.
pub const CONTROL_LEN: usize = HEADER_LEN + RECORD_LEN;
/// The UDP payload of a 1500-byte MTU: 1500 − 20 (IPv4) − 8 (UDP).
pub const DEFAULT_MAX_PAYLOAD: usize = 1472;
/// Most entries one message counts (`nr_conns` is a byte).
pub const MAX_ENTRIES: usize = 255;
/// Entry type of IPv4 (the kernel's type 1 bit means IPv6).
const TYPE_IPV4: u8 = 0;
/// The record kind carrying an entries message's sequence number.
const KIND_SEQ: u8 = 4;

/// How many entries fit in a message of at most `payload` bytes (with its record).
pub const fn max_entries(payload: usize) -> usize {
    if payload < CONTROL_LEN {
        return 0;
    }
    let n = (payload - CONTROL_LEN) / ENTRY_LEN;
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
    /// The header's `spare` is not 0: a Linux backup would read the message as version 0.
    #[error("sync header spare {0:#06x}, expected 0 (a kernel reads it as version 0)")]
    Spare(u16),
    /// The header's size is not the payload's length.
    #[error("sync message says {declared} bytes, has {actual}")]
    Size { declared: u16, actual: usize },
    /// Entry `index` does not fit in the message (its fixed part, or its length).
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
    /// An option of entry `index` runs past the entry's length or has length 0.
    #[error("sync entry {index} has an option past its end or of length 0")]
    EntryOption { index: u8 },
    /// Entry `index` is forwarded by a method we do not do (only DR 3 and NAT 0).
    #[error("sync entry {index} has forwarding method {method}, expected 0 (NAT) or 3 (DR)")]
    Forwarding { index: u8, method: u8 },
    /// After the last entry, neither nothing nor a 4-byte record.
    #[error("{0} bytes after the last sync entry, expected 0 or a 4-byte record")]
    Trailing(usize),
    /// A record with an unknown kind or a nonzero pad byte.
    #[error("unknown sync record kind {0}")]
    RecordKind(u8),
    /// A control record after entries (a control message has none).
    #[error("sync control kind {kind} after {count} entries, expected none")]
    ControlWithEntries { kind: u8, count: u8 },
}

/// A checked sync message.
#[derive(Debug, Clone)]
pub enum Message<'a> {
    /// Connections (possibly none), with our sequence number; `None`: no record (a kernel
    /// master's message).
    Entries {
        syncid: u8,
        seq: Option<u16>,
        entries: Entries<'a>,
    },
    /// Our control message.
    Control {
        syncid: u8,
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

    /// An entries message's sequence number, if it carries one.
    pub fn seq(&self) -> Option<u16> {
        match self {
            Message::Entries { seq, .. } => *seq,
            Message::Control { .. } => None,
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
        let step = padded(usize::from(be16(self.rest, 2) & 0x0fff)).min(self.rest.len());
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
    let spare = be16(bytes, 6);
    if spare != 0 {
        return Err(WireError::Spare(spare));
    }
    let declared = be16(bytes, 2);
    if usize::from(declared) != bytes.len() {
        return Err(WireError::Size {
            declared,
            actual: bytes.len(),
        });
    }
    let (syncid, count) = (bytes[1], bytes[4]);
    let body = &bytes[HEADER_LEN..];
    let mut at = 0;
    for index in 0..count {
        at += check_entry(index, &body[at..])?;
    }
    let entries = Entries {
        rest: body,
        left: count,
    };
    let record = match &body[at..] {
        [] => {
            return Ok(Message::Entries {
                syncid,
                seq: None,
                entries,
            });
        }
        &[kind, pad, hi, lo] => (kind, pad, u16::from_be_bytes([hi, lo])),
        rest => return Err(WireError::Trailing(rest.len())),
    };
    let kind = match record {
        (KIND_SEQ, 0, seq) => {
            return Ok(Message::Entries {
                syncid,
                seq: Some(seq),
                entries,
            });
        }
        (1, 0, _) => ControlKind::BulkRequest,
        (2, 0, _) => ControlKind::Ack,
        (3, 0, _) => ControlKind::BulkDone,
        (kind, ..) => return Err(WireError::RecordKind(kind)),
    };
    if count != 0 {
        return Err(WireError::ControlWithEntries {
            kind: kind.code(),
            count,
        });
    }
    Ok(Message::Control {
        syncid,
        kind,
        value: record.2,
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
    // The next entry starts 4-aligned; the last one may end unpadded (as a kernel sends it).
    if usize::from(len) > rest.len() {
        return Err(WireError::EntryTruncated { index });
    }
    let step = padded(usize::from(len)).min(rest.len());
    // Options as the kernel walks them: type, length (not 0), data, within the entry.
    let mut at = ENTRY_LEN;
    while at < usize::from(len) {
        let data_len = rest.get(at + 1).map_or(0, |&l| usize::from(l));
        if at + 2 > usize::from(len) || data_len == 0 || at + 2 + data_len > usize::from(len) {
            return Err(WireError::EntryOption { index });
        }
        at += 2 + data_len;
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

/// Builds one entries message in a caller buffer: a kernel version-1 header (`spare` 0), the
/// entries, then the SEQ record.
#[derive(Debug)]
pub struct MessageWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    count: u8,
    seq: u16,
}

impl<'a> MessageWriter<'a> {
    /// Starts a message with sequence number `seq` in `buf` (its length is the most the
    /// message may take: pass the MTU's payload). Panics if `buf` is shorter than
    /// [`CONTROL_LEN`].
    pub fn new(buf: &'a mut [u8], syncid: u8, seq: u16) -> Self {
        assert!(
            buf.len() >= CONTROL_LEN,
            "sync buffer shorter than a header"
        );
        let limit = buf.len().min(usize::from(u16::MAX));
        let buf = &mut buf[..limit];
        buf[..HEADER_LEN].copy_from_slice(&[0, syncid, 0, 0, 0, VERSION, 0, 0]);
        MessageWriter {
            buf,
            len: HEADER_LEN,
            count: 0,
            seq,
        }
    }

    /// Appends `entry`; false (and nothing written) when it would not fit in the buffer or
    /// would be entry 256.
    pub fn push(&mut self, entry: &SyncEntry) -> bool {
        let end = self.len + ENTRY_LEN;
        if end + RECORD_LEN > self.buf.len() || usize::from(self.count) == MAX_ENTRIES {
            return false;
        }
        encode_entry(entry, &mut self.buf[self.len..end]);
        self.len = end;
        self.count += 1;
        true
    }

    /// Overwrites entry `index` (0-based, already pushed) with `entry`: a newer state of the
    /// same connection. Panics if `index` was not pushed.
    pub fn replace(&mut self, index: usize, entry: &SyncEntry) {
        assert!(index < self.count(), "sync entry {index} not pushed");
        let at = HEADER_LEN + index * ENTRY_LEN;
        encode_entry(entry, &mut self.buf[at..at + ENTRY_LEN]);
    }

    /// Entries pushed so far.
    pub fn count(&self) -> usize {
        usize::from(self.count)
    }

    /// How many more entries fit.
    pub fn room(&self) -> usize {
        let by_bytes = (self.buf.len() - RECORD_LEN - self.len) / ENTRY_LEN;
        by_bytes.min(MAX_ENTRIES - self.count())
    }

    /// Writes the SEQ record, the size and the count; returns the message length.
    pub fn finish(self) -> usize {
        let end = self.len + RECORD_LEN;
        write_record(&mut self.buf[self.len..end], KIND_SEQ, self.seq);
        self.buf[2..4].copy_from_slice(&(end as u16).to_be_bytes());
        self.buf[4] = self.count;
        end
    }
}

/// Writes a control message into `buf`; returns its length ([`CONTROL_LEN`]). Panics if `buf`
/// is shorter.
pub fn write_control(buf: &mut [u8], syncid: u8, kind: ControlKind, value: u16) -> usize {
    let out = &mut buf[..CONTROL_LEN];
    out[..HEADER_LEN].copy_from_slice(&[0, syncid, 0, CONTROL_LEN as u8, 0, VERSION, 0, 0]);
    write_record(&mut out[HEADER_LEN..], kind.code(), value);
    CONTROL_LEN
}

fn write_record(out: &mut [u8], kind: u8, value: u16) {
    out[0] = kind;
    out[1] = 0;
    out[2..4].copy_from_slice(&value.to_be_bytes());
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

#[cfg(test)]
pub(crate) mod kernel;
#[cfg(test)]
mod tests;
