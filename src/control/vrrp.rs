//! The VRRPv3 state machine of one virtual router (RFC 5798 §6.4), sans-IO.
//!
//! Feed it [`VrrpRouter::start`], every advert received for its VRID
//! ([`VrrpRouter::handle_advert`], already checked by [`crate::wire::vrrp::parse_frame`]: TTL,
//! version, checksum), and [`VrrpRouter::handle_timeout`] when [`VrrpRouter::poll_timeout`]
//! says; send what [`VrrpRouter::poll_transmit`] returns (with
//! [`crate::wire::vrrp::emit_frame`], source = `own_addr`) and act on
//! [`VrrpRouter::poll_event`]. Drain transmits before events: on a takeover the RFC sends the
//! advert first, then gratuitous ARP.
//!
//! # Timers
//! Skew_Time = ((256 − priority) × Master_Adver_Interval) / 256 and Master_Down_Interval =
//! 3 × Master_Adver_Interval + Skew_Time, computed in whole microseconds and rounded **down**,
//! as keepalived does (its timers are integer microseconds): priority 100 at 100 ms gives a
//! skew of 60 937 µs (60.9375 ms exactly) and a down interval of 360 937 µs. One deadline is
//! kept: the Master_Down_Timer in BACKUP, the Adver_Timer in MASTER.
//!
//! # Where the RFC leaves room (keepalived's choices)
//! - A master that hears a lower-precedence advert (lower priority, or equal priority from a
//!   lower address: a split brain healing) stays master and advertises **at once**, so the other
//!   side steps down without waiting an interval; [`VrrpEvent::SplitBrainHealed`] says so.
//!   The regular advert schedule is kept.
//! - `preempt_delay`: a backup that hears a lower-priority master keeps resetting its down
//!   timer until `preempt_delay` has passed since the first such advert, then lets the timer
//!   expire and takes over. An advert of priority ≥ ours clears that clock.
//! - Adverts are processed even when our priority is 255 (the RFC would have the owner discard
//!   them); an address list that differs from ours is dropped unless the sender is the owner.
//! - A received Max Adver Int of 0 is dropped: it would make the down timer expire at once.
//!
//! # Peers (keepalived's `unicast_peer` with `check_unicast_src`)
//! VRRPv3 has no authentication: any host on the LAN can send an advert for our VRID. With a
//! peer list ([`VrrpConfig::peers`]), an advert for our VRID from any other source is dropped
//! and counted ([`DropReason::NotPeer`]) before it can touch the state, the timers or the
//! transmit queue. An empty list keeps RFC 5798's behaviour: every on-link source counts.
//!
//! # Lower-priority adverts and gratuitous ARP
//! RFC 5798 §6.4.3 has a master discard a lower-priority advert; keepalived answers it with its
//! own advert at once (so a peer that wrongly believes it is master steps down) and, with
//! `garp_lower_prio_repeat`, a gratuitous-ARP burst; its `vrrp_garp_interval` merges bursts
//! asked for while one is pending. Here the advert answers every such advert (one for one,
//! nothing amplified) but [`VrrpEvent::SplitBrainHealed`], which asks for the re-announcement,
//! comes at most once per [`VrrpConfig::lower_prio_announce_interval`]: a stream of
//! lower-priority adverts cannot cause a gratuitous-ARP burst per advert.
//!
//! Must not import `dataplane`, `io` or anything that touches a clock or a socket.

use crate::wire::vrrp::{AddressList, MAX_ADDRESSES, MAX_ADVERT_INT_CS, VrrpRepr};
use core::net::Ipv4Addr;
use smoltcp::time::{Duration, Instant};
use std::collections::VecDeque;

/// Priority of the router that owns the virtual addresses: master at once.
pub const PRIORITY_OWNER: u8 = 255;
/// Priority in the advert of a master that is stopping.
pub const PRIORITY_STOP: u8 = 0;
/// Microseconds per centisecond, the wire unit of the advert interval.
const CENTISECOND_US: u64 = 10_000;

/// How one virtual router is configured (keepalived's `vrrp_instance`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VrrpConfig {
    /// Virtual router id, 1..=255.
    pub vrid: u8,
    /// 1..=255; 255 means this router owns the addresses.
    pub priority: u8,
    /// Advertisement_Interval: a whole number of centiseconds, 10 ms..=40.95 s.
    pub advert_interval: Duration,
    /// Whether a higher-priority backup takes over from a lower-priority master.
    pub preempt: bool,
    /// How long a backup keeps deferring to a lower-priority master before preempting.
    pub preempt_delay: Duration,
    /// The virtual addresses, at most [`MAX_ADDRESSES`].
    pub vips: Vec<Ipv4Addr>,
    /// This router's primary address on the link: the advert source and the tie-breaker.
    pub own_addr: Ipv4Addr,
    /// The only sources whose adverts count (keepalived's `unicast_peer`); empty = any.
    pub peers: Vec<Ipv4Addr>,
    /// Least time between two re-announcements asked by lower-priority adverts.
    pub lower_prio_announce_interval: Duration,
}

