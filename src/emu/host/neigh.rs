//! What a simulated host's neighbour cache needs beyond smoltcp 0.14: Linux's handling of
//! gratuitous ARP. smoltcp learns a neighbour only from an ARP packet whose target is one of
//! the interface's addresses (`process_arp` in `iface/interface/ipv4.rs`), so it ignores a
//! gratuitous ARP (sender = target = the announced address) and keeps sending to the old MAC
//! after a VRRP takeover. Linux (`arp_process` in `net/ipv4/arp.c`) updates an existing entry
//! from it, whatever the entry's lock time (`is_garp`), and with `arp_accept=0` (the default)
//! creates none.
//!
//! So this module notes which addresses smoltcp has learned (the senders of the ARP packets
//! it takes), and turns a gratuitous ARP for one of them into the ARP reply to this host that
//! smoltcp does learn from. The reply is built in a buffer kept here: nothing is allocated.

use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
    EthernetRepr, Ipv4Address,
};

/// Most neighbours noted; past it the oldest is forgotten (smoltcp's cache holds 8).
const KNOWN: usize = 64;

/// Length of an Ethernet frame carrying an IPv4 ARP packet.
const ARP_FRAME: usize = 14 + 28;

/// The neighbours smoltcp has learned, and the buffer of a rewritten gratuitous ARP.
#[derive(Debug)]
pub struct Neighbours {
    known: Vec<Ipv4Address>,
    frame: [u8; ARP_FRAME],
}

impl Default for Neighbours {
    fn default() -> Self {
        Self {
            known: Vec::with_capacity(KNOWN),
            frame: [0; ARP_FRAME],
        }
    }
}

impl Neighbours {
    /// Notes the sender of an ARP packet smoltcp takes (one aimed at `own`).
    pub fn learn(&mut self, repr: &ArpRepr, own: Ipv4Address) {
        let ArpRepr::EthernetIpv4 {
            source_protocol_addr: sender,
            target_protocol_addr: target,
            ..
        } = *repr
        else {
            return;
        };
        if target != own || sender == own || self.known.contains(&sender) {
            return;
        }
        if self.known.len() == KNOWN {
            self.known.remove(0);
        }
        self.known.push(sender);
    }

    /// If `repr` is a gratuitous ARP for a neighbour smoltcp knows, the ARP reply from that
    /// neighbour to this host (`mac`, `own`) that makes smoltcp update its entry.
    pub fn gratuitous(
        &mut self,
        repr: &ArpRepr,
        mac: EthernetAddress,
        own: Ipv4Address,
    ) -> Option<&[u8]> {
        let ArpRepr::EthernetIpv4 {
            operation,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_protocol_addr: tpa,
            ..
        } = *repr
        else {
            return None;
        };
        let is_garp =
            spa == tpa && matches!(operation, ArpOperation::Request | ArpOperation::Reply);
        if !is_garp || spa == own || !sha.is_unicast() || !self.known.contains(&spa) {
            return None;
        }
        let reply = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: sha,
            source_protocol_addr: spa,
            target_hardware_addr: mac,
            target_protocol_addr: own,
        };
        let eth = EthernetRepr {
            src_addr: sha,
            dst_addr: mac,
            ethertype: EthernetProtocol::Arp,
        };
        let mut frame = EthernetFrame::new_unchecked(&mut self.frame[..]);
        eth.emit(&mut frame);
        reply.emit(&mut ArpPacket::new_unchecked(frame.payload_mut()));
        Some(&self.frame)
    }
}
