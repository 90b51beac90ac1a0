//! One worker of a [`super::SimClient`]: its socket, the connection on it, and the request in
//! flight, read back with the real load generator's response parser (`crate::client::http`).
//! Errors are told apart as `tapvs client` tells them: an RST to the SYN is `refused`, a
//! connection closed by RST while in use `reset`, a FIN before the whole response `short`,
//! no whole response by the deadline `timeout`.

use super::conns::ConnId;
use super::head_memo::HeadMemo;
use super::response::{Body, Progress, Request, progress};
use crate::client::record::ErrorKind;
use smoltcp::iface::Context;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

/// How long a worker waits for the server's FIN after a `Connection: close` response.
pub const LINGER: Duration = Duration::from_millis(100);

/// The connection on a worker's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    None,
    /// Open (or opening); `used` requests sent on it.
    Open {
        used: u64,
    },
    /// Done after a response: closed once the server's FIN is in (as `tapvs client` drops
    /// the connection then), and dropped at `until` at the latest.
    Closing {
        until: Instant,
    },
}

/// What became of a request (the fields of `crate::client::record::Outcome` a worker knows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub error: Option<ErrorKind>,
    pub new_conn: bool,
    pub broken: bool,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// A UDP request in flight (see [`super::datagram`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflight {
    pub seq: u64,
    pub deadline: Instant,
    /// The request datagram's length.
    pub request_bytes: u64,
}

#[derive(Debug)]
pub struct Worker {
    /// Its TCP socket; `None` for UDP, where the workers share one socket per source.
    pub handle: Option<ConnId>,
    /// UDP: the request waiting for its answer.
    pub datagram: Option<Inflight>,
    conn: Conn,
    req: Option<Request>,
    buf: Vec<u8>,
    len: usize,
    /// The `X-Server` of the last response (`?` when absent).
    pub server: String,
    /// The last response head parsed.
    memo: HeadMemo,
    /// When the current (or last) request was intended.
    pub at: Instant,
    /// Closed loop: not before this time (think time or error backoff).
    pub not_before: Instant,
}

impl Worker {
    /// A worker on its own TCP socket, reading into `read_len` bytes, or (`None`) a UDP
    /// worker.
    pub fn new(handle: Option<ConnId>, read_len: usize) -> Self {
        Self {
            handle,
            datagram: None,
            conn: Conn::None,
            req: None,
            buf: if handle.is_some() {
                vec![0; read_len]
            } else {
                Vec::new()
            },
            len: 0,
            server: String::with_capacity(32),
            memo: HeadMemo::default(),
            at: Instant::ZERO,
            not_before: Instant::ZERO,
        }
    }

    /// Whether the worker can take a request (nothing in flight, no connection closing).
    pub fn is_free(&self) -> bool {
        self.req.is_none() && self.datagram.is_none() && !matches!(self.conn, Conn::Closing { .. })
    }

    /// The earliest time the worker must be looked at again.
    pub fn deadline(&self) -> Option<Instant> {
        if let Some(d) = self.datagram {
            return Some(d.deadline);
        }
        match (&self.req, self.conn) {
            (Some(r), _) => Some(r.deadline),
            (None, Conn::Closing { until }) => Some(until),
            _ => None,
        }
    }

    /// Whether the next request can go on the open connection.
    pub fn reusable(&self, sock: &tcp::Socket<'_>) -> bool {
        matches!(self.conn, Conn::Open { .. }) && sock.may_send()
    }

    /// Starts a request due by `deadline`: on a new connection from `local`, or (`None`) on
    /// the open one. `limit`: requests per connection (0: no limit).
    pub fn start(
        &mut self,
        cx: &mut Context,
        sock: &mut tcp::Socket<'_>,
        remote: IpEndpoint,
        local: Option<IpEndpoint>,
        deadline: Instant,
        limit: u64,
    ) -> Result<(), Done> {
        let used = match (local, self.conn) {
            (None, Conn::Open { used }) => used,
            (local, _) => {
                sock.abort();
                self.len = 0;
                self.conn = Conn::None;
                // Timestamps as Linux offers them on every connection (a peer without them
                // turned them off on this socket).
                super::acks::like_linux(sock);
                let connected = local.map(|l| sock.connect(cx, remote, l));
                if !matches!(connected, Some(Ok(()))) {
                    return Err(failed(ErrorKind::Other, false));
                }
                0
            }
        };
        self.conn = Conn::Open { used: used + 1 };
        self.req = Some(Request {
            deadline,
            close: limit > 0 && used + 1 >= limit,
            sent: 0,
            established: used > 0,
            reused: used > 0,
            body: Body::Head,
            status: 0,
            keep_alive: false,
            response_bytes: 0,
        });
        Ok(())
    }

    /// Moves the request on; `Some` when it is over. `requests`: with and without close.
    pub fn step(
        &mut self,
        now: Instant,
        sock: &mut tcp::Socket<'_>,
        requests: (&[u8], &[u8]),
    ) -> Option<Done> {
        let Some(req) = &mut self.req else {
            self.linger(now, sock);
            return None;
        };
        let request = if req.close { requests.0 } else { requests.1 };
        let result = progress(
            req,
            sock,
            request,
            &mut self.buf,
            &mut self.len,
            &mut self.server,
            &mut self.memo,
        );
        let error = match result {
            Progress::Done => None,
            Progress::Wait if now >= req.deadline => Some(ErrorKind::Timeout),
            Progress::Wait => return None,
            Progress::Failed(kind) => Some(kind),
        };
        let new_conn = !req.reused && req.established;
        let mut done = Done {
            error,
            new_conn,
            broken: error.is_some() && req.reused,
            request_bytes: req.sent as u64,
            response_bytes: req.response_bytes,
        };
        if error.is_none() && !(200..300).contains(&req.status) {
            done.error = Some(ErrorKind::Http);
        }
        if error.is_some() {
            sock.abort();
            self.conn = Conn::None;
        } else if req.close || !req.keep_alive {
            self.conn = Conn::Closing {
                until: now + LINGER,
            };
            // The server's FIN may have come with the response.
            self.linger(now, sock);
        }
        self.req = None;
        Some(done)
    }

    /// A closing connection: our FIN once the server's is in (it carries the ACK of theirs,
    /// as Linux's does); the socket is dropped once closed, or at `until`.
    fn linger(&mut self, now: Instant, sock: &mut tcp::Socket<'_>) {
        let Conn::Closing { until } = self.conn else {
            return;
        };
        if sock.state() == tcp::State::CloseWait {
            sock.close();
        }
        if !sock.is_open() || now >= until {
            sock.abort();
            self.conn = Conn::None;
        }
    }
}

/// A request that failed before anything was sent.
pub fn failed(kind: ErrorKind, new_conn: bool) -> Done {
    Done {
        error: Some(kind),
        new_conn,
        broken: false,
        request_bytes: 0,
        response_bytes: 0,
    }
}
