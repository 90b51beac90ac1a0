//! A simulated real server's listen queue as Linux keeps it under a SYN flood
//! (`tcp_conn_request`, `net.ipv4.tcp_syncookies = 1`, the default).
//!
//! Modelled: each SYN makes a request sock (a smoltcp socket in SYN-RECEIVED, retransmitting
//! its SYN-ACK after 1, 3, 7, ... s as Linux's `tcp_synack_retries` does) until [`BACKLOG`]
//! of them wait; beyond that a SYN for no known connection is answered with a SYN-ACK whose
//! ISN is a cookie ([`super::syncookie`]) and nothing is kept. An ACK for no connection whose
//! ack - 1 is a valid cookie (checked only within two minutes of the last cookie sent, as
//! `tcp_synq_no_recent_overflow`) makes the connection; an invalid one goes on to smoltcp,
//! which answers it with an RST as Linux does. The SYN-ACK goes to the sender's MAC when the
//! client is on the LAN, else to the gateway's (the last MAC the stack sent off-LAN traffic
//! to: its request socks' SYN-ACKs teach it before the queue fills); the emulated router has
//! no route to a flood's spoofed sources and drops them, as the lab's blackhole route does.
//!
//! smoltcp cannot be given an ISN, so the connection is made by handing a listener the SYN
//! the cookie stands for; its SYN-ACK (ISN `s`) is taken back unsent, and for the rest of
//! the connection's life its segments are shifted by `cookie - s` at the host's rim: the
//! server's sequence numbers out, the client's acknowledgements (and SACK edges) in, each
//! checksum updated incrementally.
//!
//! Left out: request socks are not dropped after the fifth retransmission (at 63 s; no flood
//! scenario runs that long), the accept queue never fills (`tapvs server` accepts at once),
//! ECN is not carried, and the frames here bypass the host's frame counters.

use super::bare_frame::write_bare;
use super::conns::{ConnId, Key};
use super::cookie_frames::{
    Found, cookie_syn_ack, find, retract, shift, shift_acks, syn_of, write,
};
use super::stack::{Addresses, Stack};
use super::syncookie::{self, CookieJar};
use crate::dataplane::flow_hash::FlowMap;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, EthernetFrame, Ipv4Cidr, TcpPacket, TcpRepr};
use std::collections::VecDeque;

/// Request socks a listener keeps: `tapvs server` listens with a backlog of 4096, which
/// `net.core.somaxconn` (4096 since Linux 5.4; the lab leaves it) does not lower.
pub const BACKLOG: usize = 4096;
/// How long after the last cookie sent an ACK is checked for one (`TCP_SYNCOOKIE_VALID`).
const CHECK_FOR: Duration = Duration::from_secs(120);
/// Cookie SYN-ACKs waiting to leave, at most (more in one instant are dropped and counted).
const OUT_MAX: usize = 256;
/// A SYN-ACK's length at most: Ethernet, IPv4 and TCP headers with 40 bytes of options.
const FRAME: usize = 14 + 20 + 60;

/// What the listen queue did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CookieStats {
    /// SYNs answered with a cookie.
    pub sent: u64,
    /// Connections made from a valid cookie.
    pub accepted: u64,
    /// ACKs for no connection that held no valid cookie (answered with an RST by smoltcp).
    pub invalid: u64,
    /// Cookie SYN-ACKs not sent: no next hop known, or too many at once.
    pub unsent: u64,
}

/// What became of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ingress {
    /// For the stack (shifted if its connection is a cookie's).
    Pass,
    /// A SYN answered with a cookie: nothing more to do.
    Answered,
    /// A cookie ACK: its connection was made and the frame taken.
    Opened,
}

/// The listen queue's overflow state and the cookie connections' shifts.
pub struct ListenQueue {
    jar: CookieJar,
    pub backlog: usize,
    /// Request socks now (sockets in SYN-RECEIVED).
    half_open: usize,
    last_cookie: Option<Instant>,
    lan: Ipv4Cidr,
    gateway_mac: Option<EthernetAddress>,
    /// The window and window scale of the server's SYN-ACKs (its sockets' receive buffer).
    window: u16,
    window_shift: u8,
    out: VecDeque<([u8; FRAME], usize)>,
    /// A cookie connection's shift (`cookie - s`) and socket, by 4-tuple; its 4-tuple by socket.
    shifts: FlowMap<Key, (u32, ConnId)>,
    by_conn: FlowMap<ConnId, Key>,
    pub stats: CookieStats,
}

