//! Sockets of the load generator: connect from a chosen source address, send a request, read
//! the whole response. One [`Exchanger`] per worker reuses its buffers and its connection.

use super::http::{self, Chunked, Framing};
use super::record::ErrorKind;
use crate::server::recv::RecvBuf;
use crate::sockopt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout_at};

/// How long a worker waits for the server's FIN after a `Connection: close` response.
const LINGER: Duration = Duration::from_millis(100);

/// Receive buffer per worker: a whole response head, and big bodies in few reads.
const BUF_LEN: usize = 2 * http::MAX_HEAD;

/// What one exchange did; `error` is `None` for a complete 2xx response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Exchange {
    pub error: Option<ErrorKind>,
    pub new_conn: bool,
    /// The request failed on a connection that had already served one: a long-lived
    /// connection broken (reset, timeout or bad answer).
    pub broken: bool,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// When the response was complete (or the request failed).
    pub done: Option<Instant>,
}

/// The complete response to one request.
struct Response {
    status: u16,
    bytes: u64,
    /// Whether the connection is done (either side asked to close).
    close: bool,
}

/// A worker's connection, buffers and the last response's server name.
#[derive(Debug)]
pub struct Exchanger {
    conn: Option<(TcpStream, u64)>,
    buf: RecvBuf,
    /// The `X-Server` of the last response (`?` when absent).
    pub server: String,
}

impl Default for Exchanger {
    fn default() -> Self {
        Self {
            conn: None,
            buf: RecvBuf::new(BUF_LEN),
            server: String::new(),
        }
    }
}

/// What every exchange of a run shares.
#[derive(Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// The request with and without `Connection: close`.
    pub request_close: Vec<u8>,
    pub request_keep: Vec<u8>,
    /// Close after this many requests on one connection (1: a new connection per request).
    pub requests_per_conn: u64,
}

impl Exchanger {
    /// Sends one request (connecting first from `source` if needed) and reads its response,
    /// all before `deadline`. A broken connection is dropped; the next call opens a new one.
    pub async fn exchange(
        &mut self,
        target: &Target,
        source: impl FnOnce() -> IpAddr,
        deadline: Instant,
    ) -> Exchange {
        let mut ex = Exchange::default();
        let reused = self.conn.as_ref().is_some_and(|(_, used)| *used > 0);
        let result = match timeout_at(deadline, self.try_exchange(target, source, &mut ex)).await {
            Ok(r) => r,
            Err(_) => Err(ErrorKind::Timeout),
        };
        let done = *ex.done.get_or_insert_with(Instant::now);
        match result {
            Ok(r) => {
                if !(200..300).contains(&r.status) {
                    ex.error = Some(ErrorKind::Http);
                }
                if r.close {
                    self.linger(done + LINGER).await;
                }
            }
            Err(kind) => {
                ex.error = Some(kind);
                ex.broken = reused;
                self.conn = None;
            }
        }
        ex
    }

    /// Waits (at most until `until`) for the server to close the connection, then drops it.
    /// The server then holds the TIME_WAIT, and the client's source ports stay free.
    async fn linger(&mut self, until: Instant) {
        if let Some((stream, _)) = &mut self.conn {
            self.buf.clear();
            let _ = timeout_at(until, self.buf.fill(stream)).await;
        }
        self.conn = None;
    }

    async fn try_exchange(
        &mut self,
        target: &Target,
        source: impl FnOnce() -> IpAddr,
        ex: &mut Exchange,
    ) -> Result<Response, ErrorKind> {
        let (stream, used) = match &mut self.conn {
            Some(c) => c,
            None => {
                let stream = connect(source(), target.addr)
                    .await
                    .map_err(|e| ErrorKind::of_io(&e))?;
                ex.new_conn = true;
                self.buf.clear();
                self.conn.insert((stream, 0))
            }
        };
        *used += 1;
        let close = target.requests_per_conn > 0 && *used >= target.requests_per_conn;
        let request = if close {
            &target.request_close
        } else {
            &target.request_keep
        };
        stream
            .write_all(request)
            .await
            .map_err(|e| ErrorKind::of_io(&e))?;
        ex.request_bytes = request.len() as u64;
        let response = read_response(stream, &mut self.buf, &mut self.server).await?;
        ex.response_bytes = response.bytes;
        ex.done = Some(Instant::now());
        Ok(Response {
            close: close || response.close,
            ..response
        })
    }
}

/// A TCP connection from `source` (any port) to `target`.
async fn connect(source: IpAddr, target: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = if target.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_nodelay(true)?;
    bind_address_no_port(&socket);
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(target).await
}

/// Fails unless `source` is an address this host (namespace) can send from.
pub fn check_source(source: IpAddr) -> std::io::Result<()> {
    std::net::UdpSocket::bind(SocketAddr::new(source, 0)).map(drop)
}

/// Asks the kernel to pick the source port at connect time, per destination, rather than at
/// bind time: thousands of connections per second from one address then do not run out of
/// ports. Best effort: without it bind still works, with fewer ports.
fn bind_address_no_port(socket: &TcpSocket) {
    let _ = sockopt::set_int(socket, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1);
}

/// Reads one whole response from `stream`; leftover bytes stay in `buf`.
async fn read_response(
    stream: &mut TcpStream,
    buf: &mut RecvBuf,
    server: &mut String,
) -> Result<Response, ErrorKind> {
    let io = |e: std::io::Error| ErrorKind::of_io(&e);
    let (head, head_len) = loop {
        match http::parse_head(buf.filled()) {
            Ok(Some(parsed)) => break parsed,
            Ok(None) if buf.is_full() => return Err(ErrorKind::Other),
            Ok(None) => {
                if buf.fill(stream).await.map_err(io)? == 0 {
                    return Err(ErrorKind::Short);
                }
            }
            Err(_) => return Err(ErrorKind::Other),
        }
    };
    server.clear();
    match &head.server {
        Some(range) => server.push_str(&String::from_utf8_lossy(&buf.filled()[range.clone()])),
        None => server.push('?'),
    }
    buf.consume(head_len);
    let body = match head.framing {
        Framing::Length(n) => {
            if buf.skip(stream, n).await.map_err(io)? < n {
                return Err(ErrorKind::Short);
            }
            n
        }
        Framing::UntilClose => buf.skip(stream, u64::MAX).await.map_err(io)?,
        Framing::Chunked => {
            let (mut decoder, mut n) = (Chunked::default(), 0);
            loop {
                let used = decoder.feed(buf.filled()).map_err(|_| ErrorKind::Other)?;
                buf.consume(used);
                n += used as u64;
                if decoder.is_done() {
                    break n;
                }
                if buf.fill(stream).await.map_err(io)? == 0 {
                    return Err(ErrorKind::Short);
                }
            }
        }
    };
    Ok(Response {
        status: head.status,
        bytes: head_len as u64 + body,
        close: !head.keep_alive,
    })
}
