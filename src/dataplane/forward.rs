//! The VIP path: classify an IPv4 packet, find or create its connection (scheduling and
//! persistence), move its TCP state, and forward it: by direct routing (MAC rewrite only) or
//! by NAT (destination rewritten to the real server; the replies, matched by their tuple,
//! rewritten back to the VIP and routed to the client).

use super::conntrack::{Conn, ConnKey, NO_LINK, TableFull, flags};
use super::counters::DropReason;
use super::settings::{Forwarding, Protocol};
use super::tcp_state::{ConnState, Direction, TcpEvent};
use super::{Dataplane, Iface, Verdict, defense};
use crate::sched::Flow;
use crate::wire::checksum::{self, End, Mode, RoutedError};
use crate::wire::{
    ETHERNET_HEADER_LEN, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket, UdpPacket,
};

/// What the VIP path needs from a packet's transport header.
#[derive(Clone, Copy)]
struct Transport {
    protocol: Protocol,
    src_port: u16,
    dst_port: u16,
    /// The TCP event of the segment; `None` for UDP or a segment with no tracked flag.
    event: Option<TcpEvent>,
    /// A SYN without ACK: the only segment that may open a TCP connection.
    opens: bool,
    /// The IPv4 header's length: where this header starts.
    ihl: u8,
}

