//! The UDP request/response format of `tapvs server --udp-listen` and `tapvs client --protocol
//! udp`: a DNS-like exchange of one datagram each way. Pure, no I/O; shared by both sides.
//!
//! ```text
//! request:  TAPVS-Q <seq> <bytes>\n
//! response: TAPVS-R <seq> <server>\n<padding>
//! ```
//!
//! - Everything is ASCII; fields are separated by exactly one space; the line ends in a bare LF.
//! - `seq` is a decimal u64 (1 to 20 digits) chosen by the client, echoed by the server; the client
//!   matches responses to requests by it.
//! - `bytes` is the wanted size of the whole response datagram, decimal, 0 to [`MAX_DATAGRAM`].
//!   The server pads its header with `x` up to `bytes`; when the header alone is longer (`bytes`
//!   below the header's length, 0 included), the response is just the header.
//! - `server` is the server's name: 1 to [`MAX_NAME`] visible ASCII characters (no spaces).
//! - A request datagram is exactly the request line: anything else (another magic, a missing or
//!   extra field, bytes after the LF, a number out of range) is malformed. The server counts
//!   malformed requests and never answers them.
//!
//! [`MAX_DATAGRAM`] (1400) keeps every datagram under a 1500-byte MTU with IPv4/IPv6 and UDP
//! headers, so no response is ever fragmented.

use std::io::Write as _;

/// Largest response (or request) datagram, in bytes.
pub const MAX_DATAGRAM: usize = 1400;

/// Longest server name a response can carry.
pub const MAX_NAME: usize = 255;

/// Longest valid request: magic, a 20-digit seq, a 4-digit size and the separators.
pub const MAX_QUERY: usize = QUERY_MAGIC.len() + 20 + 1 + 4 + 1;

const QUERY_MAGIC: &[u8] = b"TAPVS-Q ";
const ANSWER_MAGIC: &[u8] = b"TAPVS-R ";

/// Padding of responses.
static PADDING: [u8; MAX_DATAGRAM] = [b'x'; MAX_DATAGRAM];

/// Why a request datagram is malformed (counted by the server, never answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The datagram does not start with `TAPVS-Q `.
    #[error("not a TAPVS-Q request")]
    Magic,
    /// `seq` is missing, not a number, or above u64.
    #[error("bad sequence number")]
    Seq,
    /// `bytes` is missing or not a number.
    #[error("bad response size")]
    Bytes,
    /// `bytes` is above [`MAX_DATAGRAM`].
    #[error("response size above {MAX_DATAGRAM} bytes")]
    TooLarge,
    /// No LF at the end of the fields, or bytes after it.
    #[error("request not ended by exactly one LF")]
    Framing,
}

/// A checked request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub seq: u64,
    /// Wanted response size, at most [`MAX_DATAGRAM`].
    pub bytes: u16,
}

impl Query {
    /// Parses a whole request datagram.
    pub fn parse(datagram: &[u8]) -> Result<Self, QueryError> {
        let rest = datagram
            .strip_prefix(QUERY_MAGIC)
            .ok_or(QueryError::Magic)?;
        let (seq, rest) = split_number(rest, b' ').ok_or(QueryError::Seq)?;
        let (bytes, rest) = split_number(rest, b'\n').ok_or(QueryError::Bytes)?;
        if !rest.is_empty() {
            return Err(QueryError::Framing);
        }
        let bytes = u16::try_from(bytes)
            .ok()
            .filter(|&b| usize::from(b) <= MAX_DATAGRAM)
            .ok_or(QueryError::TooLarge)?;
        Ok(Self { seq, bytes })
    }

    /// Appends the request datagram to `out` (at most [`MAX_QUERY`] bytes).
    pub fn emit(&self, out: &mut Vec<u8>) {
        // Writing into a Vec cannot fail.
        let _ = writeln!(out, "TAPVS-Q {} {}", self.seq, self.bytes);
    }
}

/// Why a response datagram is bad. The first two leave the request unknown: such a datagram is
/// a stray; the others name the request they fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The datagram does not start with `TAPVS-R `.
    #[error("not a TAPVS-R response")]
    Magic,
    /// `seq` is missing, not a number, or above u64.
    #[error("bad sequence number")]
    Seq,
    /// The header ends before its LF (the datagram was cut short).
    #[error("response {seq}: header cut short")]
    Truncated { seq: u64 },
    /// The server name is empty, too long or not visible ASCII.
    #[error("response {seq}: bad server name")]
    Server { seq: u64 },
}

impl AnswerError {
    /// The request the response was for, when that much could be read.
    pub fn seq(&self) -> Option<u64> {
        match *self {
            Self::Magic | Self::Seq => None,
            Self::Truncated { seq } | Self::Server { seq } => Some(seq),
        }
    }
}

/// A checked response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer<'a> {
    pub seq: u64,
    pub server: &'a str,
    /// Length of the header, LF included.
    pub header_len: usize,
    /// Length of the whole datagram.
    pub len: usize,
}

impl<'a> Answer<'a> {
    /// Parses a response datagram (header and padding).
    pub fn parse(datagram: &'a [u8]) -> Result<Self, AnswerError> {
        let rest = datagram
            .strip_prefix(ANSWER_MAGIC)
            .ok_or(AnswerError::Magic)?;
        let (seq, rest) = split_number(rest, b' ').ok_or(AnswerError::Seq)?;
        let name_len = rest
            .iter()
            .take(MAX_NAME + 1)
            .position(|&b| b == b'\n' || !b.is_ascii_graphic());
        let name = match name_len {
            Some(n) if rest[n] == b'\n' => &rest[..n],
            Some(_) => return Err(AnswerError::Server { seq }),
            None if rest.len() > MAX_NAME => return Err(AnswerError::Server { seq }),
            None => return Err(AnswerError::Truncated { seq }),
        };
        let server = std::str::from_utf8(name)
            .ok()
            .filter(|n| !n.is_empty())
            .ok_or(AnswerError::Server { seq })?;
        Ok(Self {
            seq,
            server,
            header_len: datagram.len() - rest.len() + name.len() + 1,
            len: datagram.len(),
        })
    }

    /// The response datagram's length when the client asked for `wanted` bytes.
    pub fn expected_len(&self, wanted: usize) -> usize {
        wanted.max(self.header_len)
    }
}

/// Appends the response to `query` from `server` to `out`: the header, then padding up to
/// `query.bytes`. `server` must be a valid name (checked once, when the server starts).
pub fn emit_answer(query: &Query, server: &str, out: &mut Vec<u8>) {
    let start = out.len();
    // Writing into a Vec cannot fail.
    let _ = writeln!(out, "TAPVS-R {} {server}", query.seq);
    let pad = usize::from(query.bytes).saturating_sub(out.len() - start);
    out.extend_from_slice(&PADDING[..pad.min(PADDING.len())]);
}

/// Whether `name` can go into a response header.
pub fn valid_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// A decimal u64 (1 to 20 digits) ended by `end`; returns it and what follows `end`.
fn split_number(buf: &[u8], end: u8) -> Option<(u64, &[u8])> {
    let digits = buf.iter().take(21).position(|&b| b == end)?;
    let (number, rest) = (&buf[..digits], &buf[digits + 1..]);
    if number.is_empty() || !number.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = number.iter().try_fold(0u64, |n, &d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some((n, rest))
}

#[cfg(test)]
mod tests;
