//! HTTP/1.x heads for `tapvs server`: request parsing, routing and response heads. Pure, no I/O.
//!
//! The low-level framing helpers (`head_len`, `header`, `has_token`, `parse_u64`) are shared with
//! the load generator's response parser (`client::http`). Malformed input is an error, never a panic.

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
    let Some(len) = head_len(&rest[..rest.len().min(MAX_HEAD)]) else {
        return if rest.len() >= MAX_HEAD {
            Err(ParseError::TooLong)
        } else {
            Ok(None)
        };
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
    let mut keep_alive = minor == 1;
    let mut content_length = None;
    for line in lines {
        let (name, value) = header(line).ok_or(ParseError::Header)?;
        if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                keep_alive = false;
            } else if has_token(value, b"keep-alive") {
                keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_u64(value).ok_or(ParseError::ContentLength)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(ParseError::ContentLength);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            return Err(ParseError::TransferEncoding);
        }
    }
    let request = Request {
        method,
        path,
        minor,
        keep_alive,
        content_length: content_length.unwrap_or(0),
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

/// Length of the head (through its empty line) if `buf` starts with a complete one.
/// Lines end in CRLF or a bare LF.
pub(crate) fn head_len(buf: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(nl) = buf[start..].iter().position(|&b| b == b'\n') {
        let line = &buf[start..start + nl];
        if start > 0 && (line.is_empty() || line == b"\r") {
            return Some(start + nl + 1);
        }
        start += nl + 1;
    }
    None
}

/// The non-empty lines of a complete head, without their line endings.
pub(crate) fn lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    head.split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// Splits `Name: value` (value trimmed). `None` for a line without a valid name or colon.
pub(crate) fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    Some((name, value.trim_ascii()))
}

/// Whether a comma-separated header value holds `token` (case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// A decimal number of at most 19 digits (no sign, no spaces).
pub(crate) fn parse_u64(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

/// RFC 9110 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
