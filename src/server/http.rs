//! HTTP/1.x heads for `tapvs server`: request parsing, routing and response heads. Pure, no I/O.
//!
//! The framing helpers it shares with the load generator's response parser are in `crate::http1`.
//! Malformed input is an error, never a panic.

use crate::http1::{FieldError, TooLong, fields, find_head, is_tchar, lines, parse_u64};
use std::io::Write as _;

/// Longest request head accepted (request line and headers), in bytes.
pub const MAX_HEAD: usize = 8 * 1024;

/// Largest body `GET /bytes/N` serves.
pub const MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Why a request head was refused (answered with 400 or 505, then the connection is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No end of head within [`MAX_HEAD`] bytes.
    #[error("request head longer than {MAX_HEAD} bytes")]
    TooLong,
    /// The request line is not `METHOD SP /target SP HTTP/1.x`.
    #[error("malformed request line")]
    RequestLine,
    /// An HTTP version other than 1.0 and 1.1.
    #[error("unsupported HTTP version")]
    Version,
    /// A header line without a name, without a colon, or folded.
    #[error("malformed header line")]
    Header,
    /// A Content-Length that is not a number, or two that disagree.
    #[error("bad Content-Length")]
    ContentLength,
    /// A request body framed by Transfer-Encoding (not supported).
    #[error("Transfer-Encoding in a request is not supported")]
    TransferEncoding,
}

/// The request methods the server tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Other,
}

/// A checked request head; `path` excludes any query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    /// Minor HTTP version: 0 or 1.
    pub minor: u8,
    /// Whether the client wants the connection kept open after the response.
    pub keep_alive: bool,
    /// Length of the request body to skip.
    pub content_length: u64,
}

/// Parses one request head at the start of `buf`. `Ok(None)`: incomplete, read more.
/// On success also returns the number of bytes consumed (leading blank lines included).
pub fn parse_request(buf: &[u8]) -> Result<Option<(Request<'_>, usize)>, ParseError> {
    let skip = buf
        .iter()
        .take_while(|&&b| b == b'\r' || b == b'\n')
        .count();
    let rest = &buf[skip..];
    let Some(len) = find_head(rest, MAX_HEAD).map_err(|TooLong| ParseError::TooLong)? else {
        return Ok(None);
    };
    let mut lines = lines(&rest[..len]);
    let request_line = lines.next().ok_or(ParseError::RequestLine)?;
    let mut parts = request_line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ParseError::RequestLine);
    };
    let method = match method {
        b"GET" => Method::Get,
        b"HEAD" => Method::Head,
        m if !m.is_empty() && m.iter().all(|&b| is_tchar(b)) => Method::Other,
        _ => return Err(ParseError::RequestLine),
    };
    if target.first() != Some(&b'/') || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(ParseError::RequestLine);
    }
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    let path = std::str::from_utf8(path).map_err(|_| ParseError::RequestLine)?;
    let minor = match version {
        b"HTTP/1.1" => 1,
        b"HTTP/1.0" => 0,
        v if v.starts_with(b"HTTP/") => return Err(ParseError::Version),
        _ => return Err(ParseError::RequestLine),
    };
    let fields = fields(lines, minor == 1).map_err(|e| match e {
        FieldError::Header => ParseError::Header,
        FieldError::ContentLength => ParseError::ContentLength,
    })?;
    if fields.transfer_encoding.is_some() {
        return Err(ParseError::TransferEncoding);
    }
    let request = Request {
        method,
        path,
        minor,
        keep_alive: fields.keep_alive,
        content_length: fields.content_length.unwrap_or(0),
    };
    Ok(Some((request, skip + len)))
}

/// What a path asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/`: a short text naming the server.
    Root,
    /// `/health`: `ok`.
    Health,
    /// `/bytes/N`: N body bytes.
    Bytes(u64),
    /// `/bytes/...` with a bad or too large N.
    BadBytes,
    NotFound,
}

pub fn route(path: &str) -> Route {
    match path {
        "/" => Route::Root,
        "/health" => Route::Health,
        _ => match path.strip_prefix("/bytes/") {
            Some(n) => match parse_u64(n.as_bytes()) {
                Some(n) if n <= MAX_BYTES => Route::Bytes(n),
                _ => Route::BadBytes,
            },
            None => Route::NotFound,
        },
    }
}

/// How the response's `Connection` header reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnHeader {
    /// No header: the HTTP/1.1 default (keep-alive).
    None,
    Close,
    /// Explicit keep-alive, for HTTP/1.0 clients that asked for it.
    KeepAlive,
}

/// Appends a response head to `out`; `X-Server` names the server on every response.
pub fn write_head(out: &mut Vec<u8>, status: u16, server: &str, len: u64, conn: ConnHeader) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    };
    let conn = match conn {
        ConnHeader::None => "",
        ConnHeader::Close => "Connection: close\r\n",
        ConnHeader::KeepAlive => "Connection: keep-alive\r\n",
    };
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nServer: tapvs\r\nX-Server: {server}\r\n\
         Content-Type: text/plain\r\nContent-Length: {len}\r\n{conn}\r\n"
    );
}

#[cfg(test)]
mod tests;