impl Dataplane {
    pub(super) fn handle_ipv4(&mut self, now_ms: u64, iface: Iface, frame: &mut [u8]) -> Verdict {
        let Ok(ip) = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..]) else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        if ip.version() != 4 {
            return Verdict::Dropped(DropReason::Malformed);
        }
        if !checksum::ipv4_header_ok(&ip.as_ref()[..usize::from(ip.header_len())]) {
            return Verdict::Dropped(DropReason::BadChecksum);
        }
        let dst = ip.dst_addr();
        let port = self.iface(iface);
        if dst == port.addr
            || port.floating.contains(&dst)
            || dst.is_multicast()
            || dst.is_broadcast()
        {
            return self.to_host();
        }
        let to_vip = iface == Iface::OUTSIDE && self.vips.contains(&dst);
        if !to_vip && !self.conns.has_replies() {
            return Verdict::Dropped(DropReason::NotForUs);
        }
        if !self.active {
            return Verdict::Dropped(DropReason::Inactive);
        }
        if ip.more_frags() || ip.frag_offset() != 0 {
            return Verdict::Dropped(DropReason::Fragment);
        }
        if ip.next_header() == IpProtocol::Icmp {
            return self.handle_icmp_error(now_ms, frame, to_vip);
        }
        let transport = match parse_transport(ip.next_header(), ip.header_len(), ip.payload()) {
            Ok(t) => t,
            Err(reason) => return Verdict::Dropped(reason),
        };
        if !to_vip {
            // Perhaps a real server's reply to a NAT connection, routed through us.
            let reply = ConnKey {
                protocol: transport.protocol.number(),
                client: ip.src_addr(),
                client_port: transport.src_port,
                vip: dst,
                vport: transport.dst_port,
            };
            return match self.conns.find_reply(&reply) {
                Some(idx) => self.nat_reply(now_ms, frame, idx, transport),
                None => Verdict::Dropped(DropReason::NotForUs),
            };
        }
        let Some(service) = self.services.iter().position(|s| {
            s.vip == dst && s.port == transport.dst_port && s.protocol == transport.protocol
        }) else {
            return Verdict::Dropped(DropReason::NoService);
        };
        let key = ConnKey {
            protocol: transport.protocol.number(),
            client: ip.src_addr(),
            client_port: transport.src_port,
            vip: dst,
            vport: transport.dst_port,
        };
        self.forward(now_ms, frame, service, key, transport)
    }

    fn forward(
        &mut self,
        now_ms: u64,
        frame: &mut [u8],
        service: usize,
        key: ConnKey,
        transport: Transport,
    ) -> Verdict {
        let hash = self.conns.hash(&key);
        if transport.opens {
            self.prefetch_victim_index();
        }
        let mut found = self.conns.find_hashed(&key, hash);
        if let Some(idx) = found {
            let conn = self.conns.get(idx);
            if conn.expires_ms <= now_ms || (transport.opens && conn.state.reusable_by_syn()) {
                self.expire(idx, now_ms);
                found = None;
            }
        }
        let idx = match found {
            Some(idx) => idx,
            None => {
                let tcp = transport.protocol == Protocol::Tcp;
                if tcp && !transport.opens && !self.sloppy {
                    // As the director's kernel would: the VIP is ours, no socket listens.
                    match super::reset::Reset::answering(frame) {
                        Some(r) if !self.resets.push(r) => self.counters.resets_dropped += 1,
                        _ => {}
                    }
                    return Verdict::Dropped(DropReason::NoConnection);
                }
                match self.open(now_ms, service, key, hash, tcp) {
                    Ok(idx) => idx,
                    Err(reason) => return Verdict::Dropped(reason),
                }
            }
        };
        let nat = self.services[service].forwarding == Forwarding::Nat;
        let direction = if nat {
            Direction::Input
        } else {
            Direction::InputOnly
        };
        let server = self.track(idx, now_ms, direction, transport.event);
        let svc = &mut self.services[service];
        svc.traffic.count(frame.len());
        svc.servers[server].traffic.count(frame.len());
        let neighbour = svc.servers[server].neighbour;
        if nat {
            let view = svc.views[server];
            let to = (End::Dst, view.addr, view.port);
            if let Err(reason) = self.rewrite_routed(frame, transport, to) {
                return Verdict::Dropped(reason);
            }
        }
        self.send_to(now_ms, frame, neighbour)
    }

    /// Moves a connection's TCP state and timeout for a segment, keeping the server's
    /// active/inactive counts right; returns the connection's server.
    fn track(
        &mut self,
        idx: u32,
        now_ms: u64,
        direction: Direction,
        event: Option<TcpEvent>,
    ) -> usize {
        let timeouts = self.timeouts;
        let conn = self.conns.get_mut(idx);
        let old = conn.state;
        let new = event.map_or(old, |e| old.next_in(direction, e));
        conn.state = new;
        conn.expires_ms = now_ms + timeouts.of_ms(new);
        let (server, service) = (conn.server as usize, conn.service as usize);
        if new != old {
            let client = conn.key.client;
            self.defense.track(client, Some(old), Some(new));
            self.note_sync(idx);
        }
        if old.is_active() != new.is_active() {
            let svc = &mut self.services[service];
            svc.count_conn(server, old.is_active(), -1);
            svc.count_conn(server, new.is_active(), 1);
        }
        server
    }

    /// Sends a frame to a neighbour: MACs set for its interface, or parked until it resolves.
    pub(super) fn send_to(&mut self, now_ms: u64, frame: &mut [u8], neighbour: usize) -> Verdict {
        let iface = self.neighbours.get(neighbour).iface;
        let mut eth = EthernetFrame::new_unchecked(&mut *frame);
        eth.set_src_addr(self.iface(iface).mac);
        match self.neighbours.mac(neighbour) {
            Some(mac) => {
                eth.set_dst_addr(mac);
                Verdict::Send(iface)
            }
            None => {
                self.neighbours.solicit(neighbour, now_ms);
                // A parked frame leaves later, without its virtio header: finish its checksum.
                if self.partial_csum && !complete_transport_csum(frame) {
                    return Verdict::Dropped(DropReason::Malformed);
                }
                match self.pending.park(neighbour, frame, now_ms) {
                    Ok(()) => Verdict::Parked,
                    Err(reason) => Verdict::Dropped(reason),
                }
            }
        }
    }

    /// A real server's reply to a NAT connection: source rewritten back to VIP:port, TTL
    /// decremented, and routed to the client through the outside router.
    fn nat_reply(
        &mut self,
        now_ms: u64,
        frame: &mut [u8],
        idx: u32,
        transport: Transport,
    ) -> Verdict {
        let conn = *self.conns.get(idx);
        if conn.expires_ms <= now_ms {
            self.expire(idx, now_ms);
            return Verdict::Dropped(DropReason::NoConnection);
        }
        let server = self.track(idx, now_ms, Direction::Output, transport.event);
        let svc = &mut self.services[conn.service as usize];
        svc.traffic.count_reply(frame.len());
        svc.servers[server].traffic.count_reply(frame.len());
        let Some(next_hop) = self.next_hop(conn.key.client) else {
            return Verdict::Dropped(DropReason::NoRoute);
        };
        let from = (End::Src, conn.key.vip, conn.key.vport);
        if let Err(reason) = self.rewrite_routed(frame, transport, from) {
            return Verdict::Dropped(reason);
        }
        self.send_to(now_ms, frame, next_hop)
    }

    /// A NAT packet's one rewrite: TTL, one end's address and port, each checksum once, in
    /// headers [`Dataplane::handle_ipv4`] parsed.
    fn rewrite_routed(
        &self,
        frame: &mut [u8],
        transport: Transport,
        to: (End, std::net::Ipv4Addr, u16),
    ) -> Result<(), DropReason> {
        let mode = if self.partial_csum {
            Mode::Partial
        } else {
            Mode::Full
        };
        let ip = &mut frame[ETHERNET_HEADER_LEN..];
        let header = (
            usize::from(transport.ihl),
            IpProtocol::from(transport.protocol.number()),
        );
        checksum::rewrite_routed(ip, header, to, mode).map_err(|e| match e {
            RoutedError::TtlExceeded => DropReason::TtlExceeded,
            RoutedError::Rewrite(_) => DropReason::Malformed,
        })
    }

    /// The neighbour a packet to `dst` goes to from the outside interface: `dst` itself when
    /// on-link (learnt on first use, within a fixed room), else the router. The whole route
    /// table of a director: connected network and default gateway.
    pub(super) fn next_hop(&mut self, dst: std::net::Ipv4Addr) -> Option<usize> {
        if self.iface(Iface::OUTSIDE).on_link(dst) {
            self.neighbours.track_dynamic(dst, Iface::OUTSIDE)
        } else {
            Some(self.gateway)
        }
    }

    /// Creates the entry of a new connection (`hash`: its key's): persistence template first,
    /// else the scheduler.
    fn open(
        &mut self,
        now_ms: u64,
        service: usize,
        key: ConnKey,
        hash: u64,
        tcp: bool,
    ) -> Result<u32, DropReason> {
        if self.defense.refuse_new() {
            return Err(DropReason::DefenseDropPacket);
        }
        if tcp && !self.defense.source_allows(key.client) {
            return Err(DropReason::HalfOpenLimit);
        }
        let svc = &mut self.services[service];
        let flow = Flow {
            protocol: key.protocol,
            src: key.client,
            src_port: key.client_port,
            dst: key.vip,
            dst_port: key.vport,
        };
        let (server, link) = if svc.persistence_ms > 0 {
            let persistence_ms = svc.persistence_ms;
            let template = self.template(now_ms, service, key, &flow)?;
            let t = self.conns.get_mut(template);
            t.link += 1;
            t.expires_ms = t.expires_ms.max(now_ms + persistence_ms);
            (t.server as usize, template)
        } else {
            (svc.schedule(&flow).ok_or(DropReason::NoServer)?, NO_LINK)
        };
        let conn = Conn {
            key,
            expires_ms: now_ms,
            link,
            service: service as u16,
            server: server as u16,
            state: if tcp { ConnState::None } else { ConnState::Udp },
            flags: 0,
        };
        let nat = self.services[service].forwarding == Forwarding::Nat;
        let conn = Conn {
            flags: if nat { flags::NAT } else { 0 },
            ..conn
        };
        let idx = match self.insert(now_ms, conn, hash) {
            Ok(idx) => idx,
            Err(_) => {
                if link != NO_LINK {
                    self.conns.get_mut(link).link -= 1;
                }
                return Err(DropReason::TableFull);
            }
        };
        if nat {
            let reply = self.reply_key(&conn);
            self.conns.insert_reply(reply, idx);
        }
        if !tcp {
            self.note_sync(idx);
        }
        let svc = &mut self.services[service];
        svc.count_conn(server, conn.state.is_active(), 1);
        svc.traffic.conns += 1;
        svc.servers[server].traffic.conns += 1;
        self.counters.conns_created += 1;
        Ok(idx)
    }

    /// Finds (or schedules and inserts) the persistence template for a client network.
    fn template(
        &mut self,
        now_ms: u64,
        service: usize,
        key: ConnKey,
        flow: &Flow,
    ) -> Result<u32, DropReason> {
        let svc = &mut self.services[service];
        let masked = u32::from(key.client) & svc.persistence_netmask;
        let tkey = ConnKey {
            client: masked.into(),
            client_port: 0,
            ..key
        };
        let hash = self.conns.hash(&tkey);
        if let Some(idx) = self.conns.find_hashed(&tkey, hash) {
            let t = self.conns.get(idx);
            if t.expires_ms > now_ms || t.link > 0 {
                return Ok(idx);
            }
            self.expire(idx, now_ms);
        }
        let svc = &mut self.services[service];
        let server = svc.schedule(flow).ok_or(DropReason::NoServer)?;
        let template = Conn {
            key: tkey,
            expires_ms: now_ms + svc.persistence_ms,
            link: 0,
            service: service as u16,
            server: server as u16,
            state: ConnState::None,
            flags: flags::TEMPLATE,
        };
        let idx = self
            .insert(now_ms, template, hash)
            .map_err(|_| DropReason::TableFull)?;
        self.note_sync(idx);
        Ok(idx)
    }

    /// Removes an expired (or replaced) entry, keeping counts and templates right. A template
    /// that still controls connections is re-armed instead, as IPVS does.
    pub(super) fn expire(&mut self, idx: u32, now_ms: u64) {
        let conn = *self.conns.get(idx);
        if conn.is_template() {
            if conn.link > 0 {
                let persistence_ms = self.services[conn.service as usize].persistence_ms;
                self.conns.get_mut(idx).expires_ms = now_ms + persistence_ms;
                return;
            }
            self.conns.remove(idx);
            self.counters.conns_expired += 1;
            return;
        }
        self.conns.remove(idx);
        self.counters.conns_expired += 1;
        self.defense.track(conn.key.client, Some(conn.state), None);
        if conn.flags & flags::NAT != 0 {
            let reply = self.reply_key(&conn);
            self.conns.remove_reply(&reply);
        }
        let svc = &mut self.services[conn.service as usize];
        svc.count_conn(conn.server as usize, conn.state.is_active(), -1);
        if conn.link != NO_LINK {
            let t = self.conns.get_mut(conn.link);
            t.link = t.link.saturating_sub(1);
        }
    }
}

