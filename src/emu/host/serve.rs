//! One TCP socket of a [`super::SimServer`]: listening, serving one connection as `tapvs server`
//! does (read request heads, answer them in order, keep alive or close), or closing. Each slot
//! keeps its socket and buffers for the whole run, so a connection allocates nothing. The
//! slot's own buffers (request heads in, response heads out) are allocated the first time it
//! reads or answers: a request sock whose handshake never ends (a SYN flood's) never does.
//!
//! Answers use the real server's head writer (`crate::server::http`); a connection that read a
//! request while the server hung never answers again (HTTP/1.1 answers in order), as in
//! `src/server/conn.rs`.

use super::conns::ConnId;
use super::request_memo::{Hit, RequestMemo};
use crate::server::http::{self, ConnHeader, ParseError};
use smoltcp::socket::tcp;

/// Room first made for response heads (the buffer grows if one is longer, and is kept).
const OUT_LEN: usize = 512;

/// Body bytes of every response come from here.
static BODY: [u8; 16 * 1024] = [b'x'; 16 * 1024];

/// What a slot's socket is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Closed, waiting to listen again.
    Idle,
    Listening,
    Open,
    /// We closed (FIN sent or RST queued); waiting for the socket to finish.
    Closing,
    /// The process died: the kernel closed the socket and finishes it alone (data arriving
    /// now gets an RST).
    Orphan,
}

/// The server's tallies, as `tapvs server` keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted (handshake completed or in progress).
    pub accepted: u64,
    /// Requests answered.
    pub requests: u64,
    /// Requests read while hanging, never answered.
    pub unanswered: u64,
    /// Request heads that did not parse (answered 400/505, then closed).
    pub bad_requests: u64,
    /// UDP: request datagrams answered (also counted in `requests`).
    pub udp_requests: u64,
    /// UDP: datagrams that are no request, never answered.
    pub udp_malformed: u64,
    /// UDP: requests read while hanging (or whose answer did not fit), never answered.
    pub udp_unanswered: u64,
}

/// One socket and the state of the connection it carries.
#[derive(Debug)]
pub struct Slot {
    pub handle: ConnId,
    pub phase: Phase,
    /// Its socket is in SYN-RECEIVED (a request sock of the listen queue).
    pub half_open: bool,
    /// Request heads are read into `buf`, of `read_len` bytes once the first data comes.
    buf: Vec<u8>,
    read_len: usize,
    len: usize,
    /// Request body bytes still to skip.
    skip: u64,
    out: Vec<u8>,
    sent: usize,
    body_left: u64,
    close_after: bool,
    /// Response bytes were written since the socket last sent.
    wrote: bool,
    /// A request was read while hanging: nothing more is answered on this connection.
    hung: bool,
    /// The last request answered, and its answer.
    memo: RequestMemo,
}

impl Slot {
    /// A slot on socket `handle`, reading request heads into `read_len` bytes.
    pub fn new(handle: ConnId, read_len: usize) -> Self {
        Self {
            handle,
            phase: Phase::Idle,
            half_open: false,
            buf: Vec::new(),
            read_len,
            len: 0,
            skip: 0,
            out: Vec::new(),
            sent: 0,
            body_left: 0,
            close_after: false,
            wrote: false,
            hung: false,
            memo: RequestMemo::default(),
        }
    }

    fn reset(&mut self) {
        (self.len, self.skip, self.sent, self.body_left) = (0, 0, 0, 0);
        self.out.clear();
        (self.close_after, self.hung, self.wrote) = (false, false, false);
    }

    /// Moves the connection on: accepts, reads, answers (unless `hanging`), closes.
    pub fn step(
        &mut self,
        sock: &mut tcp::Socket<'_>,
        name: &str,
        hanging: bool,
        stats: &mut ServerStats,
    ) {
        match self.phase {
            Phase::Idle => {}
            Phase::Listening if sock.state() == tcp::State::Listen => {}
            Phase::Listening if sock.is_active() => {
                stats.accepted += 1;
                self.reset();
                self.phase = Phase::Open;
                self.serve(sock, name, hanging, stats);
            }
            Phase::Listening => self.phase = Phase::Idle,
            Phase::Open => self.serve(sock, name, hanging, stats),
            Phase::Closing if sock.is_open() => {}
            Phase::Closing => self.phase = Phase::Idle,
            // Linux (tcp_rcv_state_process): data to a socket whose reader is gone is
            // answered with an RST, and the socket dies.
            Phase::Orphan if sock.recv_queue() > 0 => sock.abort(),
            Phase::Orphan if sock.is_open() => {}
            Phase::Orphan => self.phase = Phase::Idle,
        }
    }

