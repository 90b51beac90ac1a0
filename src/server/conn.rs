//! One client connection of `tapvs server`: read request heads, answer them, keep alive or close.
//!
//! A request read while the server hangs is never answered, and neither is any later one on its
//! connection (HTTP/1.1 answers in order): the connection reads and counts requests until the
//! client closes it.

use super::Shared;
use super::http::{self, ConnHeader, Method, ParseError, Route};
use super::recv::RecvBuf;
use std::sync::atomic::Ordering;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Body bytes of every response come from here: no per-request allocation of N bytes.
static BODY: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// Bodies up to this size are copied behind the head so the response leaves in one write.
const INLINE_BODY: u64 = 16 * 1024;

/// The body of `GET /` is this prefix, the server's name and a newline.
const ROOT_PREFIX: &[u8] = b"tapvs server ";

/// The response chosen for one request: a head (and small body) in `out`, then `stream_body`
/// bytes from [`BODY`].
pub(crate) struct Answer {
    /// Body bytes still to stream after `out` (a body too long to write at once).
    pub stream_body: u64,
    /// Close once answered.
    pub close: bool,
}

/// Serves one connection until the client closes it, asks to, or sends garbage.
pub(super) async fn serve(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut buf = RecvBuf::new(2 * http::MAX_HEAD);
    let mut out = Vec::with_capacity(512);
    loop {
        out.clear();
        let (answer, consumed, body) = match http::parse_request(buf.filled()) {
            Ok(None) => match buf.fill(&mut stream).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            },
            // A whole request head (or garbage) is in: whether to answer is decided now.
            _ if shared.hanging() => return hang(&mut stream, &mut buf, shared).await,
            Ok(Some((req, n))) => (answer(&req, &shared.name, &mut out), n, req.content_length),
            Err(e) => (refuse(e, &shared.name, &mut out), buf.filled().len(), 0),
        };
        buf.consume(consumed);
        if !matches!(buf.skip(&mut stream, body).await, Ok(n) if n == body) {
            return;
        }
        if send(&mut stream, &out, answer.stream_body).await.is_err() {
            return;
        }
        shared.requests.fetch_add(1, Ordering::Relaxed);
        if answer.close {
            let _ = stream.shutdown().await;
            return;
        }
    }
}

/// Reads the requests in `buf` and behind it, answering none, until the client closes. Counts
/// each as unanswered; garbage counts once, then the rest is read and dropped unparsed.
async fn hang(stream: &mut TcpStream, buf: &mut RecvBuf, shared: &Shared) {
    loop {
        match http::parse_request(buf.filled()) {
            Ok(Some((req, n))) => {
                shared.tcp_unanswered.fetch_add(1, Ordering::Relaxed);
                let body = req.content_length;
                buf.consume(n);
                if !matches!(buf.skip(stream, body).await, Ok(n) if n == body) {
                    return;
                }
                continue;
            }
            Ok(None) => {}
            Err(_) => {
                shared.tcp_unanswered.fetch_add(1, Ordering::Relaxed);
                return drain(stream, buf).await;
            }
        }
        if matches!(buf.fill(stream).await, Ok(0) | Err(_)) {
            return;
        }
    }
}

/// Reads and drops everything until the client closes.
async fn drain(stream: &mut TcpStream, buf: &mut RecvBuf) {
    loop {
        buf.clear();
        if matches!(buf.fill(stream).await, Ok(0) | Err(_)) {
            return;
        }
    }
}

/// Writes the head (and any small body) of the answer to `req` into `out`.
pub(crate) fn answer(req: &http::Request<'_>, name: &str, out: &mut Vec<u8>) -> Answer {
    answer_inlining(req, name, out, INLINE_BODY)
}

/// [`answer`] with a body of `/bytes/N` written into `out` only up to `inline` bytes (the
/// emulated real servers, `emu::host`, stream every such body instead).
pub(crate) fn answer_inlining(
    req: &http::Request<'_>,
    name: &str,
    out: &mut Vec<u8>,
    inline: u64,
) -> Answer {
    let close = !req.keep_alive;
    let conn = match (req.keep_alive, req.minor) {
        (false, _) => ConnHeader::Close,
        (true, 0) => ConnHeader::KeepAlive,
        (true, _) => ConnHeader::None,
    };
    let route = match req.method {
        Method::Other => None,
        Method::Get | Method::Head => Some(http::route(req.path)),
    };
    let (status, len) = match route {
        None => (405, 0),
        Some(Route::Root) => (200, (ROOT_PREFIX.len() + name.len() + 1) as u64),
        Some(Route::Health) => (200, 2),
        Some(Route::Bytes(n)) => (200, n),
        Some(Route::BadBytes) => (400, 0),
        Some(Route::NotFound) => (404, 0),
    };
    http::write_head(out, status, name, len, conn);
    let mut stream_body = 0;
    if req.method == Method::Get {
        match route {
            Some(Route::Root) => {
                out.extend_from_slice(ROOT_PREFIX);
                out.extend_from_slice(name.as_bytes());
                out.push(b'\n');
            }
            Some(Route::Health) => out.extend_from_slice(b"ok"),
            // Bounded by INLINE_BODY at most, so the cast is exact.
            Some(Route::Bytes(n)) if n <= inline.min(INLINE_BODY) => {
                out.extend_from_slice(&BODY[..n as usize])
            }
            Some(Route::Bytes(n)) => stream_body = n,
            _ => {}
        }
    }
    Answer { stream_body, close }
}

/// A 400 (or 505) for a head that could not be parsed; the connection is then closed.
fn refuse(e: ParseError, name: &str, out: &mut Vec<u8>) -> Answer {
    let status = if e == ParseError::Version { 505 } else { 400 };
    http::write_head(out, status, name, 0, ConnHeader::Close);
    Answer {
        stream_body: 0,
        close: true,
    }
}

/// Sends the head in `out`, then `body` bytes from the static buffer.
async fn send(stream: &mut TcpStream, out: &[u8], mut body: u64) -> std::io::Result<()> {
    stream.write_all(out).await?;
    while body > 0 {
        let n = body.min(BODY.len() as u64);
        // At most BODY.len(), so the cast is exact.
        stream.write_all(&BODY[..n as usize]).await?;
        body -= n;
    }
    Ok(())
}
