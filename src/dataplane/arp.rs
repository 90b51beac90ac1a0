//! ARP in the data plane: answer requests for the VIPs and floating addresses (only while
//! active) by turning the request into a reply in place; learn neighbours from well-formed
//! requests and replies only, by Linux's rules (see [`screen`] and `Neighbours::learn`);
//! emit the requests that resolve real servers and the router. ARP about the director's own
//! address goes up to the host stack when one is attached (it answers for its address and
//! learns the neighbours it asked for); without one the data plane answers it too.

use super::counters::DropReason;
use super::neighbour::{Evidence, Learnt};
use super::{Dataplane, Event, Iface, Verdict};
use crate::wire::{
    ArpOperation, ArpPacket, ArpRepr, ETHERNET_HEADER_LEN, EthernetAddress, EthernetFrame,
    EthernetProtocol,
};
use std::net::Ipv4Addr;

/// Ethernet's minimum frame length without FCS; ARP frames are padded to it.
const MIN_FRAME_LEN: usize = 60;

impl Dataplane {
    pub(super) fn handle_arp(&mut self, now_ms: u64, iface: Iface, frame: &mut [u8]) -> Verdict {
        let eth_dst = EthernetFrame::new_unchecked(&*frame).dst_addr();
        let payload = &mut frame[ETHERNET_HEADER_LEN..];
        let Ok(packet) = ArpPacket::new_checked(&*payload) else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        // smoltcp's parse refuses anything but Ethernet/IPv4 with lengths 6 and 4.
        let Ok(ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: tha,
            target_protocol_addr: tpa,
        }) = ArpRepr::parse(&packet)
        else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        if let Err(reason) = screen(operation, sha, spa, tpa) {
            return Verdict::Dropped(reason);
        }
        let port = self.iface(iface);
        let (own, mac) = (port.addr, port.mac);
        if !spa.is_unspecified() {
            let evidence = if operation == ArpOperation::Reply && eth_dst == mac {
                Evidence::Confirmed
            } else {
                Evidence::Stale
            };
            // Linux's arp_is_garp: sender = target, and a reply also names itself as target.
            let gratuitous = spa == tpa && (operation == ArpOperation::Request || tha == sha);
            match self
                .neighbours
                .learn(spa, sha, now_ms, evidence, gratuitous)
            {
                Learnt::Resolved(nb) => {
                    let ip = self.neighbours.get(nb).ip;
                    self.push_event(Event::NeighbourResolved { ip, mac: sha });
                }
                Learnt::Refused => self.counters.neighbour_updates_refused += 1,
                Learnt::Untracked | Learnt::Unchanged | Learnt::Updated(_) => {}
            }
        }
        let port = self.iface(iface);
        // VIPs live on the outside; floating addresses on the interface that lists them.
        let floating =
            (iface == Iface::OUTSIDE && self.vips.contains(&tpa)) || port.floating.contains(&tpa);
        if self.host_stack && tpa == own && !floating {
            return Verdict::ToHost;
        }
        if operation == ArpOperation::Request && (tpa == own || floating) {
            if floating && !self.active {
                return Verdict::Dropped(DropReason::Inactive);
            }
            let reply = ArpRepr::EthernetIpv4 {
                operation: ArpOperation::Reply,
                source_hardware_addr: mac,
                source_protocol_addr: tpa,
                target_hardware_addr: sha,
                target_protocol_addr: spa,
            };
            reply.emit(&mut ArpPacket::new_unchecked(&mut *payload));
            let mut eth = EthernetFrame::new_unchecked(frame);
            eth.set_dst_addr(sha);
            eth.set_src_addr(mac);
            self.counters.arp_replies += 1;
            return Verdict::Send(iface);
        }
        if operation == ArpOperation::Reply && tpa == own {
            return Verdict::Consumed;
        }
        Verdict::Dropped(DropReason::ArpIgnored)
    }
}

/// Linux's arp_rcv/arp_process checks before an ARP packet may be answered or teach anything:
/// opcode request or reply only; a unicast sender MAC; a sender address that is unicast or
/// 0.0.0.0 (a duplicate-address probe, answered but never learnt); a target that is neither
/// multicast, broadcast nor loopback.
fn screen(
    operation: ArpOperation,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tpa: Ipv4Addr,
) -> Result<(), DropReason> {
    if !matches!(operation, ArpOperation::Request | ArpOperation::Reply) {
        return Err(DropReason::ArpBadOpcode);
    }
    let zero_net = spa.octets()[0] == 0 && !spa.is_unspecified();
    if !sha.is_unicast()
        || sha == EthernetAddress([0; 6])
        || spa.is_multicast()
        || spa.is_broadcast()
        || spa.is_loopback()
        || zero_net
    {
        return Err(DropReason::ArpBadSender);
    }
    if tpa.is_multicast() || tpa.is_broadcast() || tpa.is_loopback() {
        return Err(DropReason::ArpBadTarget);
    }
    Ok(())
}

/// Writes a gratuitous ARP (a broadcast request for `addr` from `addr` itself, as keepalived
/// sends them) announcing that `addr` is at `mac`; returns its length.
pub(super) fn emit_gratuitous(mac: EthernetAddress, addr: Ipv4Addr, buf: &mut [u8]) -> usize {
    emit_request(mac, addr, addr, buf)
}

/// Writes a broadcast ARP request for `target` from (`mac`, `addr`) into `buf`; returns its length.
pub(super) fn emit_request(
    mac: EthernetAddress,
    addr: Ipv4Addr,
    target: Ipv4Addr,
    buf: &mut [u8],
) -> usize {
    let frame = &mut buf[..MIN_FRAME_LEN];
    frame.fill(0);
    let mut eth = EthernetFrame::new_unchecked(&mut *frame);
    eth.set_dst_addr(EthernetAddress::BROADCAST);
    eth.set_src_addr(mac);
    eth.set_ethertype(EthernetProtocol::Arp);
    ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: mac,
        source_protocol_addr: addr,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    }
    .emit(&mut ArpPacket::new_unchecked(eth.payload_mut()));
    MIN_FRAME_LEN
}
