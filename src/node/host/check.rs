//! Health checks of real servers from the host stack (ldirectord/keepalived checkers): a TCP
//! connect, an HTTP GET, a UDP request. One attempt at a time per check, on one smoltcp socket
//! opened once; the caller starts attempts, times them out (`cancel`) and keeps the verdicts.
//! No clock and no health policy here: just whether one attempt succeeded.

use smoltcp::iface::{Interface, SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::wire::IpEndpoint;
use std::net::SocketAddrV4;

/// Bytes of an HTTP answer looked at: the status line, and the body match within them.
const HTTP_RX: usize = 4096;
/// Receive buffer of a plain TCP check: it reads nothing.
const TCP_RX: usize = 64;
/// Send buffer of a TCP check (longer HTTP requests get a buffer of their length).
const TCP_TX: usize = 512;
/// Datagrams a UDP check holds, and the bytes of each.
const UDP_PACKETS: usize = 4;
const UDP_BYTES: usize = 512;

/// What a check does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckSpec {
    /// TCP connect: up when the handshake completes (then the socket is aborted, RST, so it is
    /// free at once).
    Tcp,
    /// HTTP/1.0 GET `path` with `Host:` the target address and `Connection: close`: up when the
    /// status is within `status_min..=status_max` and, if given, the body contains
    /// `body_contains`.
    Http {
        path: String,
        status_min: u16,
        status_max: u16,
        body_contains: Option<String>,
    },
    /// UDP: send `request` to the target, up when a datagram from the target arrives
    /// (containing `expect`, if given).
    Udp {
        request: Vec<u8>,
        expect: Option<Vec<u8>>,
    },
}

/// Why an attempt failed (a timeout is the caller's business: it calls `cancel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckError {
    /// The connection was refused or reset before it was established (TCP RST).
    Refused,
    /// The connection ended before a complete answer (HTTP).
    Closed,
    /// An HTTP status outside the range.
    Status(u16),
    /// The answer lacks the expected body / datagram content.
    Content,
    /// Not an HTTP status line.
    Malformed,
    /// The socket could not be opened or used (smoltcp refused connect/bind/send).
    Socket,
}

/// Where the current attempt is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No attempt, or its result was handed out.
    Idle,
    /// TCP: SYN sent, waiting for the handshake.
    Connecting,
    /// HTTP: request written, reading the answer. UDP: request sent, waiting for the answer.
    Waiting,
    /// Decided, not yet handed out by [`Check::poll`].
    Done(Result<(), CheckError>),
}

/// What HTTP asks and expects, and the answer so far.
struct Http {
    /// The whole request, formatted once.
    request: Vec<u8>,
    status_min: u16,
    status_max: u16,
    body_contains: Option<Vec<u8>>,
    answer: Box<[u8]>,
    len: usize,
}

enum Kind {
    Tcp,
    Http(Box<Http>),
    Udp {
        request: Vec<u8>,
        expect: Option<Vec<u8>>,
    },
}

/// One health check of one target: one socket, one attempt at a time.
pub struct Check {
    target: SocketAddrV4,
    handle: SocketHandle,
    kind: Kind,
    phase: Phase,
}

/// The request of an HTTP check of `path` on `target`: HTTP/1.0 GET, `Host:` the address (and
/// the port unless 80), `Connection: close`.
pub fn http_request(path: &str, target: SocketAddrV4) -> Vec<u8> {
    let host = match target.port() {
        80 => target.ip().to_string(),
        _ => target.to_string(),
    };
    format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n").into_bytes()
}

