//! keepalived's half of the director: a VRRPv3 router (`control::vrrp`) wired to the data
//! plane. Adverts go out of the outside TAP from the director's own address, to 224.0.0.18
//! or (`unicast`) to each peer's MAC and address, resolved by the data plane's neighbour
//! table (an advert for a peer not resolved yet is not sent, and counted); adverts heard
//! there feed the state machine (which drops those from non-peers); becoming master
//! activates the data plane (which then answers ARP for the VIPs and sends gratuitous ARP),
//! becoming backup deactivates it. Each transition is appended, with its wall-clock time, to
//! a state log the runner reads.

use crate::config::VrrpSection;
use crate::control::vrrp::{State, VrrpConfig, VrrpEvent, VrrpRouter};
use crate::dataplane::{Dataplane, Event};
use crate::io::port::Port;
use crate::io::vnet::VnetHeader;
use crate::unix_ms;
use crate::wire::vrrp::{GROUP, GROUP_MAC, emit_frame_to, parse_frame};
use smoltcp::time::{Duration, Instant};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

/// The VRRP router of a director and its log.
pub struct Failover {
    router: VrrpRouter,
    log: Option<std::fs::File>,
    /// Protocol-112 frames for the director that did not parse as adverts (dropped, counted).
    not_adverts: u64,
    /// Peers adverts go to by unicast; empty: to the group.
    unicast: Vec<Ipv4Addr>,
    /// Unicast adverts not sent: the peer's MAC was not known yet.
    unicast_unresolved: u64,
}

/// The VRRP counters the director reports (`<control>.vrrp.json`, and at exit).
#[derive(Debug, serde::Serialize)]
pub struct VrrpReport<'a> {
    pub state: &'static str,
    #[serde(flatten)]
    pub counters: &'a crate::control::vrrp::VrrpCounters,
    pub malformed: u64,
    pub unicast_unresolved: u64,
    /// Gratuitous ARPs the data plane sent (every burst, takeovers and re-announcements).
    pub garps: u64,
}

impl Failover {
    /// Builds the router for the data plane's VIPs and starts it (INIT → BACKUP, or MASTER for
    /// the address owner). The data plane starts passive.
    pub fn start(
        section: &VrrpSection,
        dp: &mut Dataplane,
        now: Instant,
        log: Option<&Path>,
    ) -> anyhow::Result<Failover> {
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
        let log = match log {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)?,
            ),
            None => None,
        };
        dp.attach_host_stack();
        dp.set_active(now, false);
        router.start(now);
        Ok(Failover {
            router,
            log,
            not_adverts: 0,
            unicast: if section.unicast {
                section.peers.clone()
            } else {
                Vec::new()
            },
            unicast_unresolved: 0,
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
        outside: &mut dyn Port,
        buf: &mut [u8],
    ) {
        self.router.handle_timeout(now);
        self.transmit(now, dp, outside, buf);
        while let Some(event) = self.router.poll_event() {
            match event {
                VrrpEvent::BecameMaster { .. } => {
                    dp.set_active(now, true);
                    self.record("master");
                }
                VrrpEvent::BecameBackup { .. } => {
                    dp.set_active(now, false);
                    self.record("backup");
                }
                VrrpEvent::SplitBrainHealed { .. } => {
                    // keepalived's garp_lower_prio_repeat: claim the VIPs back.
                    dp.announce(now);
                    self.record("split_brain_healed");
                }
                VrrpEvent::MasterResigned { .. } => self.record("peer_resigned"),
                VrrpEvent::Stopped => {
                    dp.set_active(now, false);
                    self.record("stopped");
                }
            }
        }
    }

    fn transmit(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        outside: &mut dyn Port,
        buf: &mut [u8],
    ) {
        let src = (dp.mac(), dp.addr());
        while let Some(advert) = self.router.poll_transmit() {
            if self.unicast.is_empty() {
                if let Ok(n) = emit_frame_to(buf, src, (GROUP_MAC, GROUP), &advert) {
                    let _ = outside.send(now, &VnetHeader::NONE, &buf[..n]);
                }
                continue;
            }
            for &peer in &self.unicast {
                let Some(mac) = dp.resolve(now, peer) else {
                    self.unicast_unresolved += 1;
                    continue;
                };
                if let Ok(n) = emit_frame_to(buf, src, (mac, peer), &advert) {
                    let _ = outside.send(now, &VnetHeader::NONE, &buf[..n]);
                }
            }
        }
    }

    /// The counters as one JSON line, for the runner.
    pub fn report(&self, dp: &Dataplane) -> String {
        let report = VrrpReport {
            state: match self.router.state() {
                State::Init => "init",
                State::Backup => "backup",
                State::Master => "master",
            },
            counters: self.router.counters(),
            malformed: self.not_adverts,
            unicast_unresolved: self.unicast_unresolved,
            garps: dp.counters().garps,
        };
        serde_json::to_string(&report).unwrap_or_default()
    }

    /// A data-plane event worth logging (the first gratuitous ARP of a takeover).
    pub fn note(&mut self, event: Event) {
        if let Event::GratuitousArp { .. } = event {
            self.record("garp");
        }
    }

    /// Clean stop: a master hands over at once with a priority-0 advert.
    pub fn shutdown(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        outside: &mut dyn Port,
        buf: &mut [u8],
    ) {
        self.router.shutdown(now);
        self.poll(now, dp, outside, buf);
        eprintln!("director: vrrp counters {}", self.report(dp));
    }

    /// When the router next needs `poll`.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.router.poll_timeout()
    }

    pub fn state(&self) -> State {
        self.router.state()
    }

    fn record(&mut self, what: &str) {
        eprintln!("director: vrrp {what}");
        if let Some(log) = &mut self.log {
            let _ = writeln!(log, "{{\"unix_ms\":{},\"event\":\"{what}\"}}", unix_ms());
        }
    }
}
