//! HTTP/1.1 for the load generator: the request it sends and a checked parse of the response
//! (status line, headers, Content-Length / chunked / until-close framing). Pure, no I/O.

use crate::http1::{FieldError, TooLong, fields, find_head, lines, parse_u64};
use std::ops::Range;

/// Longest response head accepted, in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// Why a response could not be read (counted as error kind `other`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// No end of head within [`MAX_HEAD`] bytes.
    #[error("response head longer than {MAX_HEAD} bytes")]
    TooLong,
    /// The status line is not `HTTP/1.x NNN reason`.
    #[error("malformed status line")]
    StatusLine,
    /// A header line without a name or colon.
    #[error("malformed header line")]
    Header,
    /// A Content-Length that is not a number, or two that disagree.
    #[error("bad Content-Length")]
    ContentLength,
    /// Chunked framing that does not parse.
    #[error("malformed chunked body")]
    Chunk,
}

/// How the body of a response ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (0 for 1xx, 204 and 304).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// At the end of the connection.
    UntilClose,
}

/// A checked response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    pub framing: Framing,
    /// Whether the server lets the connection carry another request.
    pub keep_alive: bool,
    /// Where the `X-Server` value lies in the parsed buffer.
    pub server: Option<Range<usize>>,
}

/// The request the generator sends, built once per run.
pub fn request(path: &str, host: &str, close: bool) -> Vec<u8> {
    let conn = if close { "Connection: close\r\n" } else { "" };
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: tapvs-client\r\n{conn}\r\n")
        .into_bytes()
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete, read more.
/// On success also returns the head's length.
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, ResponseError> {
    let Some(len) = find_head(buf, MAX_HEAD).map_err(|TooLong| ResponseError::TooLong)? else {
        return Ok(None);
    };
    let mut lines = lines(&buf[..len]);
    let (minor, status) = status_line(lines.next().ok_or(ResponseError::StatusLine)?)?;
    let fields = fields(lines, minor == 1).map_err(|e| match e {
        FieldError::Header => ResponseError::Header,
        FieldError::ContentLength => ResponseError::ContentLength,
    })?;
    // Only the last coding decides the framing (RFC 9112, section 6.3).
    let chunked = fields.transfer_encoding.is_some_and(|value| {
        value
            .rsplit(|&b| b == b',')
            .next()
            .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"))
    });
    let encoded = fields.transfer_encoding.is_some();
    let server = fields.server.map(|value| {
        let offset = value.as_ptr() as usize - buf.as_ptr() as usize;
        offset..offset + value.len()
    });
    let length = fields.content_length;
    let mut keep_alive = fields.keep_alive;
    let framing = match (status, chunked, encoded, length) {
        (100..=199 | 204 | 304, ..) => Framing::Length(0),
        (_, true, ..) => Framing::Chunked,
        (_, false, true, _) | (.., None) => Framing::UntilClose,
        (.., Some(n)) => Framing::Length(n),
    };
    keep_alive &= framing != Framing::UntilClose;
    Ok(Some((
        Head {
            status,
            framing,
            keep_alive,
            server,
        },
        len,
    )))
}

/// `HTTP/1.x NNN reason` → (x, NNN).
fn status_line(line: &[u8]) -> Result<(u8, u16), ResponseError> {
    let err = ResponseError::StatusLine;
    let minor = match line.get(..9) {
        Some(b"HTTP/1.1 ") => 1,
        Some(b"HTTP/1.0 ") => 0,
        _ => return Err(err),
    };
    let code = line.get(9..12).ok_or(err)?;
    if line.get(12).is_some_and(|&b| b != b' ') {
        return Err(err);
    }
    match parse_u64(code) {
        Some(n @ 100..=999) => Ok((minor, n as u16)),
        _ => Err(err),
    }
}

/// Where a chunked body decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading hex digits of a chunk size.
    Size {
        digits: u8,
    },
    /// Skipping chunk extensions up to the end of the size line.
    Ext,
    Data,
    /// After the data: CR LF (or a bare LF).
    DataEnd,
    DataEndLf,
    /// Trailer lines until an empty one; `empty` while the current line has no content yet.
    Trailer {
        empty: bool,
    },
    Done,
}

/// A streaming decoder that finds the end of a chunked body (the data itself is discarded).
#[derive(Debug, Clone)]
pub struct Chunked {
    state: State,
    left: u64,
}

impl Default for Chunked {
    fn default() -> Self {
        Self {
            state: State::Size { digits: 0 },
            left: 0,
        }
    }
}

impl Chunked {
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes body bytes from `input`, stopping at the end of the body; returns how many.
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, ResponseError> {
        let mut i = 0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                let n = self.left.min((input.len() - i) as u64);
                // n ≤ input.len() - i, so the cast is exact.
                i += n as usize;
                self.left -= n;
                if self.left == 0 {
                    self.state = State::DataEnd;
                }
                continue;
            }
            let b = input[i];
            i += 1;
            self.state = match (self.state, b) {
                (State::Size { digits }, b) if b.is_ascii_hexdigit() && digits < 15 => {
                    let d = char::from(b).to_digit(16).unwrap_or(0);
                    self.left = self.left * 16 + u64::from(d);
                    State::Size { digits: digits + 1 }
                }
                (State::Size { digits: 1.. }, b';' | b' ' | b'\t' | b'\r') => State::Ext,
                (State::Size { digits: 1.. } | State::Ext, b'\n') if self.left == 0 => {
                    State::Trailer { empty: true }
                }
                (State::Size { digits: 1.. } | State::Ext, b'\n') => State::Data,
                (State::Ext, _) => State::Ext,
                (State::DataEnd, b'\r') => State::DataEndLf,
                (State::DataEnd | State::DataEndLf, b'\n') => State::Size { digits: 0 },
                (State::Trailer { empty: true }, b'\n') => State::Done,
                (State::Trailer { empty }, b'\r') => State::Trailer { empty },
                (State::Trailer { .. }, b'\n') => State::Trailer { empty: true },
                (State::Trailer { .. }, _) => State::Trailer { empty: false },
                _ => return Err(ResponseError::Chunk),
            };
        }
        Ok(i)
    }
}

#[cfg(test)]
mod tests;
