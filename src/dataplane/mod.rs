//! The sans-IO balancer. Frames and `now` go in through [`Dataplane::handle_frame`]; VIP
//! traffic is scheduled, tracked and rewritten in place (direct routing: MACs only); ARP for
//! the director's address and the VIPs is answered; frames the data plane makes itself come
//! out of [`Dataplane::poll_transmit`]; [`Dataplane::poll_timeout`] says when to call back.
//!
//! Never reads a clock, never does I/O, never imports tokio. The per-frame path allocates
//! nothing, formats nothing and takes no lock.

mod arp;
pub mod conntrack;
pub mod counters;
pub mod defense;
pub mod estimator;
pub mod flow_hash;
pub mod flow_index;
mod forward;
pub mod garp;
mod icmp;
pub mod ipvs;
pub mod neighbour;
pub mod pending;
mod prefetch;
pub mod reset;
pub mod service;
pub mod settings;
pub mod stats;
mod sync;
pub mod tcp_state;

use crate::wire::EthernetAddress;
use conntrack::ConnTable;
use counters::{Counters, DropReason};
use neighbour::{NeighbourChange, Neighbours};
use pending::Pending;
use service::Service;
use settings::DataplaneSettings;
use smoltcp::time::Instant;
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// One of the director's interfaces (TAP devices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Iface(pub u8);

impl Iface {
    /// The LAN: router, VIPs, and (direct routing, one-armed NAT) the real servers.
    pub const OUTSIDE: Iface = Iface(0);
    /// The real servers' network of a two-armed NAT director.
    pub const INSIDE: Iface = Iface(1);
}

/// What the data plane knows of one of its interfaces.
#[derive(Debug, Clone)]
pub struct Interface {
    pub mac: EthernetAddress,
    pub addr: Ipv4Addr,
    mask: u32,
    /// Answered for only while active (floating gateways).
    pub floating: Vec<Ipv4Addr>,
}

impl Interface {
    fn new(config: &settings::InterfaceConfig) -> Self {
        Interface {
            mac: EthernetAddress(settings::parse_mac(&config.mac).expect("checked at parse")),
            addr: config.address,
            mask: u32::MAX
                .checked_shl(32 - config.prefix_len as u32)
                .unwrap_or(0),
            floating: config.floating.clone(),
        }
    }

    /// Whether `addr` is on this interface's network.
    pub fn on_link(&self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask == u32::from(self.addr) & self.mask
    }
}

/// What became of a frame handed to [`Dataplane::handle_frame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The frame was rewritten in place (forwarded traffic, or an ARP reply): send it out of
    /// this interface.
    Send(Iface),
    /// The frame is for the director's own host stack.
    ToHost,
    /// The frame was used up here (an ARP reply that taught us a neighbour).
    Consumed,
    /// A copy waits for its next hop's MAC; it will come out of `poll_transmit`.
    Parked,
    /// The frame was dropped, for this reason (counted).
    Dropped(DropReason),
}

/// Something the outside may want to log or react to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A neighbour's MAC became known.
    NeighbourResolved { ip: Ipv4Addr, mac: EthernetAddress },
    /// A neighbour did not answer ARP; frames waiting for it were dropped.
    NeighbourFailed { ip: Ipv4Addr },
    /// The first gratuitous ARP of a takeover went out (milliseconds on the caller's clock).
    GratuitousArp { at_ms: u64 },
}

