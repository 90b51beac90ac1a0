//! One worker of a [`super::SimClient`]: its socket, the connection on it, and the request in
//! flight, read back with the real load generator's response parser (`crate::client::http`).
//! Errors are told apart as `tapvs client` tells them: an RST to the SYN is `refused`, a
//! connection closed by RST while in use `reset`, a FIN before the whole response `short`,
//! no whole response by the deadline `timeout`.

use crate::client::http::{self, Chunked, Framing};
use crate::client::record::ErrorKind;
use smoltcp::iface::{Context, SocketHandle};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpEndpoint;

/// How long a worker waits for the server's FIN after a `Connection: close` response.
pub const LINGER: Duration = Duration::from_millis(100);

/// Receive buffer per worker: a whole response head.
const BUF_LEN: usize = 2 * http::MAX_HEAD;

/// The connection on a worker's socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conn {
    None,
    /// Open (or opening); `used` requests sent on it.
    Open {
        used: u64,
    },
    /// Closed by us after a response; the socket is dropped at `until` at the latest.
    Closing {
        until: Instant,
    },
}

/// Where the response stands.
#[derive(Debug, Clone)]
enum Body {
    Head,
    Length(u64),
    Chunked(Chunked),
    UntilClose,
}

/// The request in flight.
#[derive(Debug, Clone)]
struct Request {
    deadline: Instant,
    close: bool,
    sent: usize,
    established: bool,
    reused: bool,
    body: Body,
    status: u16,
    keep_alive: bool,
    response_bytes: u64,
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

#[derive(Debug)]
pub struct Worker {
    pub handle: SocketHandle,
    conn: Conn,
    req: Option<Request>,
    buf: Vec<u8>,
    len: usize,
    /// The `X-Server` of the last response (`?` when absent).
    pub server: String,
    /// When the current (or last) request was intended.
    pub at: Instant,
    /// Closed loop: not before this time (think time or error backoff).
    pub not_before: Instant,
}

impl Worker {
    pub fn new(handle: SocketHandle) -> Self {
        Self {
            handle,
            conn: Conn::None,
            req: None,
            buf: vec![0; BUF_LEN],
            len: 0,
            server: String::with_capacity(32),
            at: Instant::ZERO,
            not_before: Instant::ZERO,
        }
    }

    /// Whether the worker can take a request (nothing in flight, no connection closing).
    pub fn is_free(&self) -> bool {
        self.req.is_none() && !matches!(self.conn, Conn::Closing { .. })
    }

    /// The earliest time the worker must be looked at again.
    pub fn deadline(&self) -> Option<Instant> {
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
            if let Conn::Closing { until } = self.conn
                && (!sock.is_open() || now >= until)
            {
                sock.abort();
                self.conn = Conn::None;
            }
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
            sock.close();
            self.conn = Conn::Closing {
                until: now + LINGER,
            };
        }
        self.req = None;
        Some(done)
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

enum Progress {
    Wait,
    Done,
    Failed(ErrorKind),
}

/// Sends what is left of the request and reads what has come of the response.
fn progress(
    req: &mut Request,
    sock: &mut tcp::Socket<'_>,
    request: &[u8],
    buf: &mut [u8],
    len: &mut usize,
    server: &mut String,
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
    loop {
        let got = sock.recv_slice(&mut buf[*len..]).unwrap_or(0);
        *len += got;
        let used = match read(req, &buf[..*len], server) {
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

/// Takes what it can of `data` for the response; returns how many bytes it used.
fn read(req: &mut Request, data: &[u8], server: &mut String) -> Result<usize, ErrorKind> {
    match &mut req.body {
        Body::Head => match http::parse_head(data) {
            Ok(None) if data.len() >= BUF_LEN => Err(ErrorKind::Other),
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
