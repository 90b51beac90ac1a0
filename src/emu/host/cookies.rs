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
//! to: its request socks' SYN-ACKs teach it before the queue fills); the emulated router
//! forwards those to spoofed sources to the flooder, which drops them.
//!
//! smoltcp cannot be given an ISN, so the connection is made by handing a listener the SYN
//! the cookie stands for; its SYN-ACK (ISN `s`) is taken back unsent, and for the rest of
//! the connection's life its segments are shifted by `cookie - s` at the host's rim: the
//! server's sequence numbers out, the client's acknowledgements (and SACK edges) in, each
//! checksum updated incrementally.
//!
//! Left out: request socks are not dropped after the last retransmission (63 s; no
//! scenario runs that long), the accept queue never fills (`tapvs server` accepts at once),
//! ECN is not carried, and the frames here bypass the host's frame counters.

use super::conns::{ConnId, Key};
use super::stack::{Addresses, Stack};
use super::syncookie::{self, CookieJar};
use crate::dataplane::flow_hash::FlowMap;
use crate::wire::checksum::update_word;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, HardwareAddress, IpProtocol,
    Ipv4Address, Ipv4Cidr, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    TcpTimestampRepr,
};
use std::collections::VecDeque;

/// Request socks a listener keeps: `tapvs server` listens with a backlog of 4096, which
/// `net.core.somaxconn` (4096 since Linux 5.4; the lab leaves it) does not lower.
pub const BACKLOG: usize = 4096;
/// How long after the last cookie sent an ACK is checked for one (`TCP_SYNCOOKIE_VALID`).
const CHECK_FOR: Duration = Duration::from_secs(120);
/// The server's MSS (a 1500-byte IP MTU), the largest a cookie can say.
const OWN_MSS: u16 = syncookie::MSS_TABLE[3];
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

/// A TCP segment to this host in a frame: the TCP header's offset and the IPv4 addresses.
struct Found {
    at: usize,
    src: Ipv4Address,
    dst: Ipv4Address,
}

/// The TCP segment of `frame`, if it is one (any destination when `addrs` is `None`).
fn find(
    frame: &[u8],
    mac: Option<HardwareAddress>,
    addrs: Option<&dyn Addresses>,
) -> Option<Found> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 || mac.is_some_and(|m| m != eth.dst_addr().into())
    {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp || addrs.is_some_and(|a| !a.accepts(ip.dst_addr())) {
        return None;
    }
    TcpPacket::new_checked(ip.payload()).ok()?;
    let at = 14 + usize::from(ip.header_len());
    Some(Found {
        at,
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    })
}

/// Adds `by` to the 32-bit field at `field` of the TCP segment `tcp`, checksum updated.
fn shift(tcp: &mut [u8], field: usize, by: u32) {
    let old = u32::from_be_bytes([tcp[field], tcp[field + 1], tcp[field + 2], tcp[field + 3]]);
    let new = old.wrapping_add(by);
    tcp[field..field + 4].copy_from_slice(&new.to_be_bytes());
    let mut check = u16::from_be_bytes([tcp[16], tcp[17]]);
    check = update_word(check, (old >> 16) as u16, (new >> 16) as u16);
    check = update_word(check, old as u16, new as u16);
    tcp[16..18].copy_from_slice(&check.to_be_bytes());
}

/// Adds `by` to a segment's acknowledgement number and to the edges of its SACK blocks.
fn shift_acks(tcp: &mut [u8], by: u32) {
    shift(tcp, 8, by);
    let end = usize::from(tcp[12] >> 4) * 4;
    let mut i = 20;
    while i < end {
        match tcp[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(tcp.get(i + 1).copied().unwrap_or(0)).max(2);
                if kind == 5 {
                    let mut edge = i + 2;
                    while edge + 4 <= (i + len).min(end) {
                        shift(tcp, edge, by);
                        edge += 4;
                    }
                }
                i += len;
            }
        }
    }
}

