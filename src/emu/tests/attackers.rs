//! The hostile hosts: the VRRP spoofer's adverts (fields, checksums, timing, count) and the
//! SYN flooder's rate, bounds, sources and report.

use crate::emu::Node;
use crate::emu::flooder::{Flooder, FlooderConfig};
use crate::emu::spoofer::Spoofer;
use crate::spoof::SpoofVrrpArgs;
use crate::wire::build::arp_request;
use crate::wire::vrrp::{self, VrrpPacket};
use crate::wire::{EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet, TcpPacket};
use smoltcp::time::{Duration, Instant};
use std::net::{Ipv4Addr, SocketAddrV4};

const MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 9]);
const D1: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);

/// Runs `node`'s timers up to `end`: every frame it sends, with its instant.
fn run(node: &mut impl Node, end: Instant) -> Vec<(Instant, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 1514];
    while let Some(t) = node.poll_timeout().filter(|t| *t <= end) {
        node.handle_timeout(t);
        while let Some((port, len)) = node.poll_transmit(t, &mut buf) {
            assert_eq!(port, 0);
            out.push((t, buf[..len].to_vec()));
        }
    }
    out
}

#[test]
fn the_spoofer_sends_count_rounds_of_valid_adverts_an_interval_apart() {
    let args = SpoofVrrpArgs {
        vrid: 51,
        priority: 255,
        vip: vec![Ipv4Addr::new(198, 18, 0, 100)],
        src: Ipv4Addr::new(198, 18, 0, 9),
        to: vec![vrrp::GROUP, Ipv4Addr::new(198, 18, 0, 2)],
        interval: std::time::Duration::from_millis(100),
        count: 5,
        advert_cs: 10,
    };
    let macs = |ip| (ip == Ipv4Addr::new(198, 18, 0, 2)).then_some(D1);
    let mut s = Spoofer::new(&args, MAC, Instant::from_secs(1), macs).unwrap();
    let out = run(&mut s, Instant::from_secs(60));
    assert_eq!((out.len(), s.sent), (10, 10));
    for (i, (at, f)) in out.iter().enumerate() {
        assert_eq!(*at, Instant::from_millis(1_000 + 100 * (i as i64 / 2)));
        let eth = EthernetFrame::new_checked(&f[..]).unwrap();
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        let (dst, dst_mac) = [(vrrp::GROUP, vrrp::GROUP_MAC), (args.to[1], D1)][i % 2];
        assert_eq!((eth.src_addr(), eth.dst_addr()), (MAC, dst_mac));
        assert!(ip.verify_checksum());
        assert_eq!(
            (ip.src_addr(), ip.dst_addr(), ip.hop_limit()),
            (args.src, dst, 255)
        );
        assert_eq!(ip.next_header(), IpProtocol::Unknown(112));
        let v = VrrpPacket::new_checked(ip.payload()).unwrap();
        assert!(v.verify_checksum(args.src, dst));
        assert_eq!((v.vrid(), v.priority(), v.max_advert_int()), (51, 255, 10));
        assert_eq!(v.addresses().collect::<Vec<_>>(), args.vip);
    }
    // It answers ARP for its address like any host.
    s.handle_frame(
        Instant::from_secs(61),
        0,
        &mut arp_request(D1, args.to[1], args.src),
    );
    let mut buf = [0u8; 64];
    assert!(s.poll_transmit(Instant::from_secs(61), &mut buf).is_some());
    // Bounds are the real command's.
    let too_many = SpoofVrrpArgs { count: 0, ..args };
    assert!(Spoofer::new(&too_many, MAC, Instant::ZERO, macs).is_err());
}

fn flood(rate: f64, max_packets: u64) -> FlooderConfig {
    FlooderConfig {
        load: "flood".into(),
        mac: MAC,
        addr: Ipv4Addr::new(198, 18, 3, 3),
        gateway_mac: D1,
        first: Ipv4Addr::new(198, 19, 128, 1),
        count: (1 << 15) - 2,
        target: SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 100), 80),
        rate,
        start: Instant::from_secs(2),
        duration: Duration::from_secs(2),
        max_packets,
        interval: Duration::from_secs(1),
        seed: 7,
    }
}

#[test]
fn the_flooder_keeps_its_rate_within_its_time_and_count() {
    let mut f = Flooder::new(flood(1_000.0, 1_000_000));
    let out = run(&mut f, Instant::from_secs(60));
    // SYN k at start + k ms, before start + 2 s.
    assert_eq!(out.len(), 1_999);
    assert_eq!(out[0].0, Instant::from_millis(2_001));
    assert_eq!(out[1_998].0, Instant::from_millis(3_999));
    for (_, frame) in &out {
        let eth = EthernetFrame::new_checked(&frame[..]).unwrap();
        assert_eq!((eth.src_addr(), eth.dst_addr()), (MAC, D1));
        let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(
            u32::from(ip.src_addr()) >> 15,
            u32::from(Ipv4Addr::new(198, 19, 128, 0)) >> 15
        );
        let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
        assert!(tcp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
        assert!(tcp.syn() && !tcp.ack() && tcp.dst_port() == 80);
    }
    let report = f.report(5).flood.unwrap();
    assert_eq!(
        (report.sent, report.per_interval),
        (1_999, vec![999, 1_000])
    );
    assert_eq!(report.elapsed_ms, 2_000);
    // Bounded by count: 500 SYNs, the last at 0.5 s.
    let mut f = Flooder::new(flood(1_000.0, 500));
    assert_eq!(run(&mut f, Instant::from_secs(60)).len(), 500);
    let report = f.report(5);
    assert_eq!(report.intervals.len(), 2);
    let flood = report.flood.unwrap();
    assert_eq!((flood.sent, flood.elapsed_ms), (500, 500));
    assert!((flood.rate_achieved - 1_000.0).abs() < 1e-6);
}
