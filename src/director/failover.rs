//! keepalived's half of the director: a VRRPv3 router (`control::vrrp`) wired to the data
//! plane. Adverts go out of the outside TAP from the director's own address; adverts heard
//! there feed the state machine; becoming master activates the data plane (which then
//! answers ARP for the VIPs and sends gratuitous ARP), becoming backup deactivates it. Each
//! transition is appended, with its wall-clock time, to a state log the runner reads.

use crate::config::VrrpSection;
use crate::control::vrrp::{State, VrrpConfig, VrrpEvent, VrrpRouter};
use crate::dataplane::{Dataplane, Event};
use crate::io::port::Port;
use crate::io::vnet::VnetHeader;
use crate::unix_ms;
use crate::wire::vrrp::{emit_frame, parse_frame};
use smoltcp::time::{Duration, Instant};
use std::io::Write;
use std::path::Path;

/// The VRRP router of a director and its log.
pub struct Failover {
    router: VrrpRouter,
    log: Option<std::fs::File>,
    /// Protocol-112 frames for the director that did not parse as adverts (dropped, counted).
    not_adverts: u64,
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
    pub fn poll(&mut self, now: Instant, dp: &mut Dataplane, outside: &Port, buf: &mut [u8]) {
        self.router.handle_timeout(now);
        self.transmit(dp, outside, buf);
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

    fn transmit(&mut self, dp: &Dataplane, outside: &Port, buf: &mut [u8]) {
        while let Some(advert) = self.router.poll_transmit() {
            if let Ok(n) = emit_frame(buf, dp.mac(), dp.addr(), &advert) {
                let _ = outside.send(&VnetHeader::NONE, &buf[..n]);
            }
        }
    }

    /// A data-plane event worth logging (the first gratuitous ARP of a takeover).
    pub fn note(&mut self, event: Event) {
        if let Event::GratuitousArp { .. } = event {
            self.record("garp");
        }
    }

    /// Clean stop: a master hands over at once with a priority-0 advert.
    pub fn shutdown(&mut self, now: Instant, dp: &mut Dataplane, outside: &Port, buf: &mut [u8]) {
        self.router.shutdown(now);
        self.poll(now, dp, outside, buf);
        eprintln!(
            "director: vrrp counters {:?}, {} malformed VRRP frames",
            self.router.counters(),
            self.not_adverts
        );
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
