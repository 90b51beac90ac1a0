//! HTTP/1.x framing shared by `tapvs server` (requests) and the load generator (responses):
//! finding a head's end, splitting its lines and headers, and one pass over the headers that
//! decide framing and keep-alive. Pure, no I/O; malformed input is an error, never a panic.

/// Where a head's end lies in `buf`, whose first `max` bytes are searched: `Ok(None)` while more
/// may come, `Err(TooLong)` once `max` bytes have arrived without an end.
pub(crate) fn find_head(buf: &[u8], max: usize) -> Result<Option<usize>, TooLong> {
    match head_len(&buf[..buf.len().min(max)]) {
        Some(len) => Ok(Some(len)),
        None if buf.len() >= max => Err(TooLong),
        None => Ok(None),
    }
}

/// No end of head within the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

/// The headers that decide framing and keep-alive, read in one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fields<'a> {
    /// Keep-alive after any `Connection` header, starting from the version's default.
    pub keep_alive: bool,
    /// `Content-Length` (repeated values must agree).
    pub content_length: Option<u64>,
    /// The last `Transfer-Encoding` value.
    pub transfer_encoding: Option<&'a [u8]>,
    /// The `X-Server` value (which real server answered).
    pub server: Option<&'a [u8]>,
}

/// Why the header lines were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldError {
    /// A line without a valid name or colon.
    Header,
    /// A Content-Length that is not a number, or two that disagree.
    ContentLength,
}

/// Reads the header lines of a head; `keep_alive` is the version's default.
pub(crate) fn fields<'a>(
    lines: impl Iterator<Item = &'a [u8]>,
    keep_alive: bool,
) -> Result<Fields<'a>, FieldError> {
    let mut fields = Fields {
        keep_alive,
        ..Fields::default()
    };
    for line in lines {
        let (name, value) = header(line).ok_or(FieldError::Header)?;
        if name.eq_ignore_ascii_case(b"connection") {
            if has_token(value, b"close") {
                fields.keep_alive = false;
            } else if has_token(value, b"keep-alive") {
                fields.keep_alive = true;
            }
        } else if name.eq_ignore_ascii_case(b"content-length") {
            let n = parse_u64(value).ok_or(FieldError::ContentLength)?;
            if fields.content_length.is_some_and(|m| m != n) {
                return Err(FieldError::ContentLength);
            }
            fields.content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            fields.transfer_encoding = Some(value);
        } else if name.eq_ignore_ascii_case(b"x-server") {
            fields.server = Some(value);
        }
    }
    Ok(fields)
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
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
