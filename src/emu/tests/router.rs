//! The router node driven by hand: forwarding both ways, ARP for its addresses, bad frames,
//! and the neighbour cache's Linux rules (queue, retries, gratuitous ARP, locktime, re-probe).

use crate::emu::Node;
use crate::emu::arp::{self, Arp};
use crate::emu::neigh::{NeighParams, State};
use crate::emu::router::{Route, Router, RouterConfig, RouterPort};
use crate::wire::build::{Endpoints, Flags, arp_reply, arp_request, tcp_frame};
use crate::wire::{EthernetAddress, EthernetFrame, Ipv4Packet, MAX_FRAME_LEN, TcpPacket};
use smoltcp::time::Instant;
use std::net::Ipv4Addr;

pub(super) const R0: EthernetAddress = EthernetAddress([0x02, 0x72, 0x74, 0, 0, 0]);
pub(super) const R1: EthernetAddress = EthernetAddress([0x02, 0x72, 0x74, 0, 0, 1]);
pub(super) const RT_LAN: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
const RT_CL: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 1);
const CLIENTS: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 2);
pub(super) const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const SRC: Ipv4Addr = Ipv4Addr::new(198, 19, 0, 5);
pub(super) const CL_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 3, 2]);

pub(super) fn mac(n: u8) -> EthernetAddress {
    EthernetAddress([0x02, 0, 0, 0, 0, n])
}

pub(super) fn ms(n: i64) -> Instant {
    Instant::from_millis(n)
}

pub(super) fn router() -> Router {
    let port = |mac, addr| RouterPort {
        mac,
        addr,
        prefix_len: 24,
    };
    Router::new(&RouterConfig {
        ports: [port(R0, RT_LAN), port(R1, RT_CL)],
        routes: vec![Route::prefix(Ipv4Addr::new(198, 19, 0, 0), 16, CLIENTS)],
        neigh: NeighParams::default(),
        neighbours: 8,
        seed: 1,
    })
    .unwrap()
}

/// A SYN from the client side to the VIP, source port `tag`, addressed to the router.
pub(super) fn to_vip(tag: u16) -> Vec<u8> {
    let ends = Endpoints {
        src_mac: CL_MAC,
        dst_mac: R1,
        src: SRC,
        src_port: tag,
        dst: VIP,
        dst_port: 80,
    };
    tcp_frame(ends, Flags::SYN, b"")
}

/// Everything the router has to send now.
pub(super) fn drain(r: &mut Router, now: Instant) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; MAX_FRAME_LEN];
    while let Some((port, len)) = r.poll_transmit(now, &mut buf) {
        out.push((port, buf[..len].to_vec()));
    }
    out
}

/// Runs the router's timers from `from` to `to`, collecting what it sends.
pub(super) fn run(r: &mut Router, to: Instant) -> Vec<(Instant, usize, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(t) = r.poll_timeout().filter(|t| *t <= to) {
        r.handle_timeout(t);
        out.extend(drain(r, t).into_iter().map(|(p, f)| (t, p, f)));
    }
    out
}

/// The TCP source port of a forwarded frame, after checking its IPv4 and TCP checksums,
/// its TTL (63) and its MACs.
pub(super) fn check_forwarded(frame: &[u8], src: EthernetAddress, dst: EthernetAddress) -> u16 {
    let eth = EthernetFrame::new_checked(frame).unwrap();
    assert_eq!((eth.src_addr(), eth.dst_addr()), (src, dst));
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(ip.verify_checksum(), "IPv4 header checksum");
    assert_eq!(ip.hop_limit(), 63);
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
    tcp.src_port()
}

/// The ARP request in `frame`.
pub(super) fn request_for(frame: &[u8]) -> Option<Arp> {
    arp::parse(frame).filter(|a| !a.reply)
}

#[test]
fn forwards_both_ways_resolving_each_next_hop_once() {
    let mut r = router();
    // Client to VIP: queued while the router asks for the VIP on the LAN.
    assert_eq!(r.handle_frame(ms(0), 1, &mut to_vip(1)), None);
    let out = drain(&mut r, ms(0));
    assert_eq!(out.len(), 1);
    let ask = request_for(&out[0].1).unwrap();
    assert_eq!(
        (out[0].0, ask.eth_dst, ask.sip, ask.tip),
        (0, EthernetAddress::BROADCAST, RT_LAN, VIP)
    );
    let mut reply = arp_reply(mac(2), VIP, R0, RT_LAN);
    assert_eq!(r.handle_frame(ms(1), 0, &mut reply), None);
    let out = drain(&mut r, ms(1));
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, check_forwarded(&out[0].1, R0, mac(2))), (0, 1));
    // The next one goes at once, rewritten in place.
    let mut f = to_vip(2);
    assert_eq!(r.handle_frame(ms(2), 1, &mut f), Some(0));
    assert_eq!(check_forwarded(&f, R0, mac(2)), 2);
    // Back: VIP to the client range, via 198.18.3.2 on port 1.
    let ends = Endpoints {
        src_mac: mac(2),
        dst_mac: R0,
        src: VIP,
        src_port: 80,
        dst: SRC,
        dst_port: 1,
    };
    let mut back = tcp_frame(ends, Flags::ACK, b"hi");
    assert_eq!(r.handle_frame(ms(3), 0, &mut back.clone()), None);
    let out = drain(&mut r, ms(3));
    let ask = request_for(&out[0].1).unwrap();
    assert_eq!((out[0].0, ask.sip, ask.tip), (1, RT_CL, CLIENTS));
    r.handle_frame(ms(4), 1, &mut arp_reply(CL_MAC, CLIENTS, R1, RT_CL));
    let out = drain(&mut r, ms(4));
    assert_eq!((out[0].0, check_forwarded(&out[0].1, R1, CL_MAC)), (1, 80));
    assert_eq!(r.handle_frame(ms(5), 0, &mut back), Some(1));
    assert_eq!(r.stats.forwarded, 4);
    assert_eq!((r.links[0].rx_packets, r.links[0].tx_packets), (3, 3));
    assert_eq!((r.links[1].rx_packets, r.links[1].tx_packets), (3, 3));
}