/// Why a [`VrrpConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// VRID 0 does not exist.
    #[error("vrid must be 1..=255")]
    Vrid,
    /// Priority 0 is reserved for a master that stops.
    #[error("priority must be 1..=255")]
    Priority,
    /// The interval (here in microseconds) is not a whole number of centiseconds within
    /// 1..=4095.
    #[error("advert interval of {0} µs must be a whole number of centiseconds, 10 ms..=40.95 s")]
    Interval(u64),
    /// More virtual addresses than one advert holds here.
    #[error("{0} virtual addresses, at most {MAX_ADDRESSES}")]
    TooManyVips(usize),
}

/// RFC 5798 router state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started, or shut down.
    Init,
    /// Watching the master; takes over when its Master_Down_Timer expires.
    Backup,
    /// Owns the virtual addresses and advertises every Advertisement_Interval.
    Master,
}

/// What the embedding layer must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VrrpEvent {
    /// This router is master from `at`: answer ARP for the VIPs, take their traffic, and send
    /// gratuitous ARP for each VIP now (after the advert from `poll_transmit`).
    BecameMaster { at: Instant },
    /// This router is backup from `at` (on start, or after hearing a better master): stop
    /// answering for the VIPs.
    BecameBackup { at: Instant },
    /// The master `peer` announced it is stopping (priority 0); this backup takes over after
    /// Skew_Time unless a higher backup does first.
    MasterResigned { at: Instant, peer: Ipv4Addr },
    /// As master, heard `peer` advertise as master with lower precedence (a split brain ends)
    /// and advertised at once so it steps down. Sending gratuitous ARP again is advisable
    /// (keepalived's `garp_lower_prio_repeat`): switches may have learnt the VIP on `peer`.
    /// At most one per `lower_prio_announce_interval` (the adverts still answer each one).
    SplitBrainHealed { at: Instant, peer: Ipv4Addr },
    /// Shut down: back in INIT, no longer answering for the VIPs.
    Stopped,
}

/// Why an advert was not used. Each is counted in [`VrrpCounters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The router is in INIT.
    NotRunning,
    /// The advert is for another virtual router.
    WrongVrid,
    /// Our own advert, looped back.
    OwnAdvert,
    /// The source is not one of the configured peers.
    NotPeer,
    /// Its addresses differ from ours and the sender is not the owner (RFC 5798 §7.1).
    AddressMismatch,
    /// Max Adver Int 0.
    ZeroInterval,
}

/// What became of an advert handed to [`VrrpRouter::handle_advert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Processed by the state machine (which may still decide to ignore a lower priority).
    Accepted,
    /// Not processed, for this reason (counted).
    Dropped(DropReason),
}

/// Counters of one virtual router.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VrrpCounters {
    pub adverts_sent: u64,
    /// Of which priority 0 (shutdown).
    pub priority_zero_sent: u64,
    pub adverts_accepted: u64,
    /// Of which priority 0.
    pub priority_zero_received: u64,
    pub became_master: u64,
    pub became_backup: u64,
    pub dropped_not_running: u64,
    pub dropped_wrong_vrid: u64,
    pub dropped_own_advert: u64,
    /// Adverts for our VRID from a source that is not a configured peer.
    pub dropped_not_peer: u64,
    pub dropped_address_mismatch: u64,
    pub dropped_zero_interval: u64,
    /// Lower-priority adverts answered (with an advert) as master.
    pub lower_prio_answered: u64,
    /// Re-announcements asked for ([`VrrpEvent::SplitBrainHealed`]); the rest were held back.
    pub lower_prio_announced: u64,
}

/// One virtual router.
#[derive(Debug, Clone)]
pub struct VrrpRouter {
    config: VrrpConfig,
    vips: AddressList,
    interval_cs: u16,
    state: State,
    /// Master_Adver_Interval: ours, or the one learnt from the master's adverts in BACKUP.
    master_adver_interval: Duration,
    /// Master_Down_Timer in BACKUP, Adver_Timer in MASTER, nothing in INIT.
    deadline: Option<Instant>,
    /// When deferring to a lower-priority master ends (`preempt_delay`).
    preempt_at: Option<Instant>,
    /// When the last re-announcement for a lower-priority advert was asked for.
    last_announce: Option<Instant>,
    transmits: VecDeque<VrrpRepr>,
    events: VecDeque<VrrpEvent>,
    counters: VrrpCounters,
}