const EVENT_QUEUE: usize = 1024;
/// On-link destinations (NAT clients on the LAN) the neighbour table may learn at run time.
const DYNAMIC_NEIGHBOURS: usize = 256;
/// The expiry sweep visits 1/20 of the table's slots (at least [`SWEEP_MIN_BUDGET`]) every
/// [`SWEEP_EVERY_MS`], so every entry is looked at within 2 s of its expiry; the flood
/// defence's level and the rate estimators move at that period too, and its random drop
/// looks at its share of the slots in each sweep.
const SWEEP_EVERY_MS: u64 = 100;
const SWEEP_MIN_BUDGET: usize = 1024;
/// A sweep visits at most this many slots: a bigger table is swept in several steps spread
/// over the period (a million entries: 13 sweeps of 3,847 slots, one every 7 ms), so that no
/// single call holds frames back for long (one sweep of 50,000 slots took 0.1-2 ms, and the
/// random drop's 3,125 random reads per period of a full million-entry table 0.25 ms).
const SWEEP_MAX_BUDGET: usize = 4096;
/// Entries one step of a stepped sweep removes at most (~30 µs of work, ~60 µs for NAT's two
/// index entries each; four times what a million-entry table churning 7,500 connections a
/// second needs per step): a region of entries that expire together (a burst of connections
/// made side by side) is removed in steps a millisecond apart instead of 3,800 at once
/// (0.46 ms).
const SWEEP_MAX_REMOVALS: usize = 256;

/// The balancer's state.
pub struct Dataplane {
    ifaces: Vec<Interface>,
    /// Neighbour index of the outside router.
    gateway: usize,
    active: bool,
    host_stack: bool,
    sloppy: bool,
    services: Vec<Service>,
    vips: Vec<Ipv4Addr>,
    conns: ConnTable,
    neighbours: Neighbours,
    pending: Pending,
    events: VecDeque<Event>,
    counters: Counters,
    next_sweep_ms: u64,
    /// When the defence level, the random drop and the estimators next move.
    next_tick_ms: u64,
    /// The frame being handled has a partial transport checksum (offloads).
    partial_csum: bool,
    garp: garp::Garp,
    /// Connection sync: whether changes are queued, and the queue (see `sync.rs`).
    sync_enabled: bool,
    sync_changes: VecDeque<u32>,
    /// TCP resets for segments that found no connection.
    resets: reset::Resets,
    /// SYN-flood defence (see `defense.rs`).
    defense: defense::Defense,
    /// The settable timeouts (`ipvsadm --set`; see `ipvs.rs`).
    timeouts: ipvs::Timeouts,
    /// When the rate estimators next tick (`ipvsadm --rate`).
    next_estimate_ms: u64,
}

/// Milliseconds on the caller's clock.
#[inline]
fn ms(now: Instant) -> u64 {
    now.total_millis().max(0) as u64
}

impl Dataplane {
    /// Builds the data plane for a checked configuration; `seed` keys the flow hash.
    /// Starts active (the only director, or the master) and without a host stack.
    pub fn new(config: &DataplaneSettings, seed: u64) -> Self {
        let mut ifaces = vec![Interface::new(config.interface)];
        ifaces.extend(config.inside.map(Interface::new));
        let mut neighbours = Neighbours::default();
        let router = config.interface.gateway.expect("checked at parse");
        let gateway = neighbours.track(router, Iface::OUTSIDE);
        let services: Vec<Service> = config
            .services
            .iter()
            .map(|s| {
                Service::new(s, |ip| {
                    // Inside first: a two-armed director reaches its real servers there.
                    let iface = match ifaces.get(1) {
                        Some(inside) if inside.on_link(ip) => Iface::INSIDE,
                        _ => Iface::OUTSIDE,
                    };
                    neighbours.track(ip, iface)
                })
            })
            .collect();
        // Unicast VRRP peers: resolved like the real servers, for the director's adverts.
        for peer in config.unicast_peers {
            neighbours.track(*peer, Iface::OUTSIDE);
        }
        // Room for on-link NAT clients learnt from traffic (see `next_hop`).
        neighbours.reserve(DYNAMIC_NEIGHBOURS);
        let nat = config
            .services
            .iter()
            .any(|s| s.forwarding == settings::Forwarding::Nat);
        let mut vips: Vec<Ipv4Addr> = services.iter().map(|s| s.vip).collect();
        vips.sort();
        vips.dedup();
        // What a takeover announces: the VIPs outside, floating addresses where they live.
        let mut announced: Vec<(Iface, Ipv4Addr)> =
            vips.iter().map(|v| (Iface::OUTSIDE, *v)).collect();
        for (i, port) in ifaces.iter().enumerate() {
            announced.extend(port.floating.iter().map(|a| (Iface(i as u8), *a)));
        }
        let garp = garp::Garp::new(config.garp, announced);
        Dataplane {
            ifaces,
            gateway,
            active: true,
            host_stack: false,
            sloppy: config.limits.sloppy,
            services,
            vips,
            conns: ConnTable::with_capacity(config.limits.max_connections, seed, nat),
            neighbours,
            pending: Pending::default(),
            events: VecDeque::with_capacity(EVENT_QUEUE),
            counters: Counters::default(),
            next_sweep_ms: 0,
            next_tick_ms: 0,
            partial_csum: false,
            garp,
            sync_enabled: false,
            sync_changes: VecDeque::with_capacity(sync::SYNC_QUEUE),
            resets: reset::Resets::default(),
            defense: defense::Defense::new(
                config.defense,
                config.limits.max_connections,
                seed ^ 0x5eed_def0,
            ),
            timeouts: ipvs::Timeouts::default(),
            next_estimate_ms: 0,
        }
    }