impl Check {
    /// Opens the check's socket in `sockets` (once: it is reused by every attempt).
    pub fn new(spec: CheckSpec, target: SocketAddrV4, sockets: &mut SocketSet<'static>) -> Check {
        let mut tcp_socket = |rx: usize, tx: usize| {
            let mut socket = tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; rx]),
                tcp::SocketBuffer::new(vec![0; tx]),
            );
            // The answer is acknowledged at once: nothing to piggyback on.
            socket.set_ack_delay(None);
            sockets.add(socket)
        };
        let (handle, kind) = match spec {
            CheckSpec::Tcp => (tcp_socket(TCP_RX, TCP_TX), Kind::Tcp),
            CheckSpec::Http {
                path,
                status_min,
                status_max,
                body_contains,
            } => {
                let request = http_request(&path, target);
                let http = Http {
                    status_min,
                    status_max,
                    body_contains: body_contains.map(String::into_bytes),
                    answer: vec![0; HTTP_RX].into_boxed_slice(),
                    len: 0,
                    request,
                };
                let handle = tcp_socket(HTTP_RX, http.request.len().max(TCP_TX));
                (handle, Kind::Http(Box::new(http)))
            }
            CheckSpec::Udp { request, expect } => {
                let buffer = |packets: usize, bytes: usize| {
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; packets],
                        vec![0; bytes],
                    )
                };
                let socket = udp::Socket::new(
                    buffer(UDP_PACKETS, UDP_PACKETS * UDP_BYTES),
                    buffer(1, request.len().max(UDP_BYTES)),
                );
                (sockets.add(socket), Kind::Udp { request, expect })
            }
        };
        Check {
            target,
            handle,
            kind,
            phase: Phase::Idle,
        }
    }

    /// Starts an attempt from `local_port` (aborting one still running): connects, or binds
    /// and sends the request. The frames go out at the next poll of `iface`.
    pub fn start(
        &mut self,
        iface: &mut Interface,
        sockets: &mut SocketSet<'static>,
        local_port: u16,
    ) -> Result<(), CheckError> {
        self.cancel(sockets);
        let remote = IpEndpoint::from(self.target);
        let mut connect = |sockets: &mut SocketSet<'static>| {
            let socket = sockets.get_mut::<tcp::Socket>(self.handle);
            match socket.connect(iface.context(), remote, local_port) {
                Ok(()) => Ok(Phase::Connecting),
                Err(_) => Err(CheckError::Socket),
            }
        };
        let phase = match &mut self.kind {
            Kind::Tcp => connect(sockets)?,
            Kind::Http(http) => {
                http.len = 0;
                connect(sockets)?
            }
            Kind::Udp { request, .. } => {
                let socket = sockets.get_mut::<udp::Socket>(self.handle);
                socket.bind(local_port).map_err(|_| CheckError::Socket)?;
                if socket.send_slice(request, remote).is_err() {
                    socket.close();
                    return Err(CheckError::Socket);
                }
                Phase::Waiting
            }
        };
        self.phase = phase;
        Ok(())
    }

    /// The result of the attempt, once (`None` while undecided or when none runs). Once
    /// decided, the socket is aborted (TCP, RST) or closed (UDP), ready for the next `start`.
    pub fn poll(&mut self, sockets: &mut SocketSet<'static>) -> Option<Result<(), CheckError>> {
        self.advance(sockets);
        match self.phase {
            Phase::Done(result) => {
                self.phase = Phase::Idle;
                Some(result)
            }
            _ => None,
        }
    }

    /// Abandons the attempt (a timeout): aborts the connection (RST) or closes the socket.
    pub fn cancel(&mut self, sockets: &mut SocketSet<'static>) {
        self.release(sockets);
        self.phase = Phase::Idle;
    }

    /// Whether an attempt was started and its result not yet handed out.
    pub fn is_running(&self) -> bool {
        self.phase != Phase::Idle
    }

    /// Moves the attempt on with what the socket holds: writes the HTTP request once
    /// connected, decides when it can. True when the socket has something new to send (the
    /// request, an RST), so the interface should be polled again.
    pub(super) fn advance(&mut self, sockets: &mut SocketSet<'static>) -> bool {
        let decided = match (&mut self.kind, self.phase) {
            (_, Phase::Idle | Phase::Done(_)) => return false,
            (Kind::Tcp, _) => match sockets.get::<tcp::Socket>(self.handle).state() {
                tcp::State::Closed => Some(Err(CheckError::Refused)),
                tcp::State::Established | tcp::State::CloseWait => Some(Ok(())),
                _ => None,
            },
            (Kind::Http(http), phase) => {
                let socket = sockets.get_mut::<tcp::Socket>(self.handle);
                let mut wrote = false;
                let mut decided = None;
                if phase == Phase::Connecting {
                    match socket.state() {
                        tcp::State::Closed => decided = Some(Err(CheckError::Refused)),
                        tcp::State::Established | tcp::State::CloseWait => {
                            match socket.send_slice(&http.request) {
                                Ok(n) if n == http.request.len() => {
                                    self.phase = Phase::Waiting;
                                    wrote = true;
                                }
                                _ => decided = Some(Err(CheckError::Socket)),
                            }
                        }
                        _ => return false,
                    }
                }
                match decided.or_else(|| http.read(socket)) {
                    Some(result) => Some(result),
                    None => return wrote,
                }
            }
            (Kind::Udp { expect, .. }, _) => {
                let socket = sockets.get_mut::<udp::Socket>(self.handle);
                let from = IpEndpoint::from(self.target);
                let mut decided = None;
                while let Ok((data, meta)) = socket.recv() {
                    if meta.endpoint == from {
                        decided = Some(match expect {
                            Some(e) if !contains(data, e) => Err(CheckError::Content),
                            _ => Ok(()),
                        });
                        break;
                    }
                }
                decided
            }
        };
        match decided {
            Some(result) => {
                self.phase = Phase::Done(result);
                self.release(sockets);
                true
            }
            None => false,
        }
    }

    /// Frees the socket for the next attempt.
    fn release(&mut self, sockets: &mut SocketSet<'static>) {
        match self.kind {
            Kind::Tcp | Kind::Http(_) => sockets.get_mut::<tcp::Socket>(self.handle).abort(),
            Kind::Udp { .. } => sockets.get_mut::<udp::Socket>(self.handle).close(),
        }
    }
}