impl Dataplane {
    /// Inserts an entry (`hash`: its key's); a full table makes room by evicting a half-open
    /// entry found at a random slot, when the flood defence allows it (see `defense.rs`).
    pub(super) fn insert(&mut self, now_ms: u64, conn: Conn, hash: u64) -> Result<u32, TableFull> {
        let idx = match self.conns.insert_hashed(conn, hash) {
            Ok(idx) => idx,
            Err(TableFull) => {
                if !self.defense.evicts_when_full() || !self.evict_half_open(now_ms) {
                    return Err(TableFull);
                }
                self.defense.counters.half_open_evicted += 1;
                let idx = self.conns.insert_hashed(conn, hash)?;
                self.prefetch_victim();
                idx
            }
        };
        self.defense.note_len(self.conns.len());
        Ok(idx)
    }

    /// Removes a half-open entry found at one of a few random slots; false when none was.
    fn evict_half_open(&mut self, now_ms: u64) -> bool {
        let n = self.conns.slots_used();
        for _ in 0..defense::EVICT_PROBES.min(n) {
            let i = self.defense.random_slot(n);
            if self.conns.slot(i).is_some_and(half_open) {
                self.expire(i as u32, now_ms);
                return true;
            }
        }
        false
    }

    /// A full table under a flood evicts at almost every new connection: the next eviction's
    /// first random slot is drawn now (the sequence stays the same) and starts loading, so
    /// that it is in cache by then.
    fn prefetch_victim(&mut self) {
        if let Some(i) = self.defense.peek_slot(self.conns.slots_used()) {
            self.conns.prefetch_slot(i);
        }
    }

