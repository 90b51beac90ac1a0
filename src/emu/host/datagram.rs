//! The UDP load of a [`super::SimClient`]: `tapvs client --protocol udp`'s exchange (see
//! `src/client/udp.rs`) on smoltcp UDP sockets. One socket per source address, bound once for
//! the whole run (to a port drawn from the seed, as the kernel draws an ephemeral one), each
//! in a set of its own ([`super::conns`]), so that a datagram costs its own socket alone;
//! request `seq` goes out of socket `seq % sources` with the real request datagram
//! (`crate::server::datagram`), and an answer is matched to its request by `seq` on that
//! socket. Outcomes are told apart as the real client tells them: ok (the target's answer, the
//! size asked for), `short`, `other`, `timeout`; everything else is a stray response.
//! ICMP errors are not seen, as on the real client's unconnected sockets.

use super::conns::ConnId;
use super::exchange::{Done, Inflight, Worker};
use super::stack::Stack;
use crate::client::record::ErrorKind;
use crate::dataplane::flow_hash::FlowMap;
use crate::server::datagram::{MAX_DATAGRAM, MAX_QUERY, Query};
use smoltcp::socket::udp;
use smoltcp::time::Instant;
use smoltcp::wire::{IpEndpoint, IpListenEndpoint, Ipv4Address};

/// Datagrams a source socket holds each way before the stack takes or gives them.
const PACKETS: usize = 16;

/// One source socket.
#[derive(Debug)]
struct Source {
    id: ConnId,
    /// Whether a request on it got an ok answer (its "new connection").
    answered: bool,
}

/// The sockets and the request table of a UDP load.
#[derive(Debug)]
pub struct Datagrams {
    target: IpEndpoint,
    /// Asked-for size of each answer.
    wanted: u16,
    sources: Vec<Source>,
    /// The stack's number of the first source's socket (the others follow it).
    first: ConnId,
    /// The sockets polled since the last [`Datagrams::receive`], reused.
    woken: Vec<ConnId>,
    /// The next request's `seq`.
    next_seq: u64,
    /// Requests waiting for an answer: `seq` → worker.
    pending: FlowMap<u64, usize>,
    /// Datagrams that answered no waiting request.
    pub stray: u64,
    /// Requests lost because their socket was full.
    pub lost: u64,
    request: Vec<u8>,
}

