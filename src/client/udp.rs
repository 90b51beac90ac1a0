//! UDP load (`--protocol udp`): the datagram exchange of [`crate::server::datagram`].
//!
//! One socket per source address (`--clients K` from `--client-base`, each bound to `addr:0`),
//! opened once for the whole run; requests go round robin over them. Every request has its own
//! sequence number (`seq`), and one receiver task per socket hands each answer to the request
//! waiting for that `seq` on that socket. The workers of `load` drive the requests exactly as
//! for TCP (open or closed loop, `--concurrency` in flight at most, the timeout from the
//! intended start), so only the exchange differs:
//!
//! - **ok**: an answer from the target address with the request's `seq`, a valid header and
//!   exactly the size asked for (or just the header, when that is longer). Its latency runs from
//!   the intended start to the moment the receiver got the datagram; its bytes are the datagram's.
//! - **failed**: `timeout` when no answer came within `--timeout` of the intended start (a lost
//!   request, a lost answer, or nothing listening: unconnected UDP sockets see no ICMP errors);
//!   `short` for an answer cut short (smaller than asked for, or its header without its LF);
//!   `other` for an answer too long or with a bad server name, or a send that failed.
//! - **new_conns**: UDP has no connections, but the director keys a UDP "connection" by the
//!   client's address and port: the first request of each source socket that got an ok answer
//!   counts as that socket's new connection. With no failover, a run's `new_conns` is thus the
//!   number of sockets answered (`--clients`), and the per-server `new_conns` show how the
//!   director spread the K sockets.
//! - **stray responses**: datagrams that answer no waiting request (late ones whose request
//!   already timed out, unknown `seq`s, garbage without a readable `seq`, datagrams from another
//!   address than the target) are counted in `ClientReport::stray_responses` and dropped.

use super::conn::Exchange;
use super::record::ErrorKind;
use super::record::ErrorKind::{Other, Short, Timeout};
use crate::server::datagram::{Answer, AnswerError, MAX_QUERY, Query};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;
use tokio::time::{Instant, timeout_at};

/// Receive buffer: larger than any valid answer, so a longer one is seen as too long.
const RECV_LEN: usize = 2048;

/// The sockets and the request table of a UDP run.
#[derive(Debug)]
pub struct Udp {
    target: SocketAddr,
    /// Asked-for size of each answer.
    wanted: u16,
    sources: Vec<Source>,
    /// The next request's `seq`; `seq % sources` picks its socket.
    next_seq: AtomicU64,
    /// Datagrams that answered no waiting request.
    stray: AtomicU64,
}

/// One source socket and the requests waiting for an answer on it.
#[derive(Debug)]
struct Source {
    socket: UdpSocket,
    pending: Mutex<HashMap<u64, oneshot::Sender<Reply>>>,
    /// Whether some request on this socket got an ok answer (its "new connection").
    answered: AtomicBool,
}

/// What the receiver hands to the waiting request.
#[derive(Debug)]
struct Reply {
    /// When the datagram was received.
    at: Instant,
    len: usize,
    result: Result<(), ErrorKind>,
    /// The server named in the header (empty when it could not be read).
    server: String,
}

