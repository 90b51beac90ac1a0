//! The director's own host stack (smoltcp), apart from the VIP data plane: one interface per
//! TAP with the director's own address, fed the frames the data plane passes up
//! ([`crate::dataplane::Verdict::ToHost`]). It answers ARP and ICMP echo for its address, serves
//! the status port (TCP and UDP), runs the health checks of real servers ([`check`]), and
//! leaves room for other sockets.

pub mod check;
mod phy;
mod status;

use super::settings::NodeSettings;
use crate::dataplane::Iface;
use crate::dataplane::settings::InterfaceConfig;
use anyhow::{Context, bail};
use check::{Check, CheckError, CheckSpec};
use phy::{Phy, Refused, Ring, Tx};
use serde::Serialize;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, EthernetFrame, EthernetProtocol, HardwareAddress, IpCidr};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::ops::RangeInclusive;

/// Local ports of health check attempts, used in turn.
const CHECK_PORTS: RangeInclusive<u16> = 49152..=65535;

/// What the host stack did, for the director's final report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct HostCounters {
    /// Frames queued for the stack.
    pub frames_in: u64,
    /// Frames the stack sent.
    pub frames_out: u64,
    /// Frames refused because the ring was full.
    pub dropped_full: u64,
    /// Frames refused because they were longer than a ring slot.
    pub dropped_oversize: u64,
    /// Frames refused because they were not Ethernet carrying ARP or IPv4.
    pub dropped_malformed: u64,
    /// Status lines written to TCP connections.
    pub status_tcp: u64,
    /// Status lines sent back to UDP requests.
    pub status_udp: u64,
    /// UDP status requests left unanswered (the send buffer was full).
    pub status_dropped: u64,
}

/// One director interface as the host stack sees it.
struct Port {
    config: InterfaceConfig,
    iface: Interface,
    sockets: SocketSet<'static>,
    ring: Ring,
    status: Option<status::Status>,
}

/// A health check and the port its socket lives on.
struct CheckSlot {
    port: usize,
    check: Check,
}

/// The host stack of a director: one smoltcp interface per TAP, outside first.
pub struct HostStack {
    ports: Vec<Port>,
    /// Where a frame to send is built (one at a time).
    tx_buf: Box<[u8]>,
    counters: HostCounters,
    checks: Vec<CheckSlot>,
    /// The local port of the next check attempt (in [`CHECK_PORTS`]).
    next_check_port: u16,
    /// Not used by checks.
    status_port: u16,
    /// [`HostStack::poll_at`]'s last answer; `None` once anything may have changed it.
    poll_at_cache: Option<Option<Instant>>,
}

impl HostStack {
    /// Builds the interfaces of `config` (outside = `Iface(0)`, inside = `Iface(1)`) with their
    /// addresses, the default route via the outside gateway, and the status service.
    pub fn new(config: &NodeSettings, seed: u64, now: Instant) -> anyhow::Result<HostStack> {
        let mut tx_buf = vec![0u8; phy::SLOT_LEN].into_boxed_slice();
        let mut ports = Vec::with_capacity(2);
        for (i, ic) in std::iter::once(&config.interface)
            .chain(&config.inside)
            .enumerate()
        {
            let port = Port::new(
                ic,
                config.host.status_port,
                seed.wrapping_add(i as u64),
                now,
                &mut tx_buf,
            )
            .with_context(|| format!("host stack on {}", ic.name))?;
            ports.push(port);
        }
        if let Some(gateway) = config.interface.gateway {
            ports[0]
                .iface
                .routes_mut()
                .add_default_ipv4_route(gateway)
                .map_err(|_| anyhow::anyhow!("host stack: route table full"))?;
        }
        let span = u64::from(CHECK_PORTS.end() - CHECK_PORTS.start()) + 1;
        Ok(HostStack {
            ports,
            tx_buf,
            counters: HostCounters::default(),
            checks: Vec::new(),
            // Not the same ports after a restart, while the servers may remember the last ones.
            next_check_port: CHECK_PORTS.start() + (seed % span) as u16,
            status_port: config.host.status_port,
            poll_at_cache: None,
        })
    }