impl Datagrams {
    /// Binds one socket to each of `sources`, socket `i` to port `port(i)`; room for
    /// `concurrency` requests in flight.
    pub fn new(
        stack: &mut Stack,
        sources: &[Ipv4Address],
        mut port: impl FnMut(usize) -> u16,
        target: IpEndpoint,
        wanted: u16,
        concurrency: usize,
    ) -> Self {
        let sources = sources
            .iter()
            .enumerate()
            .map(|(i, &addr)| {
                let mut sock = udp::Socket::new(
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; PACKETS],
                        vec![0; PACKETS * (MAX_DATAGRAM + 100)],
                    ),
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; PACKETS],
                        vec![0; PACKETS * MAX_QUERY],
                    ),
                );
                let endpoint = IpListenEndpoint {
                    addr: Some(addr.into()),
                    port: port(i),
                };
                // A non-zero port on a given address always binds.
                let _ = sock.bind(endpoint);
                Source {
                    id: stack.add_udp(sock),
                    answered: false,
                }
            })
            .collect::<Vec<_>>();
        Self {
            target,
            wanted,
            first: sources.first().map_or(0, |s| s.id),
            sources,
            woken: Vec::new(),
            next_seq: 0,
            pending: FlowMap::with_capacity_and_hasher(concurrency.max(1), Default::default()),
            stray: 0,
            lost: 0,
            request: Vec::with_capacity(MAX_QUERY),
        }
    }

    /// Sends the next request for worker `w`, due by `deadline`. `Err(true)`: the socket is
    /// full (let the stack send, then call again, with `lose_if_full`: then the request is
    /// lost, as the kernel drops what overflows a neighbour's queue, and times out);
    /// `Err(false)`: the send failed.
    pub fn send(
        &mut self,
        stack: &mut Stack,
        workers: &mut [Worker],
        (w, deadline): (usize, Instant),
        lose_if_full: bool,
    ) -> Result<(), bool> {
        let Some(source) = self.source_of(self.next_seq) else {
            return Err(false);
        };
        let seq = self.next_seq;
        self.request.clear();
        Query {
            seq,
            bytes: self.wanted,
        }
        .emit(&mut self.request);
        let sock = stack.udp(self.sources[source].id);
        match sock.send_slice(&self.request, self.target) {
            Ok(()) => {}
            Err(udp::SendError::BufferFull) if lose_if_full => self.lost += 1,
            Err(udp::SendError::BufferFull) => return Err(true),
            Err(_) => {
                self.next_seq += 1;
                return Err(false);
            }
        }
        self.next_seq += 1;
        self.pending.insert(seq, w);
        workers[w].datagram = Some(Inflight {
            seq,
            deadline,
            request_bytes: self.request.len() as u64,
        });
        Ok(())
    }

    /// Reads every answer that came (on the sockets polled since the last call, in socket
    /// order); each one matched to its request ends it into `done`.
    pub fn receive(
        &mut self,
        stack: &mut Stack,
        workers: &mut [Worker],
        done: &mut Vec<(usize, Done)>,
    ) {
        let mut woken = std::mem::take(&mut self.woken);
        stack.take_woken(&mut woken);
        woken.sort_unstable();
        for &id in &woken {
            let Some(i) = id
                .checked_sub(self.first)
                .filter(|&i| i < self.sources.len())
            else {
                continue;
            };
            let sock = stack.udp(self.sources[i].id);
            while let Ok((data, meta)) = sock.recv() {
                let matched = self.classify(meta.endpoint, data).and_then(|(seq, r, s)| {
                    let w = *self
                        .pending
                        .get(&seq)
                        .filter(|_| self.source_of(seq) == Some(i))?;
                    self.pending.remove(&seq);
                    Some((w, r, s))
                });
                let Some((w, result, server)) = matched else {
                    self.stray += 1;
                    continue;
                };
                let worker = &mut workers[w];
                let Some(req) = worker.datagram.take() else {
                    continue;
                };
                let mut d = Done {
                    error: result.err(),
                    new_conn: false,
                    broken: false,
                    request_bytes: req.request_bytes,
                    response_bytes: 0,
                };
                if result.is_ok() {
                    d.response_bytes = data.len() as u64;
                    d.new_conn = !std::mem::replace(&mut self.sources[i].answered, true);
                    worker.server.clear();
                    worker.server.push_str(server);
                }
                done.push((w, d));
            }
        }
        self.woken = woken;
    }

    /// Ends the request of each worker of `due` (in order) whose deadline has come: a
    /// `timeout` into `done`.
    pub fn expire(
        &mut self,
        now: Instant,
        due: &[usize],
        workers: &mut [Worker],
        done: &mut Vec<(usize, Done)>,
    ) {
        for &w in due {
            let worker = &mut workers[w];
            let Some(req) = worker.datagram.filter(|r| r.deadline <= now) else {
                continue;
            };
            worker.datagram = None;
            self.pending.remove(&req.seq);
            let mut d = super::exchange::failed(ErrorKind::Timeout, false);
            d.request_bytes = req.request_bytes;
            done.push((w, d));
        }
    }

    /// The socket request `seq` goes out of.
    fn source_of(&self, seq: u64) -> Option<usize> {
        let n = self.sources.len() as u64;
        // The remainder is below the number of sources, so the cast is exact.
        (n > 0).then(|| (seq % n) as usize)
    }

    /// The `seq` a datagram answers and how, or `None` for a stray (`tapvs client`'s rule).
    fn classify<'a>(
        &self,
        from: IpEndpoint,
        datagram: &'a [u8],
    ) -> Option<(u64, Result<(), ErrorKind>, &'a str)> {
        if from != self.target {
            return None;
        }
        crate::client::udp::classify(datagram, usize::from(self.wanted))
    }
}
