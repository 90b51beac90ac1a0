//! One simulated host's network stack: a smoltcp [`Interface`] and [`SocketSet`] over an
//! in-memory device, and the address filter in front of it. Frames in are borrowed (never
//! copied); frames out wait in a queue of reused buffers until the fabric takes them.
//!
//! The filter stands for the kernel's address checks, which smoltcp cannot express here: an
//! interface with AnyIP (`set_any_ip`, needed to speak from thousands of client addresses, or
//! from VIPs held on "lo") takes every IPv4 packet and answers every ARP request. So the host
//! decides first which destination addresses it accepts, and for which it answers ARP (a real
//! server's `arp_ignore=1` is "not for the VIP"); the rest is dropped and counted. A
//! gratuitous ARP updates a known neighbour as Linux does ([`super::neigh`]).
//!
//! A server's request sock may be parked ([`Stack::park`], [`super::parked`]): its SYN-ACK
//! retransmissions then leave from a copy, and it goes back to smoltcp (its missed
//! retransmissions replayed) as soon as anything else concerns it.

use super::acks::Ack;
use super::conns::{ConnId, Conns};
use super::device::{Port, TxQueue};
pub use super::filter::{Addresses, Counters};
use super::filter::{Admit, admit};
use super::neigh::Neighbours;
use super::parked::Parked;
use smoltcp::iface::{Config, Context, Interface, SocketSet};
use smoltcp::phy;
use smoltcp::socket::{tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpOperation, ArpRepr, EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address,
    Ipv4Cidr,
};

/// Parked request socks retransmit from their copy only before this instant: smoltcp's
/// neighbour entries live 60 s, so one found when a SYN-ACK left (and no ARP since, which
/// unparks them all) is still there until then.
const PARKED_UNTIL: Instant = Instant::from_millis_const(60_000);

/// Largest plain Ethernet frame (without FCS): the lab's 1500-byte MTU.
pub const MAX_FRAME: usize = 1514;

/// The interface, its sockets and its device.
pub struct Stack {
    pub iface: Interface,
    /// Every socket but those of [`Stack::add_tcp`] and [`Stack::add_udp`].
    pub sockets: SocketSet<'static>,
    pub conns: Conns,
    /// An ARP request left since the last ARP in: sockets may wait for that neighbour.
    arp_pending: bool,
    pub tx: TxQueue,
    neigh: Neighbours,
    own: Ipv4Address,
    /// The last time the stack was given.
    pub now: Instant,
    pub counters: Counters,
    /// A frame in whose TCP checksum is wrong, spoiled for smoltcp to drop (see
    /// [`super::csum::spoil`]); rarely used, kept.
    spoiled: Vec<u8>,
    /// Request socks whose SYN-ACK retransmissions leave from a copy ([`super::parked`]).
    parked: Parked,
    scratch: Vec<ConnId>,
}

impl Stack {
    /// A stack with address `addr` on MAC `mac`, an optional default gateway, AnyIP on (the
    /// filter decides), and smoltcp's own randomness (ISNs) seeded with `seed`.
    pub fn new(
        mac: EthernetAddress,
        addr: Ipv4Cidr,
        gateway: Option<Ipv4Address>,
        seed: u64,
    ) -> Self {
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = seed;
        let mut tx = TxQueue::default();
        let mut port = Port {
            rx: None,
            tx: &mut tx,
        };
        let now = Instant::ZERO;
        let mut iface = Interface::new(config, &mut port, now);
        iface.update_ip_addrs(|a| {
            // The capacity is at least one address.
            let _ = a.push(IpCidr::Ipv4(addr));
        });
        if let Some(gw) = gateway {
            // A route table that cannot hold one default route is a build misconfiguration.
            let _ = iface.routes_mut().add_default_ipv4_route(gw);
        }
        iface.set_any_ip(true);
        Self {
            iface,
            sockets: SocketSet::new(Vec::new()),
            conns: Conns::default(),
            arp_pending: false,
            tx,
            neigh: Neighbours::default(),
            own: addr.address(),
            now,
            counters: Counters::default(),
            spoiled: Vec::new(),
            parked: Parked::default(),
            scratch: Vec::new(),
        }
    }

