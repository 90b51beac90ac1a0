//! One host of an emulated lab as the fabric drives it: a tapvs director, a simulated real
//! server or client, and what the timeline does to it from outside: its cable pulled
//! (`cut_link`), its process stopped (`freeze_director`), VRRP between the directors filtered
//! (`partition_heartbeat`), the process gone (`kill_director`) or ending cleanly
//! (`stop_director`). Each port counts what crossed it, as `ip -s link` would.

use super::wire::Wire;
use crate::emu::Node;
use crate::emu::flooder::Flooder;
use crate::emu::host::{SimClient, SimProbe, SimServer};
use crate::emu::router::Router;
use crate::emu::spoofer::Spoofer;
use crate::lab::LinkStats;
use crate::node::Director;
use smoltcp::time::Instant;

/// `$body` with `$n` bound to the host's node, statically dispatched (the calls after every
/// event stay direct, not through `dyn Node`); `$down` for a killed director's machine.
macro_rules! on_node {
    ($host:expr, $n:ident => $body:expr, $down:expr) => {
        match $host {
            Host::Director(d) => {
                let $n: &mut Director = d;
                $body
            }
            Host::Server($n) => $body,
            Host::Client($n) => $body,
            Host::Probe($n) => $body,
            Host::Router(r) => {
                let $n: &mut Router = r;
                $body
            }
            Host::Flooder(f) => {
                let $n: &mut Flooder = f;
                $body
            }
            Host::Spoofer(s) => {
                let $n: &mut Spoofer = s;
                $body
            }
            Host::Down => $down,
        }
    };
}

/// What runs on the host. (Sizes differ, but a lab has a handful of hosts: no boxing for them.)
#[allow(clippy::large_enum_variant)]
pub enum Host {
    Director(Box<Director>),
    Server(SimServer),
    Client(SimClient),
    /// The router between the clients and the LAN.
    Router(Box<Router>),
    /// A `syn_flood` load.
    Flooder(Box<Flooder>),
    /// The foreign host of `spoof_vrrp` events.
    Spoofer(Box<Spoofer>),
    /// The status-port probe of the directors' host stacks, before the load.
    Probe(SimProbe),
    /// Nothing: a killed director's machine (frames to it are lost).
    Down,
}

/// A host with its plugs.
pub struct LabNode {
    pub host: Host,
    /// The cable is pulled: nothing in, nothing out (what is sent is lost).
    pub cut: bool,
    /// The process is stopped: it reads nothing, sends nothing and its timers wait.
    pub frozen: bool,
    /// VRRP (IP protocol 112) neither reaches nor leaves it (the lab's bridge filter).
    pub partitioned: bool,
    /// Ending cleanly: it sends what it has left, then takes nothing more.
    pub stopping: bool,
    /// Per port: what came in (rx) and went out (tx).
    pub ports: [LinkStats; 2],
    /// The `[[link]]` between its port 0 and its cable, if the scenario has one there.
    pub wire: Option<Wire>,
    /// The last time it was given.
    now: Instant,
}

/// IPv4 protocol 112 (VRRP) in an untagged Ethernet frame.
fn is_vrrp(frame: &[u8]) -> bool {
    frame.len() > 23 && frame[12..14] == [0x08, 0x00] && frame[23] == 112
}

impl LabNode {
    pub fn new(host: Host) -> LabNode {
        LabNode {
            host,
            cut: false,
            frozen: false,
            partitioned: false,
            stopping: false,
            ports: Default::default(),
            wire: None,
            now: Instant::ZERO,
        }
    }

    pub fn director(&self) -> Option<&Director> {
        match &self.host {
            Host::Director(d) => Some(d),
            _ => None,
        }
    }

    pub fn director_mut(&mut self) -> Option<&mut Director> {
        match &mut self.host {
            Host::Director(d) => Some(d),
            _ => None,
        }
    }