#[test]
fn answers_arp_for_its_addresses_and_drops_bad_frames_counted() {
    let mut r = router();
    let mut ask = arp_request(mac(9), Ipv4Addr::new(198, 18, 0, 9), RT_LAN);
    r.handle_frame(ms(0), 0, &mut ask);
    let out = drain(&mut r, ms(0));
    let reply = arp::parse(&out[0].1).unwrap();
    assert!(reply.reply);
    assert_eq!((reply.eth_dst, reply.sha, reply.sip), (mac(9), R0, RT_LAN));
    // The asker was learned (STALE), as Linux does.
    assert_eq!(
        r.neigh.get(0, Ipv4Addr::new(198, 18, 0, 9)).unwrap().0,
        State::Stale
    );
    // Not for it: no answer.
    r.handle_frame(
        ms(0),
        0,
        &mut arp_request(mac(9), Ipv4Addr::new(198, 18, 0, 9), VIP),
    );
    assert!(drain(&mut r, ms(0)).is_empty());
    let mut ttl1 = to_vip(1);
    ttl1[14 + 8] = 1;
    let sum = Ipv4Packet::new_checked(&ttl1[14..]).unwrap().checksum();
    let sum = crate::wire::checksum::update_word(sum, 0x4006, 0x0106);
    ttl1[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
    assert!(
        Ipv4Packet::new_checked(&ttl1[14..])
            .unwrap()
            .verify_checksum()
    );
    assert_eq!(r.handle_frame(ms(1), 1, &mut ttl1), None);
    let mut bad_sum = to_vip(2);
    bad_sum[14 + 10] ^= 0xff;
    assert_eq!(r.handle_frame(ms(1), 1, &mut bad_sum), None);
    for bad in [
        &mut to_vip(3)[..20],
        &mut [0u8; 3][..],
        &mut to_vip(4)[..40],
    ] {
        assert_eq!(r.handle_frame(ms(1), 1, bad), None);
    }
    let mut nowhere = to_vip(5);
    nowhere[14 + 16] = 10;
    let sum = crate::wire::checksum::update_word(
        u16::from_be_bytes([nowhere[14 + 10], nowhere[14 + 11]]),
        u16::from_be_bytes([198, 18]),
        u16::from_be_bytes([10, 18]),
    );
    nowhere[14 + 10..14 + 12].copy_from_slice(&sum.to_be_bytes());
    assert_eq!(r.handle_frame(ms(1), 1, &mut nowhere), None);
    assert_eq!(r.handle_frame(ms(1), 7, &mut to_vip(6)), None);
    assert!(drain(&mut r, ms(1)).is_empty());
    let s = r.stats;
    assert_eq!(
        (s.ttl_expired, s.malformed, s.no_route, s.forwarded),
        (1, 5, 1, 0)
    );
}

#[test]
fn queues_frames_then_sends_them_in_order_once_resolved() {
    let mut r = router();
    for tag in 1..=5 {
        r.handle_frame(ms(tag.into()), 1, &mut to_vip(tag));
    }
    // One request (the entry is INCOMPLETE after the first frame); all five wait within
    // unres_qlen_bytes.
    assert_eq!(drain(&mut r, ms(5)).len(), 1);
    assert_eq!(r.neigh.stats.unres_discards, 0);
    r.handle_frame(ms(6), 0, &mut arp_reply(mac(2), VIP, R0, RT_LAN));
    let tags: Vec<u16> = drain(&mut r, ms(6))
        .iter()
        .map(|(port, f)| {
            assert_eq!(*port, 0);
            check_forwarded(f, R0, mac(2))
        })
        .collect();
    assert_eq!(tags, [1, 2, 3, 4, 5]);
    assert_eq!(r.neigh.get(0, VIP), Some((State::Reachable, mac(2))));
}
