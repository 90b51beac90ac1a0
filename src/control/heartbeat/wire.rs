//! Heartbeat 3's cluster messages as they cross UDP port 694: parse, check, emit.
//!
//! Learnt from captures of two heartbeat 3.0.6 nodes (`ucast`, `auth 1` / `1 sha1 KEY`) and from
//! the sha1 plugin in a debugger, not from its source. A message is heartbeat's "netstring"
//! form:
//!
//! ```text
//! ###\n
//! <len>:(<type>)<name>=<value>,     one per field, <len> counts "(type)name=value"
//! ...
//! <len>:(0)auth=<n> <hex digest>,   the message's own authentication (inner)
//! %%%\n
//! <len>:<n> <hex digest>,           the wire form's authentication (outer)
//! ```
//!
//! Types: 0 = a string, 1 = binary (raw bytes, e.g. `srcuuid`); others (nested messages,
//! lists, compressed) are refused. Both digests are HMAC-SHA1 with the authkeys secret:
//! - inner (`add_msg_auth`): over the "classic" text of every field but `auth`, in order,
//!   `name=value\n` for a string, `(1)name=<base64 of the bytes>\n` for a binary field;
//! - outer: over the bytes from `###\n` up to and including `%%%\n`.
//!
//! A received message must pass both and use our key index; anything else is an error (the
//! caller drops and counts it). Parsing borrows the datagram; emitting writes straight into
//! the caller's buffer and feeds both HMACs on the way: nothing is allocated.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

/// Heartbeat's UDP port (`udpport`).
pub const PORT: u16 = 694;
/// Most fields in a message we take (heartbeat's own have at most a dozen).
pub const MAX_FIELDS: usize = 24;
/// Field type: a string.
pub const STRING: u8 = 0;
/// Field type: raw bytes.
pub const BINARY: u8 = 1;

const START: &[u8] = b"###\n";
const END: &[u8] = b"%%%\n";
/// Hex digits of a SHA-1 digest.
const DIGEST_HEX: usize = 40;

type HmacSha1 = Hmac<Sha1>;

/// Why a datagram is not a message we take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Not the netstring form (`###`, `len:...,` fields, `%%%`, trailer) or cut short.
    #[error("malformed heartbeat message")]
    Malformed,
    /// A field of a type other than string or binary (nested, list, compressed).
    #[error("unsupported field type")]
    Unsupported,
    /// More than [`MAX_FIELDS`] fields.
    #[error("too many fields")]
    TooManyFields,
    /// No `auth` field, another key index, or a digest that does not match.
    #[error("authentication failed")]
    BadAuth,
    /// The buffer is too small for the message being emitted.
    #[error("buffer too small")]
    Truncated,
}

/// The shared secret of authkeys (`auth N` / `N sha1 KEY`).
#[derive(Clone)]
pub struct Auth {
    index: u8,
    keyed: HmacSha1,
}

impl Auth {
    /// Key number `index` (1..=15 in authkeys) with secret `key`.
    pub fn sha1(index: u8, key: &[u8]) -> Auth {
        Auth {
            index,
            keyed: HmacSha1::new_from_slice(key).expect("HMAC takes a key of any length"),
        }
    }

    pub fn index(&self) -> u8 {
        self.index
    }

    fn mac(&self) -> HmacSha1 {
        self.keyed.clone()
    }
}

/// One field: its type, name and value (borrowed from the datagram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Field<'a> {
    pub kind: u8,
    pub name: &'a [u8],
    pub value: &'a [u8],
}

/// A checked message: its fields in wire order, `auth` left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    fields: [Field<'a>; MAX_FIELDS],
    len: usize,
}

impl<'a> Message<'a> {
    /// The fields in wire order.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields[..self.len]
    }

    /// The value of the first field called `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.fields()
            .iter()
            .find(|f| f.name == name.as_bytes())
            .map(|f| f.value)
    }

    /// A string field as text.
    pub fn text(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// A field holding a number in lowercase hex (`seq`, `hg`, `ts`, `ackseq`).
    pub fn hex(&self, name: &str) -> Option<u64> {
        let v = self.text(name)?;
        if v.is_empty() || v.len() > 16 {
            return None;
        }
        u64::from_str_radix(v, 16).ok()
    }
}