/// Skew_Time for `priority` and `interval`, in whole microseconds rounded down.
pub fn skew_time(priority: u8, interval: Duration) -> Duration {
    Duration::from_micros((256 - u64::from(priority)) * interval.total_micros() / 256)
}

/// Master_Down_Interval = 3 × `interval` + Skew_Time.
pub fn master_down_interval(priority: u8, interval: Duration) -> Duration {
    interval * 3 + skew_time(priority, interval)
}

impl VrrpRouter {
    /// A router in INIT; nothing happens until [`VrrpRouter::start`].
    pub fn new(config: VrrpConfig) -> Result<Self, ConfigError> {
        if config.vrid == 0 {
            return Err(ConfigError::Vrid);
        }
        if config.priority == PRIORITY_STOP {
            return Err(ConfigError::Priority);
        }
        let micros = config.advert_interval.total_micros();
        let cs = micros / CENTISECOND_US;
        if !micros.is_multiple_of(CENTISECOND_US) || cs == 0 || cs > u64::from(MAX_ADVERT_INT_CS) {
            return Err(ConfigError::Interval(micros));
        }
        let vips = AddressList::from_slice(&config.vips)
            .ok_or(ConfigError::TooManyVips(config.vips.len()))?;
        Ok(VrrpRouter {
            vips,
            interval_cs: cs as u16,
            state: State::Init,
            master_adver_interval: config.advert_interval,
            deadline: None,
            preempt_at: None,
            last_announce: None,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: VrrpCounters::default(),
            config,
        })
    }

    /// Leaves INIT (RFC 5798 §6.4.1): priority 255 becomes master at once, any other becomes
    /// backup with the Master_Down_Timer running. Does nothing unless in INIT.
    pub fn start(&mut self, now: Instant) {
        if self.state != State::Init {
            return;
        }
        if self.config.priority == PRIORITY_OWNER {
            self.become_master(now);
        } else {
            self.become_backup(now, self.config.advert_interval);
        }
    }

    /// Takes an advert from `src` (the IPv4 source of a frame that passed `parse_frame`).
    pub fn handle_advert(&mut self, now: Instant, src: Ipv4Addr, advert: &VrrpRepr) -> Verdict {
        if let Err(reason) = self.check(src, advert) {
            let counter = match reason {
                DropReason::NotRunning => &mut self.counters.dropped_not_running,
                DropReason::WrongVrid => &mut self.counters.dropped_wrong_vrid,
                DropReason::OwnAdvert => &mut self.counters.dropped_own_advert,
                DropReason::NotPeer => &mut self.counters.dropped_not_peer,
                DropReason::AddressMismatch => &mut self.counters.dropped_address_mismatch,
                DropReason::ZeroInterval => &mut self.counters.dropped_zero_interval,
            };
            *counter += 1;
            return Verdict::Dropped(reason);
        }
        self.counters.adverts_accepted += 1;
        let their_interval =
            Duration::from_micros(u64::from(advert.max_advert_int_cs) * CENTISECOND_US);
        let ours = self.config.priority;
        match self.state {
            State::Init => {}
            State::Backup if advert.priority == PRIORITY_STOP => {
                self.counters.priority_zero_received += 1;
                self.deadline = Some(now + self.skew_time());
                self.events
                    .push_back(VrrpEvent::MasterResigned { at: now, peer: src });
            }
            State::Backup => {
                if self.defers_to(now, advert.priority) {
                    self.master_adver_interval = their_interval;
                    self.deadline = Some(now + self.master_down_interval());
                }
                // Otherwise a lower-priority master is ignored: the down timer runs out and
                // this router preempts it.
            }
            State::Master if advert.priority == PRIORITY_STOP => {
                self.counters.priority_zero_received += 1;
                self.send(self.config.priority);
                self.deadline = Some(now + self.config.advert_interval);
            }
            State::Master => {
                let theirs = (advert.priority, u32::from(src));
                if theirs > (ours, u32::from(self.config.own_addr)) {
                    self.become_backup(now, their_interval);
                } else {
                    self.counters.lower_prio_answered += 1;
                    self.send(self.config.priority);
                    let gap = self.config.lower_prio_announce_interval;
                    if self.last_announce.is_none_or(|t| now >= t + gap) {
                        self.last_announce = Some(now);
                        self.counters.lower_prio_announced += 1;
                        self.events
                            .push_back(VrrpEvent::SplitBrainHealed { at: now, peer: src });
                    }
                }
            }
        }
        Verdict::Accepted
    }