/// Writes an Ethernet frame carrying `tcp` from `src` to `dst`; its length.
fn write(
    buf: &mut [u8],
    macs: (EthernetAddress, EthernetAddress),
    src: Ipv4Address,
    dst: Ipv4Address,
    tcp: &TcpRepr,
) -> usize {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let len = 14 + ip.buffer_len() + tcp.buffer_len();
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..len]);
    EthernetRepr {
        src_addr: macs.0,
        dst_addr: macs.1,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &src.into(),
        &dst.into(),
        &caps,
    );
    len
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

    /// A socket went into SYN-RECEIVED (`true`) or out of it.
    pub fn half_open(&mut self, into: bool) {
        if into {
            self.half_open += 1;
        } else {
            self.half_open -= 1;
        }
    }

    /// Whether frames in must be looked at: the queue is full, cookies are out, or a
    /// cookie connection lives.
    pub fn watching(&self, now: Instant) -> bool {
        self.half_open >= self.backlog || self.checks_cookies(now) || !self.shifts.is_empty()
    }

    fn checks_cookies(&self, now: Instant) -> bool {
        self.last_cookie.is_some_and(|t| now < t + CHECK_FOR)
    }

    /// Socket `id` closed: a cookie connection on it is over.
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
        let mac = stack.iface.hardware_addr();
        let Some(Found { at, src, dst }) = find(frame, Some(mac), Some(addrs)) else {
            return Ingress::Pass;
        };
        let tcp = TcpPacket::new_unchecked(&frame[at..]);
        let key = (dst, tcp.dst_port(), src, tcp.src_port());
        let (syn, ack, rst) = (tcp.syn(), tcp.ack(), tcp.rst());
        let ours = listening && key.1 == port && stack.conn_of(key).is_none();
        if syn && !ack && !rst {
            if let Some((_, id)) = self.shifts.remove(&key) {
                // A new connection on the tuple.
                self.by_conn.remove(&id);
            }
            if ours && self.half_open >= self.backlog {
                self.answer(now, frame, at, key);
                return Ingress::Answered;
            }
        } else if ack && let Some(&(by, _)) = self.shifts.get(&key) {
            shift_acks(&mut frame[at..], by.wrapping_neg());
        } else if ack && !syn && !rst && ours && self.checks_cookies(now) {
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
        let isn = syn.seq_number.0 as u32;
        let cookie = self
            .jar
            .make(now, key, isn, syn.max_seg_size.unwrap_or(536));
        // Without timestamps the cookie cannot carry window scale and SACK: both are off.
        let ts = syn.timestamp.map(|t| TcpTimestampRepr {
            tsval: syncookie::timestamp(super::acks::TSVAL, syn.window_scale, syn.sack_permitted),
            tsecr: t.tsval,
        });
        let reply = TcpRepr {
            src_port: key.1,
            dst_port: key.3,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(cookie as i32),
            ack_number: Some(syn.seq_number + 1),
            window_len: self.window,
            window_scale: syn
                .window_scale
                .filter(|_| ts.is_some())
                .map(|_| self.window_shift),
            max_seg_size: Some(OWN_MSS),
            sack_permitted: syn.sack_permitted && ts.is_some(),
            sack_ranges: [None; 3],
            timestamp: ts,
            payload: &[],
        };
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
        let len = write(&mut buf, (eth.dst_addr(), next_hop), key.0, key.2, &reply);
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
            let Ok(ack) =
                TcpRepr::parse(&TcpPacket::new_unchecked(&frame[at..]), &src, &dst, &caps)
            else {
                return Ingress::Pass;
            };
            let isn = ack.seq_number - 1;
            let cookie = ack.ack_number.map_or(0, |a| a.0 as u32).wrapping_sub(1);
            let Some(mss) = self.jar.check(now, key, isn.0 as u32, cookie) else {
                self.stats.invalid += 1;
                return Ingress::Pass;
            };
            let opts = syncookie::options(mss, ack.timestamp.map(|t| t.tsecr));
            let repr = TcpRepr {
                control: TcpControl::Syn,
                seq_number: isn,
                ack_number: None,
                window_scale: opts.window_scale,
                max_seg_size: Some(opts.mss),
                sack_permitted: opts.sack,
                sack_ranges: [None; 3],
                timestamp: ack.timestamp.map(|t| TcpTimestampRepr {
                    tsval: t.tsval,
                    tsecr: 0,
                }),
                payload: &[],
                ..ack
            };
            let eth = EthernetFrame::new_unchecked(&*frame);
            let macs = (eth.src_addr(), eth.dst_addr());
            (cookie, write(&mut syn, macs, key.2, key.0, &repr))
        };
        stack.input(now, &syn[..len], addrs);
        let mut server_isn = None;
        stack.retract(|f| {
            server_isn = syn_ack_seq(f, key);
            server_isn.is_some()
        });
        let (Some(id), Some(isn)) = (stack.conn_of(key), server_isn) else {
            // No SYN-ACK (its next hop unknown): no connection; the ACK gets an RST.
            if let Some(id) = stack.conn_of(key) {
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

    /// A frame the stack sent: a cookie connection's sequence numbers are shifted, and a
    /// frame off the LAN shows the gateway's MAC.
    pub fn egress(&mut self, frame: &mut [u8]) {
        if self.half_open == 0 && self.shifts.is_empty() {
            return;
        }
        let Some(Found { at, src, dst }) = find(frame, None, None) else {
            return;
        };
        if !self.lan.contains_addr(&dst) {
            self.gateway_mac = Some(EthernetFrame::new_unchecked(&*frame).dst_addr());
        }
        let tcp = TcpPacket::new_unchecked(&frame[at..]);
        let key = (src, tcp.src_port(), dst, tcp.dst_port());
        if let Some(&(by, _)) = self.shifts.get(&key) {
            shift(&mut frame[at..], 4, by);
        }
    }

    /// The next cookie SYN-ACK, copied into `buf`.
    pub fn transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let (frame, len) = self.out.front()?;
        let len = *len;
        buf.get_mut(..len)?.copy_from_slice(&frame[..len]);
        self.out.pop_front();
        Some(len)
    }

    /// Whether cookie SYN-ACKs wait to leave.
    pub fn sending(&self) -> bool {
        !self.out.is_empty()
    }
}

/// The sequence number of `frame` if it is the SYN-ACK of `key` (the server's view).
fn syn_ack_seq(frame: &[u8], key: Key) -> Option<u32> {
    let Found { at, src, dst } = find(frame, None, None)?;
    let tcp = TcpPacket::new_unchecked(&frame[at..]);
    let ours = (src, tcp.src_port(), dst, tcp.dst_port()) == key;
    (ours && tcp.syn() && tcp.ack()).then(|| tcp.seq_number().0 as u32)
}