    fn inner(host: &mut Host) -> Option<&mut dyn Node> {
        match host {
            Host::Director(d) => Some(&mut **d),
            Host::Server(s) => Some(s),
            Host::Client(c) => Some(c),
            Host::Probe(p) => Some(p),
            Host::Router(r) => Some(&mut **r),
            Host::Flooder(f) => Some(&mut **f),
            Host::Spoofer(s) => Some(&mut **s),
            Host::Down => None,
        }
    }

    fn count(stats: &mut [LinkStats; 2], port: usize, tx: bool, len: usize) {
        if let Some(s) = stats.get_mut(port) {
            if tx {
                s.tx_packets += 1;
                s.tx_bytes += len as u64;
            } else {
                s.rx_packets += 1;
                s.rx_bytes += len as u64;
            }
        }
    }
}

impl Node for LabNode {
    fn handle_frame(&mut self, now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        self.now = now;
        if self.frozen {
            // The TAP's queue overflows while the process is stopped.
            if let Some(s) = self.ports.get_mut(port) {
                s.rx_dropped += 1;
            }
            return None;
        }
        if self.cut || self.stopping || (self.partitioned && is_vrrp(frame)) {
            return None;
        }
        Self::count(&mut self.ports, port, false, frame.len());
        if let (Some(wire), 0) = (&mut self.wire, port) {
            wire.arrive(now, frame);
            wire.deliver(now, Self::inner(&mut self.host)?);
            return None;
        }
        let out = on_node!(&mut self.host, n => Node::handle_frame(n, now, port, frame), None)?;
        if self.partitioned && is_vrrp(frame) {
            return None;
        }
        Self::count(&mut self.ports, out, true, frame.len());
        Some(out)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.frozen || self.stopping {
            return;
        }
        let Some(wire) = &mut self.wire else {
            return on_node!(&mut self.host, n => Node::handle_timeout(n, now), ());
        };
        let Some(node) = Self::inner(&mut self.host) else {
            return;
        };
        node.handle_timeout(now);
        wire.deliver(now, node);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        self.now = now;
        if self.frozen {
            return None;
        }
        let Some(wire) = &mut self.wire else {
            while let Some((port, len)) =
                on_node!(&mut self.host, n => Node::poll_transmit(n, now, buf), None)
            {
                // A pulled cable or the filter: the frame is sent and lost.
                if self.cut || (self.partitioned && is_vrrp(&buf[..len])) {
                    continue;
                }
                Self::count(&mut self.ports, port, true, len);
                return Some((port, len));
            }
            return None;
        };
        // The host's frames are taken into the wire's buffer (a super-frame fits there).
        while let Some((port, len)) =
            Self::inner(&mut self.host).and_then(|n| wire.take_from(now, n))
        {
            let frame = wire.host_frame(len);
            if self.cut || (self.partitioned && is_vrrp(frame)) {
                continue;
            }
            if port == 0 {
                wire.depart(now, len);
            } else if len <= buf.len() {
                buf[..len].copy_from_slice(frame);
                Self::count(&mut self.ports, port, true, len);
                return Some((port, len));
            }
        }
        let len = wire.next_out(now, buf)?;
        Self::count(&mut self.ports, 0, true, len);
        Some((0, len))
    }

    fn next_frame_len(&self) -> Option<usize> {
        // Through a wire, frames leave cut to the MTU.
        if self.wire.is_some() || self.frozen {
            return None;
        }
        match &self.host {
            Host::Server(s) => s.next_frame_len(),
            Host::Client(c) => c.next_frame_len(),
            Host::Probe(p) => p.next_frame_len(),
            _ => None,
        }
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.frozen || self.stopping {
            return None;
        }
        let host = on_node!(&mut self.host, n => Node::poll_timeout(n), None);
        let Some(wire) = &self.wire else {
            return host;
        };
        match (host, wire.poll_at(self.now)) {
            (Some(h), Some(w)) => Some(h.min(w)),
            (h, w) => h.or(w),
        }
    }
}