impl ListenQueue {
    /// A queue of [`BACKLOG`] for a server on `lan` whose sockets receive into `rx_buffer`
    /// bytes, its cookies keyed by `secret`.
    pub fn new(secret: u64, lan: Ipv4Cidr, rx_buffer: usize) -> Self {
        // smoltcp's own choice for a listener of that buffer (`Socket::new`).
        let bits = usize::BITS - rx_buffer.leading_zeros();
        ListenQueue {
            jar: CookieJar::new(secret),
            backlog: BACKLOG,
            half_open: 0,
            last_cookie: None,
            lan,
            gateway_mac: None,
            window: rx_buffer.min(usize::from(u16::MAX)) as u16,
            window_shift: bits.saturating_sub(16).min(14) as u8,
            out: VecDeque::with_capacity(OUT_MAX),
            shifts: FlowMap::default(),
            by_conn: FlowMap::default(),
            stats: CookieStats::default(),
        }
    }

    /// A socket now in `state` is counted in the queue (`counted`) while in SYN-RECEIVED.
    pub fn tally(&mut self, counted: &mut bool, state: tcp::State) {
        let half_open = state == tcp::State::SynReceived;
        if half_open != *counted {
            *counted = half_open;
            self.half_open = if half_open {
                self.half_open + 1
            } else {
                self.half_open - 1
            };
        }
    }

    /// Whether frames in must be looked at: the queue is full, cookies are out, or a
    /// cookie connection lives.
    fn watching(&self, now: Instant) -> bool {
        self.half_open >= self.backlog || self.checks_cookies(now) || !self.shifts.is_empty()
    }

    fn checks_cookies(&self, now: Instant) -> bool {
        self.last_cookie.is_some_and(|t| now < t + CHECK_FOR)
    }

    /// Socket `id` is reused: a cookie connection on it (kept through TIME-WAIT) is over.
    pub fn forget(&mut self, id: ConnId) {
        if !self.by_conn.is_empty()
            && let Some(key) = self.by_conn.remove(&id)
        {
            self.shifts.remove(&key);
        }
    }

    /// Takes a frame in before the stack: answers a SYN with a cookie when the queue is full
    /// (`listening` on `port`), opens a cookie ACK's connection, shifts a cookie connection's.
    pub fn ingress(
        &mut self,
        now: Instant,
        frame: &mut [u8],
        (port, listening): (u16, bool),
        stack: &mut Stack,
        addrs: &impl Addresses,
    ) -> Ingress {
        if !self.watching(now) {
            return Ingress::Pass;
        }
        let mac = stack.iface.hardware_addr();
        let Some(Found { at, src, dst }) = find(frame, Some(mac), Some(addrs)) else {
            return Ingress::Pass;
        };
        let tcp = TcpPacket::new_unchecked(&frame[at..]);
        let key = (dst, tcp.dst_port(), src, tcp.src_port());
        let (syn, ack, rst) = (tcp.syn(), tcp.ack(), tcp.rst());
        // For the listener, and no connection's (the socket lookup only when it matters).
        let ours =
            |stack: &Stack| listening && key.1 == port && stack.conns.demux(key, false).is_none();
        if syn && !ack && !rst {
            if !self.shifts.is_empty()
                && let Some((_, id)) = self.shifts.remove(&key)
            {
                // A new connection on the tuple.
                self.by_conn.remove(&id);
            }
            if self.half_open >= self.backlog && ours(stack) {
                self.answer(now, frame, at, key);
                return Ingress::Answered;
            }
        } else if ack && let Some(&(by, _)) = self.shifts.get(&key) {
            shift_acks(&mut frame[at..], by.wrapping_neg());
        } else if ack && !syn && !rst && self.checks_cookies(now) && ours(stack) {
            return self.open(now, frame, at, key, stack, addrs);
        }
        Ingress::Pass
    }

