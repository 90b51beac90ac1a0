//! ICMP errors about balanced connections, as IPVS handles them: an error from a real server
//! about a NAT connection (port unreachable, fragmentation needed, ...) is translated back to
//! the VIP, quote included, and routed to the client; an error from outside about a reply we
//! sent (e.g. fragmentation needed on the client's path) goes to the connection's real server,
//! translated for NAT, as is for direct routing. Anything else ICMP is not ours to forward.

use super::conntrack::{ConnKey, flags};
use super::counters::DropReason;
use super::settings::Forwarding;
use super::{Dataplane, Verdict};
use crate::wire::icmp_error;
use crate::wire::{ETHERNET_HEADER_LEN, Ipv4Packet, checksum};

impl Dataplane {
    /// An ICMP packet that is not for the director itself; `to_vip` when addressed to a VIP.
    pub(super) fn handle_icmp_error(
        &mut self,
        now_ms: u64,
        frame: &mut [u8],
        to_vip: bool,
    ) -> Verdict {
        let ip = &frame[ETHERNET_HEADER_LEN..];
        let Ok(packet) = Ipv4Packet::new_checked(ip) else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        let is_error = packet
            .payload()
            .first()
            .is_some_and(|t| icmp_error::is_icmp_error(*t));
        if !is_error {
            return Verdict::Dropped(if to_vip {
                DropReason::NoService
            } else {
                DropReason::NotForUs
            });
        }
        let Ok(inner) = icmp_error::inner_flow(ip) else {
            return Verdict::Dropped(DropReason::Malformed);
        };
        // The quoted datagram is one that was sent from our side, so its source is the VIP's
        // (or the real server's) end of the connection, its destination the client's.
        let quoted = ConnKey {
            protocol: inner.protocol.into(),
            client: inner.dst,
            client_port: inner.dst_port,
            vip: inner.src,
            vport: inner.src_port,
        };
        if to_vip {
            self.icmp_towards_server(now_ms, frame, &quoted)
        } else {
            self.icmp_towards_client(now_ms, frame, &quoted)
        }
    }

    /// From outside, to the VIP, quoting a packet we sent: VIP:vport → client:cport.
    fn icmp_towards_server(&mut self, now_ms: u64, frame: &mut [u8], key: &ConnKey) -> Verdict {
        let Some(idx) = self.conns.find(key) else {
            return Verdict::Dropped(DropReason::NoConnection);
        };
        let conn = *self.conns.get(idx);
        let svc = &self.services[conn.service as usize];
        let view = svc.views[conn.server as usize];
        let neighbour = svc.servers[conn.server as usize].neighbour;
        if svc.forwarding == Forwarding::Nat {
            let ip = &mut frame[ETHERNET_HEADER_LEN..];
            if checksum::decrement_ttl(ip) != Ok(true) {
                return Verdict::Dropped(DropReason::TtlExceeded);
            }
            let translated = icmp_error::rewrite_inner_src(ip, view.addr, view.port).is_ok()
                && checksum::rewrite_ip_dst(ip, view.addr).is_ok();
            if !translated {
                return Verdict::Dropped(DropReason::Malformed);
            }
        }
        self.send_to(now_ms, frame, neighbour)
    }

    /// From a real server, to a client, quoting our translated request: client → RIP:rport.
    fn icmp_towards_client(&mut self, now_ms: u64, frame: &mut [u8], reply: &ConnKey) -> Verdict {
        let Some(idx) = self.conns.find_reply(reply) else {
            return Verdict::Dropped(DropReason::NotForUs);
        };
        let conn = *self.conns.get(idx);
        debug_assert!(conn.flags & flags::NAT != 0);
        let ip = &mut frame[ETHERNET_HEADER_LEN..];
        if checksum::decrement_ttl(ip) != Ok(true) {
            return Verdict::Dropped(DropReason::TtlExceeded);
        }
        let translated = icmp_error::rewrite_inner_dst(ip, conn.key.vip, conn.key.vport).is_ok()
            && checksum::rewrite_ip_src(ip, conn.key.vip).is_ok();
        if !translated {
            return Verdict::Dropped(DropReason::Malformed);
        }
        let Some(next_hop) = self.next_hop(conn.key.client) else {
            return Verdict::Dropped(DropReason::NoRoute);
        };
        self.send_to(now_ms, frame, next_hop)
    }
}