/// Parses and authenticates one datagram.
pub fn parse<'a>(datagram: &'a [u8], auth: &Auth) -> Result<Message<'a>, WireError> {
    let rest = datagram.strip_prefix(START).ok_or(WireError::Malformed)?;
    let mut msg = Message {
        fields: [Field::default(); MAX_FIELDS],
        len: 0,
    };
    let mut inner: Option<&[u8]> = None;
    let mut at = rest;
    while !at.starts_with(END) {
        let (item, next) = netstring(at)?;
        at = next;
        let field = field(item)?;
        if field.kind == STRING && field.name == b"auth" {
            inner = Some(field.value);
            continue;
        }
        if msg.len == MAX_FIELDS {
            return Err(WireError::TooManyFields);
        }
        msg.fields[msg.len] = field;
        msg.len += 1;
    }
    let signed = datagram.len() - at.len() + END.len();
    let (trailer, after) = netstring(&at[END.len()..])?;
    if !after.is_empty() {
        return Err(WireError::Malformed);
    }
    let mut outer = auth.mac();
    outer.update(&datagram[..signed]);
    check_digest(trailer, auth, outer)?;
    let mut classic = auth.mac();
    for f in msg.fields() {
        feed_classic(&mut classic, f);
    }
    check_digest(inner.ok_or(WireError::BadAuth)?, auth, classic)?;
    Ok(msg)
}

/// `len:payload,` at the start of `at`: the payload and what follows.
fn netstring(at: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let colon = at
        .iter()
        .take(6)
        .position(|&b| b == b':')
        .ok_or(WireError::Malformed)?;
    let digits = &at[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(WireError::Malformed);
    }
    let len = digits
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    let body = &at[colon + 1..];
    if body.len() <= len || body[len] != b',' {
        return Err(WireError::Malformed);
    }
    Ok((&body[..len], &body[len + 1..]))
}

/// `(type)name=value`.
fn field(item: &[u8]) -> Result<Field<'_>, WireError> {
    if item.len() < 4 || item[0] != b'(' || item[2] != b')' || !item[1].is_ascii_digit() {
        return Err(WireError::Malformed);
    }
    let kind = item[1] - b'0';
    if kind != STRING && kind != BINARY {
        return Err(WireError::Unsupported);
    }
    let rest = &item[3..];
    let eq = rest
        .iter()
        .position(|&b| b == b'=')
        .ok_or(WireError::Malformed)?;
    if eq == 0 {
        return Err(WireError::Malformed);
    }
    Ok(Field {
        kind,
        name: &rest[..eq],
        value: &rest[eq + 1..],
    })
}

/// `N <40 hex digits>` against the digest `mac` computes, with our key index.
fn check_digest(token: &[u8], auth: &Auth, mac: HmacSha1) -> Result<(), WireError> {
    let mut idx = [0u8; 3];
    let index = fmt_dec(&mut idx, u64::from(auth.index));
    let ok = token.len() == index.len() + 1 + DIGEST_HEX
        && token.starts_with(index)
        && token[index.len()] == b' ';
    if !ok {
        return Err(WireError::BadAuth);
    }
    let mut want = [0u8; DIGEST_HEX];
    hex_digest(mac, &mut want);
    if want[..] == token[index.len() + 1..] {
        Ok(())
    } else {
        Err(WireError::BadAuth)
    }
}

/// The digest as 40 lowercase hex digits.
fn hex_digest(mac: HmacSha1, out: &mut [u8; DIGEST_HEX]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in mac.finalize().into_bytes().iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
}

/// One field's line of the classic text the inner digest covers.
fn feed_classic(mac: &mut HmacSha1, f: &Field) {
    if f.kind == BINARY {
        mac.update(b"(1)");
    }
    mac.update(f.name);
    mac.update(b"=");
    if f.kind == BINARY {
        base64(f.value, |chunk| mac.update(chunk));
    } else {
        mac.update(f.value);
    }
    mac.update(b"\n");
}

