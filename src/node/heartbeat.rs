//! Heartbeat's half of the director (`[heartbeat]` instead of `[vrrp]`): a heartbeat node
//! (`control::heartbeat`) that speaks heartbeat 3's UDP messages to the one peer (`ucast`),
//! from the director's own address and port 694, to the peer's MAC as the data plane's
//! neighbour table resolves it (messages wait in the node until it does). Holding the
//! resource group is being master: the data plane is activated (ARP for the VIPs, gratuitous
//! ARP) and sync becomes master; releasing it deactivates. Transitions are the same
//! `vrrp {state}` events as VRRP's, so the runner's takeover metrics read both.

use super::EventQueue;
use super::event::{DirectorEvent, HeartbeatReport, VrrpState};
use super::outbox::Outbox;
use super::settings::HeartbeatSection;
use crate::control::heartbeat::machine::{HbEvent, HeartbeatConfig, HeartbeatNode};
use crate::control::heartbeat::wire::Auth;
use crate::control::vrrp::State;
use crate::dataplane::{Dataplane, Iface};
use crate::wire::{
    ETHERNET_HEADER_LEN, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet, UdpPacket,
};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IPV4_HEADER_LEN, Ipv4Repr, UDP_HEADER_LEN};
use std::net::Ipv4Addr;

/// Bytes in front of a message.
const OVERHEAD: usize = ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + UDP_HEADER_LEN;

/// The heartbeat node of a director.
pub struct Heartbeat {
    node: HeartbeatNode,
    own: Ipv4Addr,
    peer: Ipv4Addr,
    port: u16,
    /// UDP datagrams to our port from another address than the peer's (dropped).
    not_peer: u64,
    /// Datagrams to our port that failed the IPv4 or UDP checks (dropped).
    malformed: u64,
    /// Polls that found the peer's MAC unknown (messages waited).
    unresolved: u64,
    state: State,
}

impl Heartbeat {
    /// Builds the node and starts it; the data plane starts passive (backup).
    pub fn start(
        section: &HeartbeatSection,
        dp: &mut Dataplane,
        now: Instant,
        events: &mut EventQueue,
    ) -> anyhow::Result<Heartbeat> {
        let clock_s = section.clock_s.ok_or_else(|| {
            anyhow::anyhow!("heartbeat.clock_s: the director process sets it when empty")
        })?;
        let config = HeartbeatConfig {
            node: section.node.clone(),
            peer: section.peer_node.clone(),
            primary: section.primary == section.node,
            keepalive: Duration::from_millis(section.keepalive_ms),
            deadtime: Duration::from_millis(section.deadtime_ms),
            warntime: Duration::from_millis(section.warntime_ms),
            initdead: Duration::from_millis(section.initdead_ms),
            auto_failback: section.auto_failback,
            auth: Auth::sha1(section.auth_index, section.auth_key.as_bytes()),
            generation: clock_s,
            clock_s,
        };
        let mut node = HeartbeatNode::new(config, now);
        dp.attach_host_stack();
        dp.set_active(now, false);
        node.start(now);
        events.push(DirectorEvent::Vrrp {
            state: VrrpState::Backup,
        });
        Ok(Heartbeat {
            node,
            own: dp.addr(),
            peer: section.peer,
            port: section.port,
            not_peer: 0,
            malformed: 0,
            unresolved: 0,
            state: State::Backup,
        })
    }

    /// Whether a frame for the director is a UDP datagram to our heartbeat port (cheap test).
    pub fn wants(&self, frame: &[u8]) -> bool {
        let ip = ETHERNET_HEADER_LEN;
        frame.len() >= OVERHEAD
            && frame[12..14] == [0x08, 0x00]
            && frame[ip + 9] == 17
            && frame[ip..].first().is_some_and(|v| v & 0x0f == 5)
            && frame[ip + 16..ip + 20] == self.own.octets()
            && frame[ip + 22..ip + 24] == self.port.to_be_bytes()
    }