    /// Whether [`Slot::step`] would leave the slot and `sock` as they are (nothing to accept,
    /// read, write or close): a request sock waiting for the handshake's ACK, a listener
    /// still listening, a closing socket still open. Then its socket need not be touched.
    pub fn at_rest(&self, sock: &tcp::Socket<'_>) -> bool {
        match self.phase {
            Phase::Idle => true,
            Phase::Listening => sock.state() == tcp::State::Listen,
            // `serve` flushes nothing, reads nothing (no data before the handshake ends:
            // `recv_slice` fails), parses an empty head and stops.
            Phase::Open => {
                sock.state() == tcp::State::SynReceived
                    && sock.recv_queue() == 0
                    && self.len == 0
                    && self.skip == 0
                    && self.out.is_empty()
                    && self.body_left == 0
                    && !self.close_after
            }
            Phase::Closing => sock.is_open(),
            Phase::Orphan => sock.recv_queue() == 0 && sock.is_open(),
        }
    }

    /// The process died: the kernel closes the socket as `tcp_close` does. A listener and a
    /// handshake in progress go away (the peer's next segment gets an RST); a connection
    /// with unread data is reset; any other sends what was written, then its FIN.
    pub fn kill(&mut self, sock: &mut tcp::Socket<'_>) {
        match sock.state() {
            tcp::State::Closed | tcp::State::TimeWait => {}
            tcp::State::Listen | tcp::State::SynReceived => sock.abort(),
            _ if sock.recv_queue() > 0 => sock.abort(),
            _ => sock.close(),
        }
        self.reset();
        self.phase = Phase::Orphan;
    }

    fn serve(&mut self, sock: &mut tcp::Socket<'_>, name: &str, hang: bool, st: &mut ServerStats) {
        if !sock.is_open() {
            self.phase = Phase::Idle;
            return;
        }
        loop {
            if !self.flush(sock) {
                return;
            }
            if self.close_after {
                if std::mem::replace(&mut self.wrote, false) {
                    // Linux's write() sends before close() is called: the FIN goes in a
                    // segment of its own, once the response has left (see `Server::step`).
                    return;
                }
                sock.close();
                self.phase = Phase::Closing;
                return;
            }
            self.read(sock);
            if self.skip > 0 {
                // Bounded by `len`, so the cast is exact.
                let n = self.skip.min(self.len as u64) as usize;
                self.consume(n);
                self.skip -= n as u64;
                if self.skip > 0 {
                    break;
                }
            }
            if let Some(hit) = self.memo.hit(&self.buf[..self.len], name) {
                // The request answered last, again: answered as before, unparsed.
                let close = if self.hung || hang {
                    None
                } else {
                    self.skip = hit.content_length;
                    self.out.extend_from_slice(hit.answer);
                    self.body_left = hit.stream_body;
                    Some(hit.close)
                };
                let used = hit.used;
                self.consume(used);
                self.count(close, st);
                continue;
            }
            let parsed = match http::parse_request(&self.buf[..self.len]) {
                // A head longer than the buffer: refused as `tapvs server` refuses one longer
                // than `MAX_HEAD`.
                Ok(None) if self.len == self.read_len => Err(ParseError::TooLong),
                parsed => parsed,
            };
            let (close, used) = match parsed {
                Ok(None) => break,
                Ok(Some((_, n))) if self.hung || hang => (None, n),
                Err(_) if self.hung || hang => (None, self.len),
                Ok(Some((req, n))) => {
                    self.skip = req.content_length;
                    self.out.reserve(OUT_LEN);
                    let at = self.out.len();
                    let close = answer(&req, name, &mut self.out, &mut self.body_left);
                    let answer = Hit {
                        used: n,
                        content_length: req.content_length,
                        answer: &self.out[at..],
                        stream_body: self.body_left,
                        close,
                    };
                    self.memo
                        .keep(&self.buf[..n], name, req.content_length, answer);
                    (Some(close), n)
                }
                Err(e) => {
                    st.bad_requests += 1;
                    self.out.reserve(OUT_LEN);
                    let status = if e == ParseError::Version { 505 } else { 400 };
                    http::write_head(&mut self.out, status, name, 0, ConnHeader::Close);
                    (Some(true), self.len)
                }
            };
            self.consume(used);
            self.count(close, st);
        }
        if sock.state() == tcp::State::CloseWait && self.out.is_empty() && self.body_left == 0 {
            // The client closed its side and nothing is owed: close ours.
            sock.close();
            self.phase = Phase::Closing;
        }
    }

