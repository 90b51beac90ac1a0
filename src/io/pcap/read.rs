//! A reader of classic pcap files (either byte order, microsecond timestamps), for the tests
//! that check what a capture holds. Malformed input is an error naming the offset, never a
//! panic.

use super::{FILE_HEADER_LEN, MAGIC, RECORD_HEADER_LEN};

/// Why a file is not a readable pcap.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PcapError {
    /// Shorter than the 24-byte file header.
    #[error("{0} bytes: shorter than the 24-byte pcap file header")]
    NoHeader(usize),
    /// Not the magic of a microsecond pcap file in either byte order.
    #[error("magic {0:#010x} is not that of a microsecond pcap file (0xa1b2c3d4)")]
    Magic(u32),
    /// A version other than 2.4.
    #[error("version {0}.{1}, expected 2.4")]
    Version(u16, u16),
    /// A record header or its bytes run past the end of the file.
    #[error("record {index} at byte {offset} is cut short (the file ends first)")]
    Truncated { index: usize, offset: usize },
    /// A record keeps more bytes than the snaplen or than were on the wire.
    #[error("record {index} at byte {offset} keeps {kept} bytes of {wire} (snaplen {snaplen})")]
    Length {
        index: usize,
        offset: usize,
        kept: u32,
        wire: u32,
        snaplen: u32,
    },
}

/// A pcap file's header fields and records.
#[derive(Debug)]
pub struct PcapFile<'a> {
    pub snaplen: u32,
    pub linktype: u32,
    pub records: Vec<Record<'a>>,
}

/// One captured frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    /// Bytes the frame had on the wire (`data` may keep fewer).
    pub wire_len: u32,
    pub data: &'a [u8],
}

/// Reads a whole pcap file held in `bytes`.
pub fn read(bytes: &[u8]) -> Result<PcapFile<'_>, PcapError> {
    if bytes.len() < FILE_HEADER_LEN {
        return Err(PcapError::NoHeader(bytes.len()));
    }
    let magic = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    let little = match magic {
        MAGIC => true,
        m if m.swap_bytes() == MAGIC => false,
        m => return Err(PcapError::Magic(m)),
    };
    let u16_at = |at: usize| {
        let b = [bytes[at], bytes[at + 1]];
        if little {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        }
    };
    let u32_at = |at: usize| {
        let b = [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]];
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let (major, minor) = (u16_at(4), u16_at(6));
    if (major, minor) != (2, 4) {
        return Err(PcapError::Version(major, minor));
    }
    let snaplen = u32_at(16);
    let linktype = u32_at(20);
    let mut records = Vec::new();
    let mut at = FILE_HEADER_LEN;
    while at < bytes.len() {
        let index = records.len();
        let truncated = PcapError::Truncated { index, offset: at };
        if bytes.len() - at < RECORD_HEADER_LEN {
            return Err(truncated);
        }
        let (sec, usec) = (u32_at(at), u32_at(at + 4));
        let (kept, wire) = (u32_at(at + 8), u32_at(at + 12));
        if kept > snaplen || kept > wire {
            return Err(PcapError::Length {
                index,
                offset: at,
                kept,
                wire,
                snaplen,
            });
        }
        let start = at + RECORD_HEADER_LEN;
        let Some(data) = bytes.get(start..start + kept as usize) else {
            return Err(truncated);
        };
        records.push(Record {
            time_us: u64::from(sec) * 1_000_000 + u64::from(usec),
            wire_len: wire,
            data,
        });
        at = start + kept as usize;
    }
    Ok(PcapFile {
        snaplen,
        linktype,
        records,
    })
}