    /// A new connection may evict the entry drawn ahead by [`Dataplane::prefetch_victim`]:
    /// its index bucket starts loading now, alongside the new key's lookup.
    fn prefetch_victim_index(&self) {
        if let Some(c) = self.defense.peeked_slot().and_then(|i| self.conns.slot(i)) {
            self.conns.prefetch_index(self.conns.hash(&c.key));
        }
    }

    /// `drop_entry`'s scan (IPVS `ip_vs_random_dropentry`): random slots, half-open entries
    /// removed, 1/32 of the table per second; a sweep that is one of `steps` in its period
    /// takes its share of the period's slots.
    pub(super) fn random_drop(&mut self, now_ms: u64, steps: usize) {
        let n = self.conns.slots_used();
        if n == 0 {
            return;
        }
        for _ in 0..self.defense.scan_size(n).div_ceil(steps) {
            let i = self.defense.random_slot(n);
            if self.conns.slot(i).is_some_and(half_open) {
                self.expire(i as u32, now_ms);
                self.defense.counters.half_open_dropped += 1;
            }
        }
    }

    /// The tuple a NAT connection's replies carry: from the real server to the client.
    pub(super) fn reply_key(&self, conn: &Conn) -> ConnKey {
        let view = &self.services[conn.service as usize].views[conn.server as usize];
        ConnKey {
            protocol: conn.key.protocol,
            client: view.addr,
            client_port: view.port,
            vip: conn.key.client,
            vport: conn.key.client_port,
        }
    }
}