    /// Queues the cookie SYN-ACK answering the SYN at `at` of `frame`.
    fn answer(&mut self, now: Instant, frame: &[u8], at: usize, key: Key) {
        self.last_cookie = Some(now);
        let (src, dst) = (key.2.into(), key.0.into());
        let caps = ChecksumCapabilities::default();
        let Ok(syn) = TcpRepr::parse(&TcpPacket::new_unchecked(&frame[at..]), &src, &dst, &caps)
        else {
            return;
        };
        let mss = syn.max_seg_size.unwrap_or(536);
        let cookie = self.jar.make(now, key, syn.seq_number.0 as u32, mss);
        let reply = cookie_syn_ack(&syn, cookie, self.window, self.window_shift);
        let eth = EthernetFrame::new_unchecked(frame);
        let next_hop = if self.lan.contains_addr(&key.2) {
            Some(eth.src_addr())
        } else {
            self.gateway_mac
        };
        let Some(next_hop) = next_hop.filter(|_| self.out.len() < OUT_MAX) else {
            return self.stats.unsent += 1;
        };
        let mut buf = [0; FRAME];
        let len = write_bare(&mut buf, (eth.dst_addr(), next_hop), key.0, key.2, &reply);
        self.out.push_back((buf, len));
        self.stats.sent += 1;
    }

    /// Checks the cookie of the ACK at `at` of `frame`; if valid, makes its connection.
    fn open(
        &mut self,
        now: Instant,
        frame: &mut [u8],
        at: usize,
        key: Key,
        stack: &mut Stack,
        addrs: &impl Addresses,
    ) -> Ingress {
        let (src, dst) = (key.2.into(), key.0.into());
        let caps = ChecksumCapabilities::default();
        let mut syn = [0; FRAME];
        let (cookie, len) = {
            let tcp = TcpPacket::new_unchecked(&frame[at..]);
            let Ok(ack) = TcpRepr::parse(&tcp, &src, &dst, &caps) else {
                return Ingress::Pass;
            };
            let cookie = ack.ack_number.map_or(0, |a| a.0 as u32).wrapping_sub(1);
            let isn = (ack.seq_number - 1).0 as u32;
            let Some(mss) = self.jar.check(now, key, isn, cookie) else {
                self.stats.invalid += 1;
                return Ingress::Pass;
            };
            let kept = syncookie::options(mss, ack.timestamp.map(|t| t.tsecr));
            let eth = EthernetFrame::new_unchecked(&*frame);
            let macs = (eth.src_addr(), eth.dst_addr());
            (
                cookie,
                write(&mut syn, macs, key.2, key.0, &syn_of(&ack, kept)),
            )
        };
        stack.input(now, &syn[..len], addrs);
        let server_isn = retract(&mut stack.tx, key);
        let id = stack.conns.demux(key, false);
        let (Some(id), Some(isn)) = (id, server_isn) else {
            // No SYN-ACK (its next hop unknown): no connection; the ACK gets an RST.
            if let Some(id) = id {
                stack.tcp(id).abort();
            }
            return Ingress::Pass;
        };
        let by = cookie.wrapping_sub(isn);
        shift_acks(&mut frame[at..], by.wrapping_neg());
        self.shifts.insert(key, (by, id));
        self.by_conn.insert(id, key);
        stack.input(now, frame, addrs);
        self.stats.accepted += 1;
        Ingress::Opened
    }

    /// The next frame out: a cookie SYN-ACK, else the stack's (a cookie connection's sequence
    /// numbers shifted; a frame off the LAN shows the gateway's MAC).
    pub fn transmit(&mut self, stack: &mut Stack, buf: &mut [u8]) -> Option<usize> {
        if let Some((frame, len)) = self.out.front()
            && let Some(to) = buf.get_mut(..*len)
        {
            to.copy_from_slice(&frame[..to.len()]);
            self.out.pop_front();
            return Some(to.len());
        }
        let len = stack.transmit(buf)?;
        if self.half_open == 0 && self.shifts.is_empty() {
            return Some(len);
        }
        let frame = &mut buf[..len];
        let Some(Found { at, src, dst }) = find(frame, None, None) else {
            return Some(len);
        };
        if !self.lan.contains_addr(&dst) {
            self.gateway_mac = Some(EthernetFrame::new_unchecked(&*frame).dst_addr());
        }
        let tcp = TcpPacket::new_unchecked(&frame[at..]);
        let key = (src, tcp.src_port(), dst, tcp.dst_port());
        if let Some(&(by, _)) = self.shifts.get(&key) {
            shift(&mut frame[at..], 4, by);
        }
        Some(len)
    }

    /// Cookie SYN-ACKs wait to leave: the host is due now.
    pub fn sending(&self) -> bool {
        !self.out.is_empty()
    }
}
