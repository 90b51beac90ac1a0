//! The TCP and UDP sockets of a host, each in its own smoltcp [`SocketSet`], so that an
//! event costs what it touches rather than a walk over every socket: smoltcp's
//! `Interface::poll` and `poll_at` look at every socket of the set they are given. A frame in
//! goes to the one set smoltcp would have picked (the socket of its 4-tuple, or the first
//! listener for a SYN; for UDP the first socket bound to its destination address and port,
//! or to its port alone); egress runs only the sets that are due (their `poll_at` is cached
//! until the socket is polled or touched) or touched, in passes over them in socket order,
//! one segment or datagram per socket per pass: the order one shared set would have sent
//! them in, had they been added to it in the same order.
//!
//! Must not import the hosts: they hold socket numbers ([`ConnId`]) and ask for sockets.

use crate::dataplane::flow_hash::FlowMap;
use smoltcp::iface::{Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::{AnySocket, Socket, tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, Ipv4Address};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

/// A socket's number on its host.
pub type ConnId = usize;

/// A TCP 4-tuple as the host sees it: local address and port, remote address and port.
pub type Key = (Ipv4Address, u16, Ipv4Address, u16);

/// What a frame in is matched on: a TCP 4-tuple, or a UDP socket's bound address (`None`:
/// any) and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Demux {
    Tcp(Key),
    Udp(Option<Ipv4Address>, u16),
}

struct Conn {
    set: SocketSet<'static>,
    handle: SocketHandle,
    /// When the socket next needs a poll, as last asked.
    deadline: Option<Instant>,
    key: Option<Demux>,
    /// In `dirty` already; in this egress's list already; in `woken` already; in `listeners`.
    dirty: bool,
    queued: bool,
    woken: bool,
    listening: bool,
}

/// Every connection socket of a host, and what is due.
#[derive(Default)]
pub struct Conns {
    conns: Vec<Conn>,
    by_key: FlowMap<Demux, ConnId>,
    listeners: BTreeSet<ConnId>,
    /// Deadlines; an entry is stale unless it equals its socket's `deadline`.
    due: BinaryHeap<Reverse<(Instant, ConnId)>>,
    /// Touched since they were last polled: their deadline is unknown.
    dirty: Vec<ConnId>,
    /// Since the host last took them: given a frame, due by their timer, or sent a segment;
    /// they may have progressed. (A socket only touched and polled for nothing has not.)
    woken: Vec<ConnId>,
    scratch: (Vec<ConnId>, Vec<ConnId>),
}