    /// Takes one frame received on `iface`; may rewrite it in place (then the verdict says
    /// where to send it).
    pub fn handle_frame(&mut self, now: Instant, iface: Iface, frame: &mut [u8]) -> Verdict {
        self.handle_offloaded(now, iface, frame, false)
    }

    /// [`Dataplane::handle_frame`] for a frame from a TAP with offloads: it may be a large
    /// segment (GSO), and with `partial_csum` its TCP/UDP checksum field holds only the
    /// pseudo-header sum, which NAT then updates the way the kernel does.
    pub fn handle_offloaded(
        &mut self,
        now: Instant,
        iface: Iface,
        frame: &mut [u8],
        partial_csum: bool,
    ) -> Verdict {
        self.partial_csum = partial_csum;
        self.counters.frames_in += 1;
        self.counters.bytes_in += frame.len() as u64;
        let verdict = match self.ifaces.get(iface.0 as usize) {
            Some(_) => self.classify(ms(now), iface, frame),
            None => Verdict::Dropped(DropReason::NoInterface),
        };
        match verdict {
            Verdict::Send(_) => self.counters.sent_in_place += 1,
            Verdict::ToHost => self.counters.to_host += 1,
            Verdict::Consumed => self.counters.consumed += 1,
            Verdict::Parked => self.counters.queued += 1,
            Verdict::Dropped(reason) => self.counters.drop(reason),
        }
        verdict
    }

    fn classify(&mut self, now_ms: u64, iface: Iface, frame: &mut [u8]) -> Verdict {
        use crate::wire::{EthernetFrame, EthernetProtocol};
        let Ok(eth) = EthernetFrame::new_checked(&*frame) else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        let dst = eth.dst_addr();
        let for_us = dst == self.iface(iface).mac || dst.is_broadcast() || dst.is_multicast();
        if !for_us {
            return Verdict::Dropped(DropReason::OtherMac);
        }
        match eth.ethertype() {
            EthernetProtocol::Arp => self.handle_arp(now_ms, iface, frame),
            EthernetProtocol::Ipv4 => self.handle_ipv4(now_ms, iface, frame),
            _ => Verdict::Dropped(DropReason::UnsupportedEthertype),
        }
    }

    /// A frame for the director itself: to the host stack if there is one.
    fn to_host(&self) -> Verdict {
        if self.host_stack {
            Verdict::ToHost
        } else {
            Verdict::Dropped(DropReason::NoHostStack)
        }
    }