impl Http {
    /// Takes what arrived and judges the answer; `None` while more may come.
    fn read(&mut self, socket: &mut tcp::Socket) -> Option<Result<(), CheckError>> {
        // The receive buffer is a ring: a wrapped answer comes out in two pieces.
        while let Ok(n @ 1..) = socket.recv_slice(&mut self.answer[self.len..]) {
            self.len += n;
        }
        let ended = !socket.may_recv() || self.len == self.answer.len();
        self.judge(ended)
    }

    /// The verdict on the answer so far, `ended` when no more will come.
    fn judge(&self, ended: bool) -> Option<Result<(), CheckError>> {
        let answer = &self.answer[..self.len];
        let Some(eol) = answer.iter().position(|&b| b == b'\n') else {
            return match ended {
                false => None,
                true if self.len == self.answer.len() => Some(Err(CheckError::Malformed)),
                true => Some(Err(CheckError::Closed)),
            };
        };
        let Some(status) = status_code(&answer[..eol]) else {
            return Some(Err(CheckError::Malformed));
        };
        if !(self.status_min..=self.status_max).contains(&status) {
            return Some(Err(CheckError::Status(status)));
        }
        let Some(needle) = &self.body_contains else {
            return Some(Ok(()));
        };
        let body = [&b"\r\n\r\n"[..], b"\n\n"]
            .iter()
            .filter_map(|end| find(answer, end).map(|at| at + end.len()))
            .min()
            .map(|start| &answer[start..]);
        match body {
            Some(body) if contains(body, needle) => Some(Ok(())),
            _ if ended => Some(Err(CheckError::Content)),
            _ => None,
        }
    }
}

/// The status code of an HTTP status line (`HTTP/1.1 200 OK`, with or without `\r`).
fn status_code(line: &[u8]) -> Option<u16> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let rest = line.strip_prefix(b"HTTP/")?;
    let space = rest.iter().position(|&b| b == b' ')?;
    let rest = &rest[space + 1..];
    let (code, after) = rest.split_at_checked(3)?;
    if !code.iter().all(u8::is_ascii_digit) || !matches!(after.first(), None | Some(b' ')) {
        return None;
    }
    Some(code.iter().fold(0, |n, d| n * 10 + u16::from(d - b'0')))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}