/// Standard base64 (with `=` padding), four characters at a time.
fn base64(bytes: &[u8], mut out: impl FnMut(&[u8])) {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let mut quad = [b'='; 4];
        for (i, q) in quad.iter_mut().enumerate().take(chunk.len() + 1) {
            *q = ALPHABET[((n >> (18 - 6 * i)) & 63) as usize];
        }
        out(&quad);
    }
}

/// `n` in decimal at the end of `buf`: the digits written.
fn fmt_dec(buf: &mut [u8], mut n: u64) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// `n` in lowercase hex without leading zeros (heartbeat's `%lx`).
pub fn fmt_hex(buf: &mut [u8; 16], mut n: u64) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = HEX[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Writes one message into a buffer, field by field, then signs it ([`Writer::finish`]).
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    classic: HmacSha1,
    auth: Auth,
    overflow: bool,
}

impl<'b> Writer<'b> {
    pub fn new(buf: &'b mut [u8], auth: &Auth) -> Writer<'b> {
        let mut w = Writer {
            buf,
            len: 0,
            classic: auth.mac(),
            auth: auth.clone(),
            overflow: false,
        };
        w.put(START);
        w
    }

    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            _ => self.overflow = true,
        }
    }

    fn raw_field(&mut self, kind: u8, name: &[u8], value: &[u8]) {
        let mut digits = [0u8; 20];
        let len = 3 + name.len() + 1 + value.len();
        self.put(fmt_dec(&mut digits, len as u64));
        self.put(&[b':', b'(', b'0' + kind, b')']);
        self.put(name);
        self.put(b"=");
        self.put(value);
        self.put(b",");
    }

    /// A string field.
    pub fn text(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.raw_field(STRING, name.as_bytes(), value);
        feed_classic(
            &mut self.classic,
            &Field {
                kind: STRING,
                name: name.as_bytes(),
                value,
            },
        );
        self
    }

    /// A string field holding `n` in hex.
    pub fn hex(&mut self, name: &str, n: u64) -> &mut Self {
        let mut buf = [0u8; 16];
        let digits = fmt_hex(&mut buf, n);
        self.text(name, digits)
    }

    /// A binary field.
    pub fn binary(&mut self, name: &str, value: &[u8]) -> &mut Self {
        self.raw_field(BINARY, name.as_bytes(), value);
        feed_classic(
            &mut self.classic,
            &Field {
                kind: BINARY,
                name: name.as_bytes(),
                value,
            },
        );
        self
    }

    /// Adds the `auth` field, the end marker and the trailer: the message's length.
    pub fn finish(mut self) -> Result<usize, WireError> {
        let mut idx = [0u8; 3];
        let index = fmt_dec(&mut idx, u64::from(self.auth.index));
        let mut token = [0u8; 3 + 1 + DIGEST_HEX];
        let n = index.len() + 1 + DIGEST_HEX;
        token[..index.len()].copy_from_slice(index);
        token[index.len()] = b' ';
        let mut hex = [0u8; DIGEST_HEX];
        hex_digest(self.classic.clone(), &mut hex);
        token[index.len() + 1..n].copy_from_slice(&hex);
        self.raw_field(STRING, b"auth", &token[..n]);
        self.put(END);
        if self.overflow {
            return Err(WireError::Truncated);
        }
        let mut outer = self.auth.mac();
        outer.update(&self.buf[..self.len]);
        hex_digest(outer, &mut hex);
        token[index.len() + 1..n].copy_from_slice(&hex);
        let mut digits = [0u8; 20];
        self.put(fmt_dec(&mut digits, n as u64));
        self.put(b":");
        self.put(&token[..n]);
        self.put(b",");
        if self.overflow {
            return Err(WireError::Truncated);
        }
        Ok(self.len)
    }
}

#[cfg(test)]
mod tests;