    /// Counts a request read: answered (`Some`: whether to close after it), or not.
    fn count(&mut self, close: Option<bool>, st: &mut ServerStats) {
        match close {
            Some(close) => {
                st.requests += 1;
                self.close_after = close;
            }
            None => {
                self.hung = true;
                st.unanswered += 1;
            }
        }
    }

    /// Reads what fits into the head buffer (allocated with the first data).
    fn read(&mut self, sock: &mut tcp::Socket<'_>) {
        if self.buf.is_empty() && sock.recv_queue() > 0 {
            self.buf = vec![0; self.read_len];
        }
        if let Ok(n) = sock.recv_slice(&mut self.buf[self.len..]) {
            self.len += n;
        }
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }

    /// Queues the pending head and body; `true` once all of it is in the socket.
    fn flush(&mut self, sock: &mut tcp::Socket<'_>) -> bool {
        if self.sent < self.out.len() {
            let n = sock.send_slice(&self.out[self.sent..]).unwrap_or(0);
            self.sent += n;
            self.wrote |= n > 0;
            if self.sent < self.out.len() {
                return false;
            }
        }
        self.out.clear();
        self.sent = 0;
        while self.body_left > 0 {
            // At most BODY.len(), so the cast is exact.
            let n = self.body_left.min(BODY.len() as u64) as usize;
            let sent = sock.send_slice(&BODY[..n]).unwrap_or(0);
            self.body_left -= sent as u64;
            self.wrote |= sent > 0;
            if sent < n {
                return false;
            }
        }
        true
    }
}

/// Writes the answer to `req` into `out` (its head, and the body of a page other than
/// `/bytes/N`; a `/bytes/N` body is left in `body_left`, streamed from `BODY` without a copy
/// into `out`: the same bytes reach the socket); returns whether to close after it: `tapvs
/// server`'s own answer.
fn answer(req: &http::Request<'_>, name: &str, out: &mut Vec<u8>, body_left: &mut u64) -> bool {
    let answer = crate::server::conn::answer_inlining(req, name, out, 0);
    *body_left = answer.stream_body;
    answer.close
}

#[cfg(test)]
mod tests {
    use super::{Phase, ServerStats, Slot};
    use crate::emu::host::buffers::TcpBuffers;

    #[test]
    fn a_slot_allocates_its_head_buffers_only_once_it_has_data() {
        let sizes = TcpBuffers {
            rx: 64,
            tx: 64,
            read: 64,
        };
        let mut sock = sizes.socket();
        sock.listen(80).expect("listens");
        let mut slot = Slot::new(0, sizes.read);
        slot.phase = Phase::Listening;
        let mut stats = ServerStats::default();
        slot.step(&mut sock, "rs", false, &mut stats);
        assert_eq!(slot.phase, Phase::Listening);
        // Accepted with nothing to read (a request sock, say): served, still nothing made.
        slot.phase = Phase::Open;
        slot.serve(&mut sock, "rs", false, &mut stats);
        assert_eq!((slot.buf.capacity(), slot.out.capacity()), (0, 0));
        assert_eq!(stats, ServerStats::default());
        // The socket closes: the slot is idle again, having allocated nothing.
        sock.abort();
        slot.step(&mut sock, "rs", false, &mut stats);
        assert_eq!(slot.phase, Phase::Idle);
        assert_eq!((slot.buf.capacity(), slot.out.capacity()), (0, 0));
    }
}