    /// Filters `frame` and gives it to the stack if the host takes it.
    pub fn input(&mut self, now: Instant, frame: &[u8], addrs: &impl Addresses) {
        self.now = now;
        if !self.parked.is_empty() && frame.get(12..14) == Some(&[8, 6]) {
            // The neighbour cache may change: parked sockets send through smoltcp again.
            self.unpark_all();
        }
        let mac = self.iface.hardware_addr();
        let (frame, tcp) = match admit(frame, mac, addrs) {
            Admit::Take(tcp) => (frame, tcp),
            Admit::Arp(repr) => {
                if let HardwareAddress::Ethernet(mac) = mac
                    && let Some(reply) = self.neigh.gratuitous(&repr, mac, self.own)
                {
                    self.counters.gratuitous_arp += 1;
                    // An ARP frame: it fits, and the copy keeps `neigh` free.
                    let mut copy = [0; 64];
                    let n = reply.len().min(copy.len());
                    copy[..n].copy_from_slice(&reply[..n]);
                    return self.ingress(now, &copy[..n], None, true, true);
                }
                if let ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Request,
                    target_protocol_addr,
                    ..
                } = repr
                    && !addrs.answers_arp(target_protocol_addr)
                {
                    self.counters.arp_ignored += 1;
                    return;
                }
                self.neigh.learn(&repr, self.own);
                self.counters.frames_in += 1;
                return self.ingress(now, frame, None, true, true);
            }
            Admit::Udp(addr, port) => {
                self.counters.frames_in += 1;
                let sock = self.conns.demux_udp(addr, port);
                return self.ingress(now, frame, sock, false, true);
            }
            Admit::Malformed => return self.counters.malformed += 1,
            Admit::NotOurs => return self.counters.not_ours += 1,
        };
        self.counters.frames_in += 1;
        let conn = tcp.and_then(|s| Some((s, self.conns.demux(s.key, s.to_listener)?)));
        if let Some((_, id)) = conn {
            self.unpark(id);
        }
        let ack = conn.map(|(seg, id)| (super::acks::before(self.conns.get_mut(id), &seg), id));
        let send = !matches!(ack, Some((Ack::Deferred | Ack::AfterRead, _)));
        self.ingress(now, frame, conn.map(|(_, id)| id), false, send);
        if let Some((Ack::Quick | Ack::AfterRead, id)) = ack {
            super::acks::after_quick(self.conns.get_mut(id));
        }
    }

    /// smoltcp takes `frame` into `conn`'s set (or the shared one), then sends if `send`.
    fn ingress(&mut self, now: Instant, frame: &[u8], conn: Option<ConnId>, arp: bool, send: bool) {
        self.iface.poll_maintenance(now);
        // smoltcp verifies no TCP checksum (see `super::device`): a wrong one is dropped here
        // where smoltcp would have dropped it, at the TCP header.
        let frame = if super::csum::verify(frame) || !super::csum::spoil(frame, &mut self.spoiled) {
            frame
        } else {
            &self.spoiled[..]
        };
        let mut port = Port {
            rx: Some(frame),
            tx: &mut self.tx,
        };
        let set = match conn {
            Some(id) => self.conns.set_mut(id),
            None => &mut self.sockets,
        };
        self.iface.poll_ingress_single(now, &mut port, set);
        if arp && std::mem::take(&mut self.arp_pending) {
            // A neighbour may have become known: sockets waiting for it are due.
            self.conns.touch_all();
        }
        if send {
            self.egress(now);
        }
    }

    fn egress(&mut self, now: Instant) -> bool {
        if !self.parked.is_empty() {
            return self.egress_parked(now);
        }
        let mut port = Port {
            rx: None,
            tx: &mut self.tx,
        };
        let (iface, shared) = (&mut self.iface, &mut self.sockets);
        self.conns.egress(iface, now, &mut port, shared)
    }

    /// [`Stack::egress`] with request socks parked: those due leave from their copy, after
    /// the others (or through smoltcp when the others send too).
    #[inline(never)]
    fn egress_parked(&mut self, now: Instant) -> bool {
        let due = self.parked.next_due().is_some_and(|(t, _)| t <= now);
        if due && (now >= PARKED_UNTIL || self.busy(now)) {
            // Others send now too (in socket order), or a neighbour may have expired:
            // smoltcp sends these retransmissions itself.
            while let Some((t, id)) = self.parked.next_due() {
                if t > now {
                    break;
                }
                self.unpark(id);
            }
        }
        let mut port = Port {
            rx: None,
            tx: &mut self.tx,
        };
        let (iface, shared) = (&mut self.iface, &mut self.sockets);
        let mut sent = self.conns.egress(iface, now, &mut port, shared);
        if due {
            // Due at the same instant: in socket order, as one egress pass sends them.
            let mut ids = std::mem::take(&mut self.scratch);
            while let Some((t, id)) = self.parked.next_due() {
                if t > now {
                    break;
                }
                ids.push(id);
                self.parked.sent(id);
            }
            ids.sort_unstable();
            for &id in &ids {
                if let Some(r) = self.parked.get(id) {
                    let frame = &r.frame[..r.len];
                    let mut port = Port {
                        rx: None,
                        tx: &mut self.tx,
                    };
                    if let Some(tx) = phy::Device::transmit(&mut port, now) {
                        phy::TxToken::consume(tx, frame.len(), |b| b.copy_from_slice(frame));
                        sent = true;
                    }
                }
            }
            ids.clear();
            self.scratch = ids;
        }
        sent
    }

    /// Whether an egress at `now` would poll any socket but the parked ones.
    fn busy(&mut self, now: Instant) -> bool {
        self.conns.busy(now) || (self.iface.poll_at(now, &self.sockets)).is_some_and(|t| t <= now)
    }

    /// Request socks parked now.
    #[cfg(test)]
    pub fn parked(&self) -> usize {
        self.parked.len()
    }

    /// Parks socket `id`, a request sock whose SYN-ACK left now (still queued): its
    /// retransmissions leave from a copy until anything else concerns it.
    pub fn park(&mut self, id: ConnId) {
        if self.conns.is_dirty(id) || self.parked.contains(id) {
            return;
        }
        let Some(first) = self.conns.deadline(id) else {
            return;
        };
        let sock = self.conns.get::<tcp::Socket>(id);
        if sock.state() != tcp::State::SynReceived || first <= self.now {
            return;
        }
        let (Some(l), Some(r)) = (sock.local_endpoint(), sock.remote_endpoint()) else {
            return;
        };
        let (IpAddress::Ipv4(la), IpAddress::Ipv4(ra)) = (l.addr, r.addr);
        let key = (la, l.port, ra, r.port);
        let Some(frame) = super::cookie_frames::find_syn_ack(&self.tx, key) else {
            return;
        };
        let mut copy = [0; super::parked::FRAME];
        let Some(to) = copy.get_mut(..frame.len()) else {
            return;
        };
        to.copy_from_slice(frame);
        // smoltcp leaves the TCP checksum to the queue ([`super::device`]): zero, as it wrote it.
        let check = 14 + usize::from(to[14] & 0xf) * 4 + 16;
        if let Some(c) = to.get_mut(check..check + 2) {
            c.fill(0);
        }
        self.parked.park(id, to, self.now, first);
        self.conns.park(id);
    }

    /// Socket `id`, if parked, runs in smoltcp again: the retransmissions sent from its copy
    /// are replayed into it at their instants (their frames taken back).
    #[inline]
    fn unpark(&mut self, id: ConnId) {
        if !self.parked.is_empty() && self.parked.contains(id) {
            self.replay(id);
        }
    }

    #[inline(never)]
    fn replay(&mut self, id: ConnId) {
        let Some(record) = self.parked.take(id) else {
            return;
        };
        for n in 0..record.sent {
            let mut port = Port {
                rx: None,
                tx: &mut self.tx,
            };
            let before = port.tx.queue.len();
            self.conns
                .replay(&mut self.iface, id, record.at(n), &mut port);
            if self.tx.queue.len() > before
                && let Some(frame) = self.tx.queue.pop_back()
            {
                self.tx.spare.push(frame);
            }
        }
        self.conns.unpark(id);
    }

    fn unpark_all(&mut self) {
        let mut ids = std::mem::take(&mut self.scratch);
        ids.extend(self.parked.ids());
        for &id in &ids {
            self.unpark(id);
        }
        ids.clear();
        self.scratch = ids;
    }

    /// Lets the stack send what its sockets have and run its timers; `true` if it sent.
    pub fn poll(&mut self, now: Instant) -> bool {
        self.now = now;
        self.iface.poll_maintenance(now);
        self.egress(now)
    }

    /// Adds a connection socket (in a set of its own, see [`super::conns`]).
    pub fn add_tcp(&mut self, sock: tcp::Socket<'static>) -> ConnId {
        self.conns.add(sock)
    }

    /// Connection socket `id`, to act on (it is polled at the next [`Stack::poll`]).
    pub fn tcp(&mut self, id: ConnId) -> &mut tcp::Socket<'static> {
        self.unpark(id);
        self.conns.get_mut(id)
    }

    /// Adds a UDP socket, bound or not (in a set of its own, as a connection socket). A
    /// datagram is matched against these alone: a host keeps its UDP sockets here or in
    /// [`Stack::sockets`], not in both.
    pub fn add_udp(&mut self, sock: udp::Socket<'static>) -> ConnId {
        self.conns.add(sock)
    }

    /// UDP socket `id`, to act on (it is polled at the next [`Stack::poll`]).
    pub fn udp(&mut self, id: ConnId) -> &mut udp::Socket<'static> {
        self.unpark(id);
        self.conns.get_mut(id)
    }

    /// Connection socket `id` and the interface's context (to connect it).
    pub fn tcp_cx(&mut self, id: ConnId) -> (&mut Context, &mut tcp::Socket<'static>) {
        self.unpark(id);
        (self.iface.context(), self.conns.get_mut(id))
    }

    /// The sockets of [`Stack::add_tcp`] and [`Stack::add_udp`] polled since the last call
    /// (they may have progressed).
    pub fn take_woken(&mut self, out: &mut Vec<ConnId>) {
        self.conns.take_woken(out);
    }

    /// The next frame sent, copied into `buf` (`None` if none, or if it does not fit).
    pub fn transmit(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frame = self.tx.pop_front()?;
        let len = frame.len();
        // An ARP request (Ethernet type 0x0806, operation 1) of ours.
        self.arp_pending |=
            frame.get(12..14) == Some(&[8, 6]) && frame.get(20..22) == Some(&[0, 1]);
        let fits = len <= buf.len();
        if fits {
            buf[..len].copy_from_slice(&frame);
            self.counters.frames_out += 1;
        }
        self.tx.spare.push(frame);
        fits.then_some(len)
    }

    /// The length of the next frame [`Stack::transmit`] gives, if one waits.
    pub fn next_len(&self) -> Option<usize> {
        self.tx.queue.front().map(Vec::len)
    }

    /// When the stack next needs [`Stack::poll`]: now if frames wait to leave.
    pub fn poll_at(&mut self) -> Option<Instant> {
        if !self.tx.queue.is_empty() {
            return Some(self.now);
        }
        let shared = self.iface.poll_at(self.now, &self.sockets);
        let conns = self.conns.poll_at(&mut self.iface, self.now);
        let parked = if self.parked.is_empty() {
            None
        } else {
            self.parked.next_due().map(|(t, _)| t)
        };
        shared.into_iter().chain(conns).chain(parked).min()
    }
}