    /// Runs the timer that is due at `now`, if any.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.is_none_or(|at| now < at) {
            return;
        }
        match self.state {
            State::Init => {}
            State::Backup => self.become_master(now),
            State::Master => {
                self.send(self.config.priority);
                self.deadline = Some(now + self.config.advert_interval);
            }
        }
    }

    /// Stops: a master sends one advert with priority 0 (backups take over after Skew_Time);
    /// either goes to INIT. Does nothing in INIT.
    pub fn shutdown(&mut self, _now: Instant) {
        match self.state {
            State::Init => return,
            State::Master => self.send(PRIORITY_STOP),
            State::Backup => {}
        }
        self.state = State::Init;
        self.deadline = None;
        self.preempt_at = None;
        self.events.push_back(VrrpEvent::Stopped);
    }

    /// The next advert to send, oldest first.
    pub fn poll_transmit(&mut self) -> Option<VrrpRepr> {
        self.transmits.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<VrrpEvent> {
        self.events.pop_front()
    }

    /// When to call [`VrrpRouter::handle_timeout`] next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn config(&self) -> &VrrpConfig {
        &self.config
    }

    pub fn counters(&self) -> &VrrpCounters {
        &self.counters
    }

    /// Master_Adver_Interval: learnt from the master in BACKUP, our own otherwise.
    pub fn master_adver_interval(&self) -> Duration {
        self.master_adver_interval
    }

    /// Skew_Time at our priority and the current Master_Adver_Interval.
    pub fn skew_time(&self) -> Duration {
        skew_time(self.config.priority, self.master_adver_interval)
    }

    /// Master_Down_Interval at our priority and the current Master_Adver_Interval.
    pub fn master_down_interval(&self) -> Duration {
        master_down_interval(self.config.priority, self.master_adver_interval)
    }

    fn check(&self, src: Ipv4Addr, advert: &VrrpRepr) -> Result<(), DropReason> {
        if self.state == State::Init {
            Err(DropReason::NotRunning)
        } else if advert.vrid != self.config.vrid {
            Err(DropReason::WrongVrid)
        } else if src == self.config.own_addr {
            Err(DropReason::OwnAdvert)
        } else if !self.config.peers.is_empty() && !self.config.peers.contains(&src) {
            Err(DropReason::NotPeer)
        } else if advert.priority != PRIORITY_OWNER && !advert.addresses.same_set(&self.vips) {
            Err(DropReason::AddressMismatch)
        } else if advert.max_advert_int_cs == 0 {
            Err(DropReason::ZeroInterval)
        } else {
            Ok(())
        }
    }

    /// Whether a backup accepts a master of `priority` (resets its down timer): always for
    /// priority ≥ ours or without preemption; for a lower priority, only until
    /// `preempt_delay` has passed since the first such advert.
    fn defers_to(&mut self, now: Instant, priority: u8) -> bool {
        if priority >= self.config.priority {
            self.preempt_at = None;
            return true;
        }
        if !self.config.preempt {
            return true;
        }
        let delay = self.config.preempt_delay;
        delay > Duration::ZERO && now < *self.preempt_at.get_or_insert(now + delay)
    }

    fn send(&mut self, priority: u8) {
        self.counters.adverts_sent += 1;
        if priority == PRIORITY_STOP {
            self.counters.priority_zero_sent += 1;
        }
        self.transmits.push_back(VrrpRepr {
            vrid: self.config.vrid,
            priority,
            max_advert_int_cs: self.interval_cs,
            addresses: self.vips,
        });
    }

    fn become_master(&mut self, now: Instant) {
        self.state = State::Master;
        self.master_adver_interval = self.config.advert_interval;
        self.preempt_at = None;
        self.send(self.config.priority);
        self.deadline = Some(now + self.config.advert_interval);
        self.counters.became_master += 1;
        self.events.push_back(VrrpEvent::BecameMaster { at: now });
    }

    fn become_backup(&mut self, now: Instant, master_adver_interval: Duration) {
        self.state = State::Backup;
        self.master_adver_interval = master_adver_interval;
        self.deadline = Some(now + self.master_down_interval());
        self.counters.became_backup += 1;
        self.events.push_back(VrrpEvent::BecameBackup { at: now });
    }
}

#[cfg(test)]
mod tests;