    /// Takes a datagram [`Heartbeat::wants`]: checked, from the peer, into the node.
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        match self.payload(frame) {
            Ok(payload) => self.node.handle_datagram(now, payload),
            Err(NotTaken::NotPeer) => self.not_peer += 1,
            Err(NotTaken::Malformed) => self.malformed += 1,
        }
    }

    fn payload<'a>(&self, frame: &'a [u8]) -> Result<&'a [u8], NotTaken> {
        let eth = EthernetFrame::new_checked(frame).map_err(|_| NotTaken::Malformed)?;
        if eth.ethertype() != EthernetProtocol::Ipv4 {
            return Err(NotTaken::Malformed);
        }
        let ip = Ipv4Packet::new_checked(&frame[ETHERNET_HEADER_LEN..])
            .map_err(|_| NotTaken::Malformed)?;
        if ip.next_header() != IpProtocol::Udp
            || !ip.verify_checksum()
            || ip.more_frags()
            || ip.frag_offset() != 0
        {
            return Err(NotTaken::Malformed);
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let udp = UdpPacket::new_checked(ip.payload()).map_err(|_| NotTaken::Malformed)?;
        if !udp.verify_checksum(&src.into(), &dst.into()) {
            return Err(NotTaken::Malformed);
        }
        if src != self.peer {
            return Err(NotTaken::NotPeer);
        }
        Ok(udp.payload())
    }

    /// Moves the node's timers, sends its messages, applies its transitions.
    pub fn poll(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        self.node.handle_timeout(now);
        self.transmit(now, dp, out);
        while let Some(event) = self.node.poll_event() {
            match event {
                HbEvent::Acquired => self.set(now, dp, events, State::Master),
                HbEvent::Released => self.set(now, dp, events, State::Backup),
                HbEvent::PeerUp | HbEvent::PeerDead | HbEvent::LateHeartbeat => {}
            }
        }
    }

    fn set(&mut self, now: Instant, dp: &mut Dataplane, events: &mut EventQueue, state: State) {
        self.state = state;
        dp.set_active(now, state == State::Master);
        let state = vrrp_state(state);
        events.push(DirectorEvent::Vrrp { state });
    }

    fn transmit(&mut self, now: Instant, dp: &mut Dataplane, out: &mut Outbox) {
        let Some(mac) = dp.resolve(now, self.peer) else {
            self.unresolved += 1;
            return;
        };
        let (src_mac, own, peer, port) = (dp.mac(), self.own, self.peer, self.port);
        loop {
            let mut sent = false;
            let queued = out.push_with(Iface::OUTSIDE, |frame| {
                let len = self.node.poll_transmit(now, &mut frame[OVERHEAD..])?;
                sent = true;
                Some(emit_frame(frame, (src_mac, own), (mac, peer), port, len))
            });
            if !queued || !sent {
                break;
            }
        }
    }

    pub fn report(&self, dp: &Dataplane) -> HeartbeatReport {
        HeartbeatReport {
            holding: self.node.holding(),
            peer_alive: self.node.peer_alive(),
            counters: *self.node.counters(),
            wrong_source: self.not_peer,
            malformed_frames: self.malformed,
            unresolved: self.unresolved,
            garps: dp.counters().garps,
        }
    }

    /// Clean stop: the group is released and the peer told (`st=dead`).
    pub fn shutdown(
        &mut self,
        now: Instant,
        dp: &mut Dataplane,
        out: &mut Outbox,
        events: &mut EventQueue,
    ) {
        self.node.shutdown(now);
        self.poll(now, dp, out, events);
        self.state = State::Init;
        dp.set_active(now, false);
        events.push(DirectorEvent::Vrrp {
            state: VrrpState::Stopped,
        });
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.node.poll_timeout()
    }

    /// Master while holding the group.
    pub fn state(&self) -> State {
        self.state
    }
}

enum NotTaken {
    NotPeer,
    Malformed,
}

fn vrrp_state(state: State) -> VrrpState {
    super::failover::vrrp_state(state)
}

/// A UDP datagram `port` → `port` whose payload already sits at `buf[OVERHEAD..][..len]`.
fn emit_frame(
    buf: &mut [u8],
    src: (crate::wire::EthernetAddress, Ipv4Addr),
    dst: (crate::wire::EthernetAddress, Ipv4Addr),
    port: u16,
    len: usize,
) -> usize {
    let total = OVERHEAD + len;
    let repr = Ipv4Repr {
        src_addr: src.1,
        dst_addr: dst.1,
        next_header: IpProtocol::Udp,
        payload_len: UDP_HEADER_LEN + len,
        hop_limit: 64,
    };
    let mut ip = crate::wire::emit_ipv4_frame(&mut buf[..total], (src.0, dst.0), &repr);
    ip.fill_checksum();
    let mut udp = UdpPacket::new_unchecked(ip.payload_mut());
    udp.set_src_port(port);
    udp.set_dst_port(port);
    udp.set_len((UDP_HEADER_LEN + len) as u16);
    udp.fill_checksum(&src.1.into(), &dst.1.into());
    total
}