/// A connection (never a template) whose handshake is under way: what the defence may drop.
fn half_open(c: &Conn) -> bool {
    !c.is_template() && c.state.is_half_open()
}

/// Reads ports and flags (and keeps `ihl`, the IPv4 header length, for a NAT rewrite). Port 0 is refused: no real client uses it, and persistence templates
/// are keyed with client port 0. Inlined into the caller: returned as a value, the small
/// `Transport` went through the stack field by field and was read back whole (a
/// store-forwarding stall on every packet, 1.3 % of a flood's run time).
#[inline(always)]
fn parse_transport(protocol: IpProtocol, ihl: u8, payload: &[u8]) -> Result<Transport, DropReason> {
    let transport = match protocol {
        IpProtocol::Tcp => {
            let tcp = TcpPacket::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            Transport {
                protocol: Protocol::Tcp,
                src_port: tcp.src_port(),
                dst_port: tcp.dst_port(),
                event: TcpEvent::from_flags(tcp.syn(), tcp.fin(), tcp.ack(), tcp.rst()),
                opens: tcp.syn() && !tcp.ack(),
                ihl,
            }
        }
        IpProtocol::Udp => {
            let udp = UdpPacket::new_checked(payload).map_err(|_| DropReason::Malformed)?;
            Transport {
                protocol: Protocol::Udp,
                src_port: udp.src_port(),
                dst_port: udp.dst_port(),
                event: None,
                opens: true,
                ihl,
            }
        }
        _ => return Err(DropReason::NoService),
    };
    if transport.src_port == 0 || transport.dst_port == 0 {
        return Err(DropReason::Malformed);
    }
    Ok(transport)
}

/// Finishes the partial TCP/UDP checksum of an Ethernet/IPv4 frame from a TAP with offloads
/// (the sum starts at the end of the IPv4 header: see `wire::checksum`). False when the frame is
/// not IPv4 TCP/UDP or too short.
fn complete_transport_csum(frame: &mut [u8]) -> bool {
    let Some(Ok(ip)) = frame
        .get(ETHERNET_HEADER_LEN..)
        .map(crate::wire::Ipv4Packet::new_checked)
    else {
        return false;
    };
    let start = ETHERNET_HEADER_LEN + usize::from(ip.header_len());
    let offset = match ip.next_header() {
        crate::wire::IpProtocol::Tcp => 16,
        crate::wire::IpProtocol::Udp => 6,
        _ => return false,
    };
    checksum::complete_partial(frame, start, start + offset)
}
