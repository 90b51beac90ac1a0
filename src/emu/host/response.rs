//! The response side of a simulated client's request: the request in flight, and reading its
//! response with the real load generator's parser (`crate::client::http`): head, then a body
//! framed by length, chunks or the connection's end. Malformed responses are `other` errors.

use super::head_memo::HeadMemo;
use crate::client::http::{self, Chunked, Framing};
use crate::client::record::ErrorKind;
use smoltcp::socket::tcp;
use smoltcp::time::Instant;

/// Receive buffer per worker, at most: a whole response head.
pub const BUF_LEN: usize = 2 * http::MAX_HEAD;

/// Where the response stands.
#[derive(Debug, Clone)]
pub enum Body {
    Head,
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

/// The request in flight.
#[derive(Debug, Clone)]
pub struct Request {
    pub deadline: Instant,
    pub close: bool,
    pub sent: usize,
    pub established: bool,
    pub reused: bool,
    pub body: Body,
    pub status: u16,
    pub keep_alive: bool,
    pub response_bytes: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    Wait,
    Done,
    Failed(ErrorKind),
}

/// Sends what is left of the request and reads what has come of the response.
pub fn progress(
    req: &mut Request,
    sock: &mut tcp::Socket<'_>,
    request: &[u8],
    buf: &mut [u8],
    len: &mut usize,
    server: &mut String,
    memo: &mut HeadMemo,
) -> Progress {
    progress_reading(req, sock, request, (buf, len), (server, memo), true)
}

/// [`progress`] reading through `buf` always, as it did before [`in_place`] (the tests'
/// reference).
#[cfg(test)]
pub fn progress_copying(
    req: &mut Request,
    sock: &mut tcp::Socket<'_>,
    request: &[u8],
    buf: &mut [u8],
    len: &mut usize,
    server: &mut String,
    memo: &mut HeadMemo,
) -> Progress {
    progress_reading(req, sock, request, (buf, len), (server, memo), false)
}

fn progress_reading(
    req: &mut Request,
    sock: &mut tcp::Socket<'_>,
    request: &[u8],
    (buf, len): (&mut [u8], &mut usize),
    (server, memo): (&mut String, &mut HeadMemo),
    in_place_too: bool,
) -> Progress {
    if matches!(sock.state(), tcp::State::SynSent | tcp::State::SynReceived) {
        return Progress::Wait;
    }
    if !sock.is_open() {
        let kind = if req.established {
            ErrorKind::Reset
        } else {
            ErrorKind::Refused
        };
        return Progress::Failed(kind);
    }
    req.established = true;
    if req.sent < request.len() {
        req.sent += sock.send_slice(&request[req.sent..]).unwrap_or(0);
    }
    if in_place_too && let Some(over) = in_place(req, sock, buf, len, (&mut *server, &mut *memo)) {
        return over;
    }
    loop {
        let got = sock.recv_slice(&mut buf[*len..]).unwrap_or(0);
        *len += got;
        let used = match read(req, &buf[..*len], buf.len(), (&mut *server, &mut *memo)) {
            Ok(used) => used,
            Err(kind) => return Progress::Failed(kind),
        };
        buf.copy_within(used..*len, 0);
        *len -= used;
        match &req.body {
            Body::Length(0) => return Progress::Done,
            Body::Chunked(c) if c.is_done() => return Progress::Done,
            _ if got == 0 && used == 0 => break,
            _ => {}
        }
    }
    if !sock.may_recv() {
        // The server's FIN: the end of an until-close body, or a short response.
        return match req.body {
            Body::UntilClose => Progress::Done,
            _ => Progress::Failed(ErrorKind::Short),
        };
    }
    Progress::Wait
}

/// The loop of [`progress`] without its copies, when nothing is left over in `buf` and all
/// the socket holds fits `buf`: that loop would take all of it into `buf`, then [`read`] it
/// until the response is over or a read takes nothing. Reads it where it is instead, a
/// contiguous piece of the socket's buffer at a time, and keeps in `buf` what was not read
/// (with the socket's data after it), as the loop would have: a response's body is only
/// counted, never copied. `Some`: the response is over; `None`: the loop goes on.
fn in_place(
    req: &mut Request,
    sock: &mut tcp::Socket<'_>,
    buf: &mut [u8],
    len: &mut usize,
    (server, memo): (&mut String, &mut HeadMemo),
) -> Option<Progress> {
    let mut left = sock.recv_queue();
    if *len > 0 || left == 0 || left > buf.len() {
        return None;
    }
    loop {
        let data = sock.peek(left).ok()?;
        let piece = data.len();
        let (at, over) = read_piece(
            req,
            data,
            piece == left,
            buf.len(),
            (&mut *server, &mut *memo),
        );
        let rest = piece - at;
        buf[..rest].copy_from_slice(&data[at..]);
        *len = rest;
        // The piece is what one dequeue takes.
        let _ = sock.recv(|d| (piece.min(d.len()), ()));
        left -= piece;
        if over.is_some() || rest > 0 || left == 0 {
            if left > 0 {
                *len += sock.recv_slice(&mut buf[rest..]).unwrap_or(0);
            }
            return over;
        }
    }
}

/// [`read`]s `data` until the response is over or a read takes nothing; how much was read.
/// Short of the socket's `whole` data, only reads that take from a piece what they would take
/// from the whole are made (a head found whole in it; a body counted by its length or up to
/// the close), and an error is left for the whole to find.
fn read_piece(
    req: &mut Request,
    data: &[u8],
    whole: bool,
    room: usize,
    (server, memo): (&mut String, &mut HeadMemo),
) -> (usize, Option<Progress>) {
    let mut at = 0;
    loop {
        if !whole && matches!(req.body, Body::Chunked(_)) {
            return (at, None);
        }
        let used = match read(req, &data[at..], room, (&mut *server, &mut *memo)) {
            Ok(used) => used,
            Err(kind) if whole => return (at, Some(Progress::Failed(kind))),
            Err(_) => return (at, None),
        };
        at += used;
        match &req.body {
            Body::Length(0) => return (at, Some(Progress::Done)),
            Body::Chunked(c) if c.is_done() => return (at, Some(Progress::Done)),
            _ if used == 0 => return (at, None),
            _ => {}
        }
    }
}

/// Takes what it can of `data` (read into a buffer of `room` bytes) for the response;
/// returns how many bytes it used. A head is parsed through `memo`.
fn read(
    req: &mut Request,
    data: &[u8],
    room: usize,
    (server, memo): (&mut String, &mut HeadMemo),
) -> Result<usize, ErrorKind> {
    match &mut req.body {
        Body::Head => match memo.parse(data) {
            Ok(None) if data.len() >= room => Err(ErrorKind::Other),
            Ok(None) => Ok(0),
            Err(_) => Err(ErrorKind::Other),
            Ok(Some((head, n))) => {
                server.clear();
                match head.server.and_then(|r| std::str::from_utf8(&data[r]).ok()) {
                    Some(name) => server.push_str(name),
                    None => server.push('?'),
                }
                req.status = head.status;
                req.keep_alive = head.keep_alive;
                req.response_bytes = n as u64;
                req.body = match head.framing {
                    Framing::Length(n) => Body::Length(n),
                    Framing::Chunked => Body::Chunked(Chunked::default()),
                    Framing::UntilClose => Body::UntilClose,
                };
                Ok(n)
            }
        },
        Body::Length(left) => {
            // At most data.len(), so the cast is exact.
            let n = (*left).min(data.len() as u64) as usize;
            *left -= n as u64;
            req.response_bytes += n as u64;
            Ok(n)
        }
        Body::Chunked(decoder) => {
            let n = decoder.feed(data).map_err(|_| ErrorKind::Other)?;
            req.response_bytes += n as u64;
            Ok(n)
        }
        Body::UntilClose => {
            req.response_bytes += data.len() as u64;
            Ok(data.len())
        }
    }
}