    /// Queues a frame the data plane passed up on `iface`. A frame that is not Ethernet with
    /// ARP or IPv4, is longer than a ring slot, or finds the ring full is dropped and counted.
    pub fn handle_frame(&mut self, iface: Iface, frame: &[u8]) {
        self.poll_at_cache = None;
        let Some(port) = self.ports.get_mut(usize::from(iface.0)) else {
            self.counters.dropped_malformed += 1;
            return;
        };
        let ethertype = EthernetFrame::new_checked(frame).map(|f| f.ethertype());
        if !matches!(
            ethertype,
            Ok(EthernetProtocol::Arp | EthernetProtocol::Ipv4)
        ) {
            self.counters.dropped_malformed += 1;
            return;
        }
        match port.ring.push(frame) {
            Ok(()) => self.counters.frames_in += 1,
            Err(Refused::Full) => self.counters.dropped_full += 1,
            Err(Refused::Oversize) => self.counters.dropped_oversize += 1,
        }
    }

    /// Runs the interfaces on what was queued, serves the status port with `status` (one line,
    /// without newline), moves the health checks on (their results wait for
    /// [`HostStack::check_result`]), and hands every frame to send to `send` with its interface.
    pub fn poll(&mut self, now: Instant, status: &str, send: &mut impl FnMut(Iface, &[u8])) {
        self.poll_at_cache = None;
        for (i, port) in self.ports.iter_mut().enumerate() {
            let mut sent = 0;
            let mut phy = Phy {
                rx: &mut port.ring,
                tx: Tx {
                    buf: &mut self.tx_buf,
                    sink: &mut *send,
                    iface: Iface(i as u8),
                    sent: &mut sent,
                },
            };
            port.iface.poll(now, &mut phy, &mut port.sockets);
            let mut again = false;
            if let Some(service) = &mut port.status {
                service.serve(now, status, &mut port.sockets, &mut self.counters);
                again = true;
            }
            for slot in self.checks.iter_mut().filter(|c| c.port == i) {
                again |= slot.check.advance(&mut port.sockets);
            }
            if again {
                // Out with what the services wrote.
                port.iface.poll(now, &mut phy, &mut port.sockets);
            }
            self.counters.frames_out += sent;
        }
    }

