//! One director as a sans-IO node: the data plane, the VRRP router, the sync node, the health
//! monitor and policy, and the director's own host stack, behind one surface in quinn's style.
//! Frames and the time go in ([`Director::handle_frame`], [`Director::handle_timeout`]);
//! frames to send ([`Director::poll_transmit`]), typed events ([`Director::poll_event`]) and
//! the next deadline ([`Director::poll_timeout`]) come out. The node reads no clock, opens no
//! file or socket, and draws every random choice from the seed it is given; the director
//! process (real time, TAP devices) and tests (a hand-moved clock, an in-memory LAN) drive it
//! the same way.

pub mod event;
pub mod external;
pub mod failover;
pub mod health;
pub mod heartbeat;
pub mod host;
pub mod outbox;
pub mod settings;
mod status_line;
pub mod sync;
mod timers;

use crate::control::vrrp::State;
use crate::dataplane::{Dataplane, Event, Iface, Verdict};
use crate::io::vnet::VnetHeader;
use event::DirectorEvent;
use external::{ExternalRole, RoleChange};
use failover::Failover;
use health::Health;
use host::HostStack;
use outbox::Outbox;
use settings::NodeSettings;
use smoltcp::time::{Duration, Instant};
use status_line::StatusLine;
use std::collections::VecDeque;
use timers::{Timer, Timers};

/// Events held until polled; more are dropped and counted.
const EVENT_QUEUE: usize = 4096;
/// How often the counters of VRRP, sync and the checks and a table sample are reported.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
/// How often the data plane's counters are reported.
const STATS_EVERY: Duration = Duration::from_millis(1000);

/// Events waiting to be polled.
#[derive(Default)]
pub struct EventQueue {
    queue: VecDeque<DirectorEvent>,
    dropped: u64,
}

impl EventQueue {
    pub fn push(&mut self, event: DirectorEvent) {
        if self.queue.len() >= EVENT_QUEUE {
            self.dropped += 1;
            return;
        }
        self.queue.push_back(event);
    }
}

/// A director node.
pub struct Director {
    dp: Dataplane,
    host: HostStack,
    failover: Option<Failover>,
    /// The role set from outside (`[failover] mode = "external"`) instead of VRRP.
    external: Option<ExternalRole>,
    sync: Option<sync::Sync>,
    health: Option<Health>,
    out: Outbox,
    events: EventQueue,
    status: StatusLine,
    timers: Timers,
    /// The latest time the node was given.
    now: Instant,
    seed: u64,
}