impl Udp {
    /// Binds one socket to each of `sources` (port 0). Call inside a tokio runtime.
    pub fn bind(
        target: SocketAddr,
        wanted: u16,
        sources: impl IntoIterator<Item = IpAddr>,
    ) -> std::io::Result<Self> {
        let sources = sources
            .into_iter()
            .map(|ip| {
                let socket = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
                socket.set_nonblocking(true)?;
                crate::server::grow_recv_buffer(&socket);
                Ok(Source {
                    socket: UdpSocket::from_std(socket)?,
                    pending: Mutex::default(),
                    answered: AtomicBool::new(false),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        if sources.is_empty() {
            return Err(std::io::Error::other("no source address"));
        }
        Ok(Self {
            target,
            wanted,
            sources,
            next_seq: AtomicU64::new(0),
            stray: AtomicU64::new(0),
        })
    }

    /// How many sockets need a [`receive`] task.
    pub fn sockets(&self) -> usize {
        self.sources.len()
    }

    /// Datagrams received so far that answered no waiting request.
    pub fn stray(&self) -> u64 {
        self.stray.load(Ordering::Relaxed)
    }

    /// Sends one request and waits for its answer, all before `deadline`. The answering
    /// server's name goes into `server` (for an ok answer).
    pub async fn exchange(&self, deadline: Instant, server: &mut String) -> Exchange {
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        // The remainder is below the number of sources, so the cast is exact.
        let source = &self.sources[(seq % self.sources.len() as u64) as usize];
        let (tx, rx) = oneshot::channel();
        source.pending().insert(seq, tx);
        let mut ex = Exchange::default();
        match self.send(source, seq, deadline).await {
            Ok(n) => ex.request_bytes = n as u64,
            Err(kind) => {
                source.pending().remove(&seq);
                ex.error = Some(kind);
                ex.done = Some(Instant::now());
                return ex;
            }
        }
        let reply = match timeout_at(deadline, rx).await {
            Ok(Ok(reply)) => reply,
            // The receiver is gone (only when the run is being torn down).
            Ok(Err(_)) => Reply::failed(Other),
            Err(_) => {
                source.pending().remove(&seq);
                Reply::failed(Timeout)
            }
        };
        ex.done = Some(reply.at);
        match reply.result {
            Ok(()) => {
                ex.response_bytes = reply.len as u64;
                ex.new_conn = !source.answered.swap(true, Ordering::Relaxed);
                server.clear();
                server.push_str(&reply.server);
            }
            Err(kind) => ex.error = Some(kind),
        }
        ex
    }

    /// Sends the request datagram for `seq`; returns its length.
    async fn send(&self, source: &Source, seq: u64, deadline: Instant) -> Result<usize, ErrorKind> {
        let mut request = Vec::with_capacity(MAX_QUERY);
        Query {
            seq,
            bytes: self.wanted,
        }
        .emit(&mut request);
        match timeout_at(deadline, source.socket.send_to(&request, self.target)).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(e)) => Err(ErrorKind::of_io(&e)),
            Err(_) => Err(Timeout),
        }
    }

    /// Classifies one received datagram: the `seq` it answers and how, or `None` for a stray.
    fn classify<'a>(
        &self,
        from: SocketAddr,
        datagram: &'a [u8],
    ) -> Option<(u64, Result<(), ErrorKind>, &'a str)> {
        if from != self.target {
            return None;
        }
        classify(datagram, usize::from(self.wanted))
    }
}

/// What an answer datagram from the target says: the `seq` it answers, whether it is whole
/// (`wanted` bytes asked), and the answering server's name; `None` when no `seq` can be read.
/// Shared with the emulated client, so that both judge answers alike.
pub(crate) fn classify(
    datagram: &[u8],
    wanted: usize,
) -> Option<(u64, Result<(), ErrorKind>, &str)> {
    match Answer::parse(datagram) {
        Ok(a) => {
            let result = match datagram.len().cmp(&a.expected_len(wanted)) {
                std::cmp::Ordering::Equal => Ok(()),
                std::cmp::Ordering::Less => Err(Short),
                std::cmp::Ordering::Greater => Err(Other),
            };
            Some((a.seq, result, a.server))
        }
        Err(e @ AnswerError::Truncated { .. }) => Some((e.seq()?, Err(Short), "")),
        Err(e) => Some((e.seq()?, Err(Other), "")),
    }
}

impl Source {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<Reply>>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Reply {
    fn failed(kind: ErrorKind) -> Self {
        Self {
            at: Instant::now(),
            len: 0,
            result: Err(kind),
            server: String::new(),
        }
    }
}

/// The receiver of socket `i`: hands every answer to its waiting request, counts strays.
/// Runs until aborted (the run aborts it when its workers are done).
pub async fn receive(udp: Arc<Udp>, i: usize) {
    let source = &udp.sources[i];
    let mut buf = [0; RECV_LEN];
    loop {
        let (n, from) = match source.socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(_) => {
                // An error here concerns no request; do not spin on a persistent one.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
        };
        let at = Instant::now();
        let waiting = udp
            .classify(from, &buf[..n])
            .and_then(|(seq, result, server)| {
                let tx = source.pending().remove(&seq)?;
                Some((tx, result, server))
            });
        match waiting {
            Some((tx, result, server)) => {
                // The request may have just given up; then the answer is simply dropped.
                let _ = tx.send(Reply {
                    at,
                    len: n,
                    result,
                    server: server.to_owned(),
                });
            }
            None => {
                udp.stray.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests;
