//! The director's failover, VRRP or heartbeat's protocol ([`Failover`]); here keepalived's
//! half of the director: a VRRPv3 router (`control::vrrp`) wired to the data
//! plane. Adverts go out of the outside port from the director's own address, to 224.0.0.18
//! or (`unicast`) to each peer's MAC and address, resolved by the data plane's neighbour
//! table (an advert for a peer not resolved yet is not sent, and counted); adverts heard
//! there feed the state machine (which drops those from non-peers); becoming master
//! activates the data plane (which then answers ARP for the VIPs and sends gratuitous ARP),
//! becoming backup deactivates it. Each transition is a [`DirectorEvent`].
//!
//! A master that yields to a higher-priority advert (a split brain healing) sends one last
//! advert of its own as it steps down. Without it, when the winner's advert crosses first, the
//! winner never hears a lower priority, never re-announces the VIPs, and the router and the
//! switches stay on the loser's MAC (a black hole until the router's ARP entry expires); with
//! it, the winner answers and re-announces (at most once per `lower_prio_announce_ms`).

use super::EventQueue;
use super::event::{DirectorEvent, VrrpReport, VrrpState};
use super::heartbeat::Heartbeat;
use super::outbox::Outbox;
use super::settings::{NodeSettings, VrrpSection};
use crate::control::vrrp::{State, VrrpConfig, VrrpEvent, VrrpRouter};
use crate::dataplane::{Dataplane, Iface};
use crate::wire::vrrp::{AddressList, GROUP, GROUP_MAC, VrrpRepr, emit_frame_to, parse_frame};
use smoltcp::time::{Duration, Instant};
use std::net::Ipv4Addr;

/// The VRRP router of a director.
pub struct Vrrp {
    router: VrrpRouter,
    /// Protocol-112 frames for the director that did not parse as adverts (dropped, counted).
    not_adverts: u64,
    /// Peers adverts go to by unicast; empty: to the group.
    unicast: Vec<Ipv4Addr>,
    /// Unicast adverts not sent: the peer's MAC was not known yet.
    unicast_unresolved: u64,
    /// The state the data plane was last set to follow.
    state: State,
}

impl Vrrp {
    /// Builds the router for the data plane's VIPs and starts it (INIT → BACKUP, or MASTER for
    /// the address owner). The data plane starts passive.
    pub fn start(section: &VrrpSection, dp: &mut Dataplane, now: Instant) -> anyhow::Result<Vrrp> {
        let mut vips: Vec<_> = dp.services().iter().map(|s| s.vip).collect();
        vips.sort();
        vips.dedup();
        let config = VrrpConfig {
            vrid: section.vrid,
            priority: section.priority,
            advert_interval: Duration::from_millis(section.advert_interval_ms),
            preempt: section.preempt,
            preempt_delay: Duration::from_millis(section.preempt_delay_ms),
            vips,
            own_addr: dp.addr(),
            peers: section.peers.clone(),
            lower_prio_announce_interval: Duration::from_millis(section.lower_prio_announce_ms),
        };
        let mut router = VrrpRouter::new(config)?;
        dp.attach_host_stack();
        dp.set_active(now, false);
        router.start(now);
        Ok(Vrrp {
            router,
            not_adverts: 0,
            unicast: if section.unicast {
                section.peers.clone()
            } else {
                Vec::new()
            },
            unicast_unresolved: 0,
            state: State::Init,
        })
    }