impl Conns {
    pub fn add<T: AnySocket<'static>>(&mut self, sock: T) -> ConnId {
        let mut set = SocketSet::new(Vec::with_capacity(1));
        let handle = set.add(sock);
        let id = self.conns.len();
        self.conns.push(Conn {
            set,
            handle,
            deadline: None,
            key: None,
            dirty: false,
            queued: false,
            woken: false,
            listening: false,
        });
        self.touch(id);
        // A UDP socket bound before it came takes datagrams at once.
        self.rekey(id);
        id
    }

    /// Socket `id`, to act on: it is polled at the next egress.
    pub fn get_mut<T: AnySocket<'static>>(&mut self, id: ConnId) -> &mut T {
        self.touch(id);
        let c = &mut self.conns[id];
        c.set.get_mut::<T>(c.handle)
    }

    /// Socket `id`, to look at only (not polled for it).
    pub fn get<T: AnySocket<'static>>(&self, id: ConnId) -> &T {
        let c = &self.conns[id];
        c.set.get::<T>(c.handle)
    }

    fn touch(&mut self, id: ConnId) {
        let c = &mut self.conns[id];
        if !c.dirty {
            c.dirty = true;
            self.dirty.push(id);
        }
    }

    /// Every socket's deadline is to be asked again (a neighbour became known).
    pub fn touch_all(&mut self) {
        for id in 0..self.conns.len() {
            self.touch(id);
        }
    }

    /// The set smoltcp would have given a TCP segment to `key`: the socket of that 4-tuple
    /// or, for a segment without ACK or RST, the first listener, whichever comes first.
    pub fn demux(&self, key: Key, to_listener: bool) -> Option<ConnId> {
        let tuple = self.by_key.get(&Demux::Tcp(key)).copied();
        let listener = self.listeners.first().copied().filter(|_| to_listener);
        tuple.into_iter().chain(listener).min()
    }

    /// The set smoltcp would have given a UDP datagram to `addr`:`port` (unicast: the filter
    /// admits no other): the first socket bound to that address and port, or to the port.
    pub fn demux_udp(&self, addr: Ipv4Address, port: u16) -> Option<ConnId> {
        let exact = self.by_key.get(&Demux::Udp(Some(addr), port));
        let any = self.by_key.get(&Demux::Udp(None, port));
        exact.into_iter().chain(any).copied().min()
    }

    /// Socket `id`'s set, for a frame in (`id` counts as touched and woken).
    pub fn set_mut(&mut self, id: ConnId) -> &mut SocketSet<'static> {
        self.touch(id);
        self.wake(id);
        &mut self.conns[id].set
    }

    fn wake(&mut self, id: ConnId) {
        let c = &mut self.conns[id];
        if !c.woken {
            c.woken = true;
            self.woken.push(id);
        }
    }

    /// The sockets polled since the last call, into `out` (cleared first).
    pub fn take_woken(&mut self, out: &mut Vec<ConnId>) {
        out.clear();
        for &id in &self.woken {
            self.conns[id].woken = false;
        }
        out.append(&mut self.woken);
    }

    /// Asks socket `id` its deadline, 4-tuple and whether it listens.
    fn refresh(&mut self, iface: &mut Interface, now: Instant, id: ConnId) {
        let c = &mut self.conns[id];
        c.dirty = false;
        let deadline = iface.poll_at(now, &c.set);
        if deadline != c.deadline {
            c.deadline = deadline;
            if let Some(t) = deadline {
                self.due.push(Reverse((t, id)));
            }
        }
        self.rekey(id);
    }

    /// Files socket `id` under what frames in are matched on (a TCP socket's 4-tuple and
    /// whether it listens; a UDP socket's binding).
    fn rekey(&mut self, id: ConnId) {
        let c = &mut self.conns[id];
        let key = match c.set.iter().next().map(|(_, s)| s) {
            Some(Socket::Udp(sock)) => udp_key(sock),
            Some(Socket::Tcp(sock)) => {
                let listening = sock.state() == tcp::State::Listen;
                if listening != c.listening {
                    c.listening = listening;
                    if listening {
                        self.listeners.insert(id);
                    } else {
                        self.listeners.remove(&id);
                    }
                }
                tcp_key(sock)
            }
            _ => None,
        };
        if key != c.key {
            if let Some(old) = c.key.take()
                && self.by_key.get(&old) == Some(&id)
            {
                self.by_key.remove(&old);
            }
            c.key = key;
            if let Some(k) = key {
                // Two sockets on one key: smoltcp takes the first.
                let e = self.by_key.entry(k).or_insert(id);
                *e = (*e).min(id);
            }
        }
    }

    /// Socket `id`'s deadline as last asked.
    pub fn deadline(&self, id: ConnId) -> Option<Instant> {
        self.conns[id].deadline
    }

    /// Whether socket `id` was touched since its last poll.
    pub fn is_dirty(&self, id: ConnId) -> bool {
        self.conns[id].dirty
    }

    /// Socket `id` is left out of egress and deadlines (its timer is run elsewhere, see
    /// [`super::parked`]) until [`Conns::unpark`]; it must not be touched meanwhile.
    pub fn park(&mut self, id: ConnId) {
        self.conns[id].deadline = None;
    }

    /// Socket `id` runs here again: it is polled at the next egress.
    pub fn unpark(&mut self, id: ConnId) {
        self.touch(id);
    }

    /// Lets socket `id` alone send at `now` (a parked socket's missed timer).
    pub fn replay<D: Device>(
        &mut self,
        iface: &mut Interface,
        id: ConnId,
        now: Instant,
        dev: &mut D,
    ) {
        iface.poll_egress(now, dev, &mut self.conns[id].set);
    }

    /// Whether an egress at `now` would poll any socket: one is touched or due.
    pub fn busy(&mut self, now: Instant) -> bool {
        if !self.dirty.is_empty() {
            return true;
        }
        while let Some(&Reverse((t, id))) = self.due.peek() {
            if self.conns[id].deadline == Some(t) {
                return t <= now;
            }
            self.due.pop();
        }
        false
    }

    /// When the first socket needs a poll.
    pub fn poll_at(&mut self, iface: &mut Interface, now: Instant) -> Option<Instant> {
        self.settle(iface, now);
        while let Some(&Reverse((t, id))) = self.due.peek() {
            if self.conns[id].deadline == Some(t) {
                return Some(t);
            }
            self.due.pop();
        }
        None
    }

    fn settle(&mut self, iface: &mut Interface, now: Instant) {
        while let Some(id) = self.dirty.pop() {
            self.refresh(iface, now, id);
        }
    }

    /// Sends what the due sockets have, after `shared` (the host's other sockets); `true` if
    /// anything was sent.
    #[inline(always)]
    pub fn egress<D: Device>(
        &mut self,
        iface: &mut Interface,
        now: Instant,
        dev: &mut D,
        shared: &mut SocketSet<'static>,
    ) -> bool {
        // Touched sockets are due now: their deadline may have moved either way.
        let mut list = std::mem::take(&mut self.scratch.0);
        let mut active = std::mem::take(&mut self.scratch.1);
        for &id in &self.dirty {
            let c = &mut self.conns[id];
            (c.dirty, c.queued) = (false, true);
            list.push(id);
        }
        self.dirty.clear();
        while let Some(&Reverse((t, id))) = self.due.peek() {
            if t > now {
                break;
            }
            self.due.pop();
            let c = &mut self.conns[id];
            if c.deadline != Some(t) {
                continue;
            }
            // Its timer came: the refresh below files the next one.
            c.deadline = None;
            if !c.queued {
                c.queued = true;
                list.push(id);
            }
            self.wake(id);
        }
        list.sort_unstable();
        active.extend_from_slice(&list);
        let mut sent = false;
        let mut shared_on = true;
        loop {
            let mut any = false;
            if shared_on {
                shared_on = iface.poll_egress(now, dev, shared) == PollResult::SocketStateChanged;
                any |= shared_on;
            }
            let mut kept = 0;
            for k in 0..active.len() {
                let id = active[k];
                let set = &mut self.conns[id].set;
                if iface.poll_egress(now, dev, set) == PollResult::SocketStateChanged {
                    active[kept] = id;
                    kept += 1;
                    any = true;
                    self.wake(id);
                }
            }
            active.truncate(kept);
            sent |= any;
            if !any {
                break;
            }
        }
        for &id in &list {
            self.conns[id].queued = false;
            self.refresh(iface, now, id);
        }
        list.clear();
        self.scratch = (list, active);
        sent
    }
}

/// A TCP socket's 4-tuple, once it has one.
fn tcp_key(sock: &tcp::Socket) -> Option<Demux> {
    let (l, r) = (sock.local_endpoint()?, sock.remote_endpoint()?);
    match (l.addr, r.addr) {
        (IpAddress::Ipv4(la), IpAddress::Ipv4(ra)) => Some(Demux::Tcp((la, l.port, ra, r.port))),
    }
}

/// A UDP socket's binding (port 0 once closed), all smoltcp matches a datagram on.
fn udp_key(sock: &udp::Socket) -> Option<Demux> {
    let bound = sock.endpoint();
    let addr = bound.addr.map(|a| match a {
        IpAddress::Ipv4(a) => a,
    });
    Some(Demux::Udp(addr, bound.port))
}