    /// Moves timers: neighbour probes and failures, parked-frame timeouts, connection expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now_ms = ms(now);
        while let Some(NeighbourChange::Failed(nb)) = self.neighbours.handle_timeout(now_ms) {
            let lost = self.pending.discard(Some(nb), now_ms);
            self.counters.drops[DropReason::NeighbourUnreachable as usize] += lost;
            let ip = self.neighbours.get(nb).ip;
            self.push_event(Event::NeighbourFailed { ip });
        }
        let stale = self.pending.discard(None, now_ms);
        self.counters.drops[DropReason::NeighbourUnreachable as usize] += stale;
        if now_ms >= self.next_sweep_ms {
            let per_period = SWEEP_MIN_BUDGET.max(self.conns.slots_used() / 20);
            let steps = per_period.div_ceil(SWEEP_MAX_BUDGET);
            self.next_sweep_ms = now_ms + (SWEEP_EVERY_MS / steps as u64).max(1);
            let tick = now_ms >= self.next_tick_ms;
            if tick {
                self.next_tick_ms = now_ms + SWEEP_EVERY_MS;
                self.defense.update_level(self.conns.len());
            }
            let half_open_now = now_ms + self.defense.half_open_advance_ms();
            let mut budget = per_period.div_ceil(steps);
            // Stepped, a sweep also stops after a few hundred removals (the cursor stays, and
            // the next step comes a millisecond later): the entries of a burst of connections
            // sit side by side and expire together.
            let mut removals = if steps > 1 {
                SWEEP_MAX_REMOVALS
            } else {
                usize::MAX
            };
            while removals > 0
                && let Some(idx) = self.conns.next_expired(now_ms, half_open_now, &mut budget)
            {
                if self.conns.get(idx).expires_ms > now_ms {
                    self.defense.counters.half_open_expired_early += 1;
                }
                self.expire(idx, now_ms);
                removals -= 1;
            }
            if removals == 0 {
                // More may have expired here: the next step comes at once.
                self.next_sweep_ms = now_ms + 1;
            }
            // The random drop's random reads are spread over the steps too.
            if self.defense.drops_entries() {
                self.random_drop(now_ms, steps);
            }
            if tick {
                self.estimate(now);
            }
        }
    }

    /// Emits the next frame the data plane made itself (a parked frame whose next hop is now
    /// known, or an ARP request) into `buf`, which must hold [`pending::SLOT_LEN`] bytes, and
    /// says which interface it goes out of.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(Iface, usize)> {
        let now_ms = ms(now);
        let neighbours = &self.neighbours;
        if let Some((nb, len)) = self
            .pending
            .take_ready(|nb| neighbours.mac(nb).is_some(), buf)
        {
            let mac = self.neighbours.mac(nb).expect("ready");
            crate::wire::EthernetFrame::new_unchecked(&mut buf[..len]).set_dst_addr(mac);
            self.counters.dequeued += 1;
            self.counters.emitted += 1;
            return Some((self.neighbours.get(nb).iface, len));
        }
        if let Some(r) = self.resets.pop() {
            self.counters.resets += 1;
            self.counters.emitted += 1;
            return Some((Iface::OUTSIDE, r.emit(self.iface(Iface::OUTSIDE).mac, buf)));
        }
        if let Some(sent) = self.poll_garp(now_ms, buf) {
            return Some(sent);
        }
        let nb = self.neighbours.take_due_probe(now_ms)?;
        let (ip, iface) = (self.neighbours.get(nb).ip, self.neighbours.get(nb).iface);
        let port = self.iface(iface);
        let len = arp::emit_request(port.mac, port.addr, ip, buf);
        self.counters.arp_requests += 1;
        self.counters.emitted += 1;
        Some((iface, len))
    }

    /// The interface behind an index the data plane handed out or checked.
    #[inline]
    fn iface(&self, iface: Iface) -> &Interface {
        &self.ifaces[iface.0 as usize]
    }

    /// The director's interfaces, outside first.
    pub fn interfaces(&self) -> &[Interface] {
        &self.ifaces
    }

    /// Emits the next due gratuitous ARP, if any.
    fn poll_garp(&mut self, now_ms: u64, buf: &mut [u8]) -> Option<(Iface, usize)> {
        let (iface, addr, first) = self.garp.take_due(now_ms)?;
        if first {
            self.push_event(Event::GratuitousArp { at_ms: now_ms });
        }
        let port = self.iface(iface);
        let len = arp::emit_gratuitous(port.mac, addr, buf);
        self.counters.garps += 1;
        self.counters.emitted += 1;
        Some((iface, len))
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Whether [`Dataplane::poll_event`] has an event to give.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// When [`Dataplane::handle_timeout`] should next be called.
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let sweep = (!self.conns.is_empty()).then_some(self.next_sweep_ms);
        let earliest = |a: Option<u64>, b: Option<u64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let at = earliest(self.neighbours.poll_at(), self.pending.poll_at());
        let at = earliest(earliest(at, sweep), self.garp.poll_at());
        at.map(|t| Instant::from_millis(t as i64))
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() < EVENT_QUEUE {
            self.events.push_back(event);
        } else {
            self.counters.events_lost += 1;
        }
    }

    /// Whether this director answers for the VIPs and forwards their traffic.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Makes this director active (master) or passive (backup). Becoming active starts the
    /// gratuitous ARPs for the VIPs and floating addresses.
    pub fn set_active(&mut self, now: Instant, active: bool) {
        if active && !self.active {
            self.garp.start(ms(now));
        } else if !active {
            self.garp.stop();
        }
        self.active = active;
    }

    /// Announces the VIPs and floating addresses again (a master that outlived a split brain:
    /// switches may have learnt them on the other director). Does nothing while passive.
    pub fn announce(&mut self, now: Instant) {
        if self.active {
            self.garp.start(ms(now));
        }
    }

    /// Declares that a host stack takes frames for the director's own address.
    pub fn attach_host_stack(&mut self) {
        self.host_stack = true;
    }

    /// Sets the weight of a real server, by service index and server name (0 = quiescent).
    /// Returns false when there is no such server.
    pub fn set_weight(&mut self, service: usize, server: &str, weight: u32) -> bool {
        let Some(i) = self
            .services
            .get(service)
            .and_then(|svc| svc.servers.iter().position(|s| s.name == server))
        else {
            return false;
        };
        self.set_weight_of(service, i, weight)
    }

    /// Sets the weight of server `server` (by index) of service `service`; false if none.
    pub fn set_weight_of(&mut self, service: usize, server: usize, weight: u32) -> bool {
        match self.services.get_mut(service) {
            Some(svc) if server < svc.servers.len() => {
                svc.set_weight(server, weight);
                true
            }
            _ => false,
        }
    }

    /// Expires every connection of a real server, then its persistence templates (IPVS's
    /// `expire_nodest_conn` for a server taken out): the clients' next packets find no entry.
    /// Walks the whole table; for health events, not the packet path. Returns how many went.
    pub fn expire_server(&mut self, now: Instant, service: usize, server: usize) -> usize {
        let now_ms = ms(now);
        let mut expired = 0;
        for templates in [false, true] {
            for i in 0..self.conns.slots_used() {
                let Some(c) = self.conns.slot(i) else {
                    continue;
                };
                if usize::from(c.service) == service
                    && usize::from(c.server) == server
                    && c.is_template() == templates
                {
                    self.expire(i as u32, now_ms);
                    expired += 1;
                }
            }
        }
        expired
    }

    /// The flood defence's counters.
    pub fn defense(&self) -> &defense::DefenseCounters {
        &self.defense.counters
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn conns(&self) -> &ConnTable {
        &self.conns
    }

    /// Mutable access to the table (benchmarks and tests).
    pub fn conns_mut(&mut self) -> &mut ConnTable {
        &mut self.conns
    }

    pub fn neighbours(&self) -> &Neighbours {
        &self.neighbours
    }

    /// The MAC of a neighbour tracked from the start (the router, a real server, a unicast VRRP
    /// peer); when it is unknown, probing starts again and the answer is `None` for now.
    pub fn resolve(&mut self, now: Instant, ip: Ipv4Addr) -> Option<EthernetAddress> {
        let idx = self.neighbours.index_of(ip)?;
        let mac = self.neighbours.mac(idx);
        if mac.is_none() {
            self.neighbours.solicit(idx, ms(now));
        }
        mac
    }

    /// The outside interface's MAC.
    pub fn mac(&self) -> EthernetAddress {
        self.ifaces[0].mac
    }

    /// The director's own outside address.
    pub fn addr(&self) -> Ipv4Addr {
        self.ifaces[0].addr
    }
}

#[cfg(test)]
mod nat_tests;
#[cfg(test)]
mod tests;