    /// Takes a VRRP frame the data plane passed to the host: an advert is consumed.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        match parse_frame(frame) {
            // Drops by the state machine (wrong VRID, own advert, ...) are counted there.
            Ok(advert) => _ = self.router.handle_advert(now, advert.src, &advert.repr),
            Err(_) => self.not_adverts += 1,
        }
    }

    /// Moves timers, sends adverts, applies transitions to the data plane.
    pub fn poll(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        self.router.handle_timeout(now);
        self.transmit(now, dp, out);
        while let Some(event) = self.router.poll_event() {
            let state = |state| DirectorEvent::Vrrp { state };
            match event {
                VrrpEvent::BecameMaster { .. } => {
                    self.state = State::Master;
                    dp.set_active(now, true);
                    events.push(state(VrrpState::Master));
                }
                VrrpEvent::BecameBackup { .. } => {
                    dp.set_active(now, false);
                    events.push(state(VrrpState::Backup));
                    if self.state == State::Master {
                        let last = self.own_advert();
                        self.send(now, dp, out, &last);
                    }
                    self.state = State::Backup;
                }
                VrrpEvent::SplitBrainHealed { .. } => {
                    // keepalived's garp_lower_prio_repeat: claim the VIPs back.
                    dp.announce(now);
                    events.push(DirectorEvent::SplitBrainHealed);
                }
                VrrpEvent::MasterResigned { .. } => events.push(DirectorEvent::PeerResigned),
                VrrpEvent::Stopped => {
                    self.state = State::Init;
                    dp.set_active(now, false);
                    events.push(state(VrrpState::Stopped));
                }
            }
        }
    }

    fn transmit(&mut self, now: Instant, dp: &mut Dataplane, out: &mut Outbox) {
        while let Some(advert) = self.router.poll_transmit() {
            self.send(now, dp, out, &advert);
        }
    }

    /// Sends one advert to the group, or to each peer (`unicast`).
    fn send(&mut self, now: Instant, dp: &mut Dataplane, out: &mut Outbox, advert: &VrrpRepr) {
        let src = (dp.mac(), dp.addr());
        if self.unicast.is_empty() {
            out.push_with(Iface::OUTSIDE, |buf| {
                emit_frame_to(buf, src, (GROUP_MAC, GROUP), advert).ok()
            });
            return;
        }
        for &peer in &self.unicast {
            let Some(mac) = dp.resolve(now, peer) else {
                self.unicast_unresolved += 1;
                continue;
            };
            out.push_with(Iface::OUTSIDE, |buf| {
                emit_frame_to(buf, src, (mac, peer), advert).ok()
            });
        }
    }

    /// An advert as this router sends it while master.
    fn own_advert(&self) -> VrrpRepr {
        let c = self.router.config();
        VrrpRepr {
            vrid: c.vrid,
            priority: c.priority,
            max_advert_int_cs: (c.advert_interval.total_millis() / 10) as u16,
            addresses: AddressList::from_slice(&c.vips).expect("checked by the router"),
        }
    }

    /// The counters.
    pub fn report(&self, dp: &Dataplane) -> VrrpReport {
        VrrpReport {
            state: Some(vrrp_state(self.router.state())),
            counters: *self.router.counters(),
            malformed: self.not_adverts,
            unicast_unresolved: self.unicast_unresolved,
            garps: dp.counters().garps,
        }
    }

    /// Clean stop: a master hands over at once with a priority-0 advert.
    pub fn shutdown(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        self.router.shutdown(now);
        self.poll(now, dp, out, events);
    }

    /// When the router next needs `poll`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    pub fn state(&self) -> State {
        self.router.state()
    }
}

/// The event log's name of a router state.
pub fn vrrp_state(state: State) -> VrrpState {
    match state {
        State::Init => VrrpState::Init,
        State::Backup => VrrpState::Backup,
        State::Master => VrrpState::Master,
    }
}

/// The director's failover: VRRP (keepalived's protocol) or heartbeat's
/// (`super::heartbeat`). Both drive the data plane and sync the same way.
pub enum Failover {
    Vrrp(Vrrp),
    Heartbeat(Heartbeat),
}

impl Failover {
    /// The failover the settings ask for, started; none: the director is always active.
    pub fn start(
        settings: &NodeSettings,
        dp: &mut Dataplane,
        now: Instant,
        events: &mut EventQueue,
    ) -> anyhow::Result<Option<Failover>> {
        if let Some(section) = &settings.vrrp {
            return Ok(Some(Failover::Vrrp(Vrrp::start(section, dp, now)?)));
        }
        if let Some(section) = &settings.heartbeat {
            let hb = Heartbeat::start(section, dp, now, events)?;
            return Ok(Some(Failover::Heartbeat(hb)));
        }
        Ok(None)
    }

    /// Whether a frame for the director is this protocol's.
    pub fn wants(&self, frame: &[u8]) -> bool {
        match self {
            Failover::Vrrp(_) => super::is_vrrp(frame),
            Failover::Heartbeat(h) => h.wants(frame),
        }
    }

    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        match self {
            Failover::Vrrp(v) => v.handle_frame(now, frame),
            Failover::Heartbeat(h) => h.handle_frame(now, frame),
        }
    }

    pub fn poll(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        match self {
            Failover::Vrrp(v) => v.poll(now, dp, out, events),
            Failover::Heartbeat(h) => h.poll(now, dp, out, events),
        }
    }

    /// The counters, as an event.
    pub fn report(&self, dp: &Dataplane) -> DirectorEvent {
        match self {
            Failover::Vrrp(v) => DirectorEvent::VrrpCounters(v.report(dp)),
            Failover::Heartbeat(h) => DirectorEvent::HeartbeatCounters(h.report(dp)),
        }
    }

    pub fn shutdown(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        match self {
            Failover::Vrrp(v) => v.shutdown(now, dp, out, events),
            Failover::Heartbeat(h) => h.shutdown(now, dp, out, events),
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Failover::Vrrp(v) => v.poll_timeout(),
            Failover::Heartbeat(h) => h.poll_timeout(),
        }
    }

    /// VRRP's state; heartbeat's as master (holding the group) or backup.
    pub fn state(&self) -> State {
        match self {
            Failover::Vrrp(v) => v.state(),
            Failover::Heartbeat(h) => h.state(),
        }
    }
}