/// The `n`th seed drawn from `seed` (splitmix64): each part gets its own.
pub fn sub_seed(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Director {
    /// Builds a node from checked settings: its random choices all come from `seed`. `name`
    /// is what its status line calls it. Starts passive when it has VRRP (the router elects).
    pub fn new(
        settings: &NodeSettings,
        name: &str,
        seed: u64,
        now: Instant,
    ) -> anyhow::Result<Director> {
        let mut dp = Dataplane::new(&settings.dataplane(), sub_seed(seed, 1));
        dp.attach_host_stack();
        let mut host = HostStack::new(settings, sub_seed(seed, 2), now)?;
        let mut events = EventQueue::default();
        events.push(DirectorEvent::Started { seed });
        let failover = Failover::start(settings, &mut dp, now, &mut events)?;
        let external = settings
            .failover
            .as_ref()
            .filter(|_| failover.is_none())
            .map(|_| ExternalRole::start(&mut dp, now));
        let sync = settings
            .sync
            .as_ref()
            .map(|s| sync::Sync::new(s, settings.peers(), &mut dp))
            .transpose()?;
        let health = Health::start(settings, &mut host, &mut dp, now)?;
        let mut timers = Timers::default();
        timers.set(Timer::Sample, Some(now));
        timers.set(Timer::Stats, Some(now + STATS_EVERY));
        Ok(Director {
            dp,
            host,
            failover,
            external,
            sync,
            health,
            out: Outbox::default(),
            events,
            status: StatusLine::new(name),
            timers,
            now,
            seed,
        })
    }

    /// Takes one frame that arrived on `port`, with its virtio-net header (`offload`; all zero
    /// without offloads). Forwarded traffic is rewritten in place: `Some(out)` says to send
    /// the frame, as it now is, out of port `out` with the same header. Everything else is
    /// used up here (answers come out of [`Director::poll_transmit`]).
    #[inline]
    pub fn handle_frame(
        &mut self,
        now: Instant,
        port: Iface,
        frame: &mut [u8],
        offload: &VnetHeader,
    ) -> Option<Iface> {
        self.now = now;
        match self
            .dp
            .handle_offloaded(now, port, frame, offload.needs_csum())
        {
            Verdict::Send(out) => Some(out),
            Verdict::ToHost => {
                self.for_host(now, port, frame, offload);
                None
            }
            _ => None,
        }
    }

    /// A frame for the director itself: VRRP, sync, or its host stack.
    fn for_host(&mut self, now: Instant, port: Iface, frame: &mut [u8], offload: &VnetHeader) {
        if let Some(f) = self.failover.as_mut().filter(|f| f.wants(frame)) {
            f.handle_frame(now, frame);
            // A transition, an answer to a lower priority: at the advert's instant.
            f.poll(now, &mut self.dp, &mut self.out, &mut self.events);
            return;
        }
        if let Some(s) = &mut self.sync
            && s.handle_frame(now, frame, &mut self.dp)
        {
            return;
        }
        // smoltcp checks checksums: finish a partial one (offloads).
        offload.complete_csum(frame);
        self.host.handle_frame(port, frame);
    }

    /// Moves every timer to `now`: VRRP, the data plane's, sync, the checks, the host stack,
    /// and the periodic samples. Frames and events it makes wait in the node.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(f) = &mut self.failover {
            f.poll(now, &mut self.dp, &mut self.out, &mut self.events);
        }
        self.dp.handle_timeout(now);
        self.take_dataplane_events();
        let state = self.vrrp_state();
        if let Some(s) = &mut self.sync {
            s.set_master(now, state == Some(State::Master));
            s.poll(now, &mut self.dp, &mut self.out);
        }
        self.status.refresh(now, state, self.dp.conns().len());
        if let Some(h) = &mut self.health {
            h.poll(now, &mut self.host, &mut self.dp, &mut self.events);
        }
        let out = &mut self.out;
        self.host
            .poll(now, self.status.line(), &mut |iface, frame| {
                _ = out.push(iface, frame)
            });
        // Verdicts the host stack just reached, now rather than at the next deadline; checks
        // started here go out at once, as the host stack then asks to be polled.
        if let Some(h) = &mut self.health {
            h.poll(now, &mut self.host, &mut self.dp, &mut self.events);
        }
        if self.timers.due(Timer::Sample, now) {
            self.timers.set(Timer::Sample, Some(now + SAMPLE_EVERY));
            self.sample(now);
        }
        if self.timers.due(Timer::Stats, now) {
            self.timers.set(Timer::Stats, Some(now + STATS_EVERY));
            self.events
                .push(DirectorEvent::Dataplane(Box::new(self.dp.stats())));
        }
    }

    /// The counters of VRRP, sync and the checks, and a table sample, as events.
    fn sample(&mut self, now: Instant) {
        if let Some(f) = &self.failover {
            self.events.push(f.report(&self.dp));
        }
        if let Some(s) = &self.sync {
            self.events.push(DirectorEvent::SyncCounters(s.report(now)));
        }
        if let Some(h) = &self.health {
            self.events.push(DirectorEvent::HealthCounters {
                servers: h.report(),
            });
        }
        self.events.push(DirectorEvent::Table {
            conns: self.dp.conns().len(),
            active: self.dp.is_active(),
        });
    }

    fn take_dataplane_events(&mut self) {
        while let Some(event) = self.dp.poll_event() {
            self.events.push(match event {
                Event::NeighbourResolved { ip, mac } => {
                    DirectorEvent::NeighbourResolved { ip, mac: mac.0 }
                }
                Event::NeighbourFailed { ip } => DirectorEvent::NeighbourFailed { ip },
                Event::GratuitousArp { .. } => DirectorEvent::GratuitousArp,
            });
        }
    }

    /// The next frame to send: its port and length in `buf` (at least 1536 bytes).
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(Iface, usize)> {
        self.out
            .pop(buf)
            .or_else(|| self.dp.poll_transmit(now, buf))
    }

    /// When [`Director::handle_timeout`] is next due (now, when frames wait to be sent).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let now = self.now;
        self.timers.set(Timer::Dataplane, self.dp.poll_timeout());
        let vrrp = self.failover.as_ref().and_then(|f| f.poll_timeout());
        self.timers.set(Timer::Vrrp, vrrp);
        self.timers.set(
            Timer::Sync,
            self.sync.as_ref().and_then(|s| s.poll_timeout()),
        );
        let checks = self.health.as_ref().and_then(|h| h.poll_timeout());
        self.timers.set(Timer::Health, checks);
        self.timers.set(Timer::Host, self.host.poll_at(now));
        self.timers.next()
    }

    /// Whether [`Director::poll_event`] has an event to give (a look that changes nothing).
    pub fn has_events(&self) -> bool {
        !self.events.queue.is_empty() || self.dp.has_events()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DirectorEvent> {
        // The data plane's events of the latest frames sent (a takeover's first GARP).
        self.take_dataplane_events();
        self.events.queue.pop_front()
    }

    /// A clean stop: a VRRP master hands over with a priority-0 advert; the last counters and
    /// [`DirectorEvent::Stopped`] follow.
    pub fn shutdown(&mut self, now: Instant) {
        self.now = now;
        if let Some(f) = &mut self.failover {
            f.shutdown(now, &mut self.dp, &mut self.out, &mut self.events);
        }
        self.sample(now);
        self.events
            .push(DirectorEvent::Dataplane(Box::new(self.dp.stats())));
        self.events.push(DirectorEvent::Stopped);
    }

    /// The data plane, for the control socket (counters, weights, drains).
    pub fn dataplane(&self) -> &Dataplane {
        &self.dp
    }

    pub fn dataplane_mut(&mut self) -> &mut Dataplane {
        &mut self.dp
    }

    /// The role: the VRRP router's state, or the one set from outside (`None`: no failover,
    /// always active).
    pub fn vrrp_state(&self) -> Option<State> {
        (self.failover.as_ref().map(|f| f.state())).or(self.external.as_ref().map(|e| e.state()))
    }

    /// Makes the director master or backup (`[failover] mode = "external"`: Heartbeat's
    /// resource agent through the control socket). Sync follows at once. Refused when VRRP (or
    /// nothing) decides the role.
    pub fn set_role(&mut self, now: Instant, master: bool) -> Result<RoleChange, RoleError> {
        self.now = now;
        let role = self.external.as_mut().ok_or(RoleError::NotExternal)?;
        let change = role.set(now, master, &mut self.dp, &mut self.events);
        if let Some(s) = &mut self.sync {
            s.set_master(now, master);
            s.poll(now, &mut self.dp, &mut self.out);
        }
        Ok(change)
    }

    /// Carries out one `tapvs ipvsadm` request (JSON, see `crate::ipvsadm::request`) and
    /// returns the reply; each weight it changed becomes a [`DirectorEvent::Weight`].
    pub fn ipvs(&mut self, now: Instant, json: &str) -> String {
        self.now = now;
        let before: Vec<(String, u32)> = (self.dp.server_weights().into_iter())
            .map(|(name, w)| (name.to_owned(), w))
            .collect();
        let reply = crate::ipvsadm::request::serve(json, now, &mut self.dp);
        for (i, (server, weight)) in self.dp.server_weights().into_iter().enumerate() {
            if before.get(i).is_none_or(|(_, old)| *old != weight) {
                self.events.push(DirectorEvent::Weight {
                    server: server.to_owned(),
                    weight,
                });
            }
        }
        reply
    }

    /// The host stack's counters.
    pub fn host_counters(&self) -> &host::HostCounters {
        self.host.counters()
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Events dropped because nobody polled them, and self-made frames dropped because the
    /// outbox was full.
    pub fn dropped(&self) -> (u64, u64) {
        (self.events.dropped, self.out.dropped())
    }
}

/// Why [`Director::set_role`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RoleError {
    /// The role is VRRP's to decide, or the director has no failover.
    #[error("the role is set from outside only with [failover] mode = \"external\"")]
    NotExternal,
}

/// Whether a frame for the director is a VRRP packet (IPv4 protocol 112).
fn is_vrrp(frame: &[u8]) -> bool {
    use crate::wire::{EthernetFrame, EthernetProtocol, Ipv4Packet};
    EthernetFrame::new_checked(frame)
        .ok()
        .filter(|eth| eth.ethertype() == EthernetProtocol::Ipv4)
        .is_some_and(|eth| {
            Ipv4Packet::new_checked(eth.payload())
                .is_ok_and(|ip| u8::from(ip.next_header()) == crate::wire::vrrp::PROTOCOL)
        })
}

#[cfg(test)]
mod tests;