    /// When [`HostStack::poll`] should next run (`now` or earlier: at once). Asked after
    /// every frame the director forwards, so the answer is kept while nothing touches the
    /// stack and it lies ahead: until then it depends on the sockets' state alone (a socket
    /// waiting for a neighbour changes its answer at the deadline it gave).
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        match self.poll_at_cache {
            Some(at) if at.is_none_or(|at| at > now) => at,
            _ => {
                let at = self.poll_at_uncached(now);
                self.poll_at_cache = Some(at);
                at
            }
        }
    }

    fn poll_at_uncached(&mut self, now: Instant) -> Option<Instant> {
        self.ports
            .iter_mut()
            .filter_map(|p| {
                if !p.ring.is_empty() {
                    return Some(now);
                }
                let service = p.status.as_ref().and_then(|s| s.poll_at());
                [p.iface.poll_at(now, &p.sockets), service]
                    .into_iter()
                    .flatten()
                    .min()
            })
            .min()
    }

    pub fn counters(&self) -> &HostCounters {
        &self.counters
    }

    /// The interface `addr` is reached through: the inside one for its network, else outside.
    pub fn iface_for(&self, addr: Ipv4Addr) -> Iface {
        match self.ports.get(1) {
            Some(inside) if inside.config.on_link(addr) => Iface::INSIDE,
            _ => Iface::OUTSIDE,
        }
    }

    /// The smoltcp interface and socket set of `iface`, to open more sockets (health checks);
    /// `None` for an interface the director does not have.
    pub fn sockets_mut(
        &mut self,
        iface: Iface,
    ) -> Option<(&mut Interface, &mut SocketSet<'static>)> {
        self.poll_at_cache = None;
        let port = self.ports.get_mut(usize::from(iface.0))?;
        Some((&mut port.iface, &mut port.sockets))
    }

    /// Adds a health check of `target` on the interface it is reached through; returns its
    /// index for the other `*_check` calls (which panic on an index not from here).
    pub fn add_check(&mut self, spec: CheckSpec, target: SocketAddrV4) -> usize {
        self.poll_at_cache = None;
        let port = usize::from(self.iface_for(*target.ip()).0);
        let check = Check::new(spec, target, &mut self.ports[port].sockets);
        self.checks.push(CheckSlot { port, check });
        self.checks.len() - 1
    }

    /// Starts an attempt of check `i` (aborting one still running) from the next local port
    /// in turn; it goes out at the next [`HostStack::poll`].
    pub fn start_check(&mut self, i: usize) -> Result<(), CheckError> {
        self.poll_at_cache = None;
        let local_port = self.next_check_port();
        let slot = &mut self.checks[i];
        let port = &mut self.ports[slot.port];
        slot.check
            .start(&mut port.iface, &mut port.sockets, local_port)
    }

    /// The result of the attempt of check `i`, once, when decided; `None` before, and when no
    /// attempt runs. Call it after each [`HostStack::poll`].
    pub fn check_result(&mut self, i: usize) -> Option<Result<(), CheckError>> {
        self.poll_at_cache = None;
        let slot = &mut self.checks[i];
        slot.check.poll(&mut self.ports[slot.port].sockets)
    }

    /// Abandons the attempt of check `i` (it timed out): the connection is aborted.
    pub fn cancel_check(&mut self, i: usize) {
        self.poll_at_cache = None;
        let slot = &mut self.checks[i];
        slot.check.cancel(&mut self.ports[slot.port].sockets);
    }

    /// Whether check `i` has an attempt whose result was not yet handed out.
    pub fn check_running(&self, i: usize) -> bool {
        self.checks[i].check.is_running()
    }

    /// The next local port for a check attempt: in turn over [`CHECK_PORTS`], never the
    /// status port, so a port comes back only after all the others.
    fn next_check_port(&mut self) -> u16 {
        loop {
            let port = self.next_check_port;
            self.next_check_port = match port {
                p if p == *CHECK_PORTS.end() => *CHECK_PORTS.start(),
                p => p + 1,
            };
            if port != self.status_port {
                return port;
            }
        }
    }
}

impl Port {
    fn new(
        config: &InterfaceConfig,
        status_port: u16,
        seed: u64,
        now: Instant,
        tx_buf: &mut [u8],
    ) -> anyhow::Result<Port> {
        let Some(mac) = crate::dataplane::settings::parse_mac(&config.mac).map(EthernetAddress)
        else {
            bail!("bad MAC {}", config.mac);
        };
        if !mac.is_unicast() {
            bail!("MAC {mac} is not unicast");
        }
        if config.prefix_len > 32 {
            bail!("prefix length {} is over 32", config.prefix_len);
        }
        let mut iface_config = Config::new(HardwareAddress::Ethernet(mac));
        iface_config.random_seed = seed;
        let mut ring = Ring::new();
        let mut sent = 0;
        let mut phy = Phy {
            rx: &mut ring,
            tx: Tx {
                buf: tx_buf,
                sink: &mut |_: Iface, _: &[u8]| {},
                iface: Iface::OUTSIDE,
                sent: &mut sent,
            },
        };
        let mut iface = Interface::new(iface_config, &mut phy, now);
        iface.update_ip_addrs(|addrs| {
            // One address on a fresh interface: there is room.
            let _ = addrs.push(IpCidr::new(config.address.into(), config.prefix_len));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let status = match status_port {
            0 => None,
            port => Some(status::Status::new(port, &mut sockets)?),
        };
        Ok(Port {
            config: config.clone(),
            iface,
            sockets,
            ring,
            status,
        })
    }
}

#[cfg(test)]
mod tests;
