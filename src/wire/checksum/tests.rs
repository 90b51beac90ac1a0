//! Fixed bytes computed outside the crate, properties against full recomputes by smoltcp, the
//! partial convention against a simulated device, and no panics on any input.
//!
//! The builders and checkers here are shared with `icmp_error`'s tests.

use super::*;
use crate::wire::icmp_error;
use proptest::collection::vec;
use proptest::prelude::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{IPV4_HEADER_LEN, IpAddress, TcpControl, TcpRepr, TcpSeqNumber, UdpRepr};

// Fixtures computed with an independent implementation (a few lines of Python `struct`): a TCP
// SYN with an MSS option and a UDP datagram with an odd-length payload, sent by the client
// 10.0.0.1 to the VIP 192.168.1.10, and the same packets after DNAT to a real server.

/// 10.0.0.1:40000 -> 192.168.1.10:80, SYN, MSS 1460.
const SYN_TO_VIP: [u8; 44] = [
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x6f, 0x18, 0x0a, 0x00, 0x00, 0x01,
    0xc0, 0xa8, 0x01, 0x0a, 0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x02, 0xfa, 0xf0, 0x30, 0xec, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
];
/// The SYN after DNAT to 10.1.0.11:8080.
const SYN_TO_RS: [u8; 44] = [
    0x45, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x40, 0x00, 0x40, 0x06, 0x26, 0xbf, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x01, 0x00, 0x0b, 0x9c, 0x40, 0x1f, 0x90, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
    0x60, 0x02, 0xfa, 0xf0, 0xc9, 0x52, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
];
/// 10.0.0.1:5353 -> 192.168.1.10:53, payload "tapvs says hi" (13 bytes).
const UDP_TO_VIP: [u8; 41] = [
    0x45, 0x00, 0x00, 0x29, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x6f, 0x10, 0x0a, 0x00, 0x00, 0x01,
    0xc0, 0xa8, 0x01, 0x0a, 0x14, 0xe9, 0x00, 0x35, 0x00, 0x15, 0x50, 0xbd, 0x74, 0x61, 0x70, 0x76,
    0x73, 0x20, 0x73, 0x61, 0x79, 0x73, 0x20, 0x68, 0x69,
];
/// The datagram after DNAT to 10.1.0.12:5300.
const UDP_TO_RS: [u8; 41] = [
    0x45, 0x00, 0x00, 0x29, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0x26, 0xb6, 0x0a, 0x00, 0x00, 0x01,
    0x0a, 0x01, 0x00, 0x0c, 0x14, 0xe9, 0x14, 0xb4, 0x00, 0x15, 0xf3, 0xe3, 0x74, 0x61, 0x70, 0x76,
    0x73, 0x20, 0x73, 0x61, 0x79, 0x73, 0x20, 0x68, 0x69,
];
const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const RS1: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 11);
const RS2: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 12);

/// An RFC 1071 sum written for the tests alone: big-endian words, odd byte padded with zero,
/// folded, not complemented.
pub(crate) fn ones_sum(bytes: &[u8]) -> u16 {
    let mut sum: u64 = 0;
    for pair in bytes.chunks(2) {
        let low = pair.get(1).copied().unwrap_or(0);
        sum += u64::from(u16::from_be_bytes([pair[0], low]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The folded, non-complemented pseudo-header sum Linux leaves in a `CHECKSUM_PARTIAL` field.
fn pseudo_sum(packet: &[u8]) -> u16 {
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    let len = ip.payload().len() as u16;
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&ip.src_addr().octets());
    pseudo[4..8].copy_from_slice(&ip.dst_addr().octets());
    pseudo[9] = u8::from(ip.next_header());
    pseudo[10..].copy_from_slice(&len.to_be_bytes());
    ones_sum(&pseudo)
}

fn check_at(packet: &[u8]) -> usize {
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    usize::from(ip.header_len()) + check_offset(ip.next_header()).unwrap()
}

fn transport_field(packet: &[u8]) -> u16 {
    get_u16(packet, check_at(packet)).unwrap()
}

pub(crate) fn set_transport_field(packet: &mut [u8], value: u16) {
    let at = check_at(packet);
    packet[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Turns a complete packet into what a TAP with offloads delivers: the transport checksum field
/// holds the pseudo-header sum.
fn make_partial(packet: &mut [u8]) {
    set_transport_field(packet, pseudo_sum(packet));
}

/// What the device (or the kernel's software fallback) does with a partial checksum: sums the
/// transport header and payload with the field as it is, folds and complements; UDP sends a
/// computed 0 as 0xffff (RFC 768).
fn device_complete(packet: &mut [u8]) {
    let ip = Ipv4Packet::new_checked(&*packet).unwrap();
    let udp = ip.next_header() == IpProtocol::Udp;
    let check = match !ones_sum(ip.payload()) {
        0 if udp => 0xffff,
        check => check,
    };
    set_transport_field(packet, check);
}

/// A test packet's fields.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) udp: bool,
    pub(crate) src: Ipv4Addr,
    pub(crate) src_port: u16,
    pub(crate) dst: Ipv4Addr,
    pub(crate) dst_port: u16,
    pub(crate) ttl: u8,
    pub(crate) ident: u16,
    /// IPv4 options, a multiple of 4 bytes, at most 40.
    pub(crate) ip_options: Vec<u8>,
    pub(crate) mss: Option<u16>,
    pub(crate) payload: Vec<u8>,
}

/// An IPv4 + TCP/UDP packet with every checksum filled by smoltcp.
pub(crate) fn build(spec: &Spec) -> Vec<u8> {
    let caps = ChecksumCapabilities::default();
    let (src, dst) = (IpAddress::Ipv4(spec.src), IpAddress::Ipv4(spec.dst));
    let tcp = TcpRepr {
        src_port: spec.src_port,
        dst_port: spec.dst_port,
        control: TcpControl::Psh,
        seq_number: TcpSeqNumber(i32::from(spec.ident) << 8),
        ack_number: Some(TcpSeqNumber(7)),
        window_len: 1024,
        window_scale: None,
        max_seg_size: spec.mss,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &spec.payload,
    };
    let header_len = IPV4_HEADER_LEN + spec.ip_options.len();
    let transport_len = if spec.udp {
        8 + spec.payload.len()
    } else {
        tcp.buffer_len()
    };
    let mut buf = vec![0u8; header_len + transport_len];
    buf[IPV4_HEADER_LEN..header_len].copy_from_slice(&spec.ip_options);
    let mut ip = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.set_version(4);
    ip.set_header_len(header_len as u8);
    ip.set_total_len((header_len + transport_len) as u16);
    ip.set_ident(spec.ident);
    ip.set_dont_frag(true);
    ip.set_hop_limit(spec.ttl);
    ip.set_src_addr(spec.src);
    ip.set_dst_addr(spec.dst);
    if spec.udp {
        ip.set_next_header(IpProtocol::Udp);
        let udp = UdpRepr {
            src_port: spec.src_port,
            dst_port: spec.dst_port,
        };
        let mut dgram = UdpPacket::new_unchecked(ip.payload_mut());
        let payload = &spec.payload;
        udp.emit(
            &mut dgram,
            &src,
            &dst,
            payload.len(),
            |b| b.copy_from_slice(payload),
            &caps,
        );
    } else {
        ip.set_next_header(IpProtocol::Tcp);
        tcp.emit(
            &mut TcpPacket::new_unchecked(ip.payload_mut()),
            &src,
            &dst,
            &caps,
        );
    }
    ip.fill_checksum();
    buf
}

/// Sets an address and port without touching any checksum.
pub(crate) fn set_fields(packet: &mut [u8], end: End, addr: Ipv4Addr, port: u16) {
    let mut ip = Ipv4Packet::new_checked(packet).unwrap();
    match end {
        End::Src => ip.set_src_addr(addr),
        End::Dst => ip.set_dst_addr(addr),
    }
    let seg = ip.payload_mut();
    let at = match end {
        End::Src => 0,
        End::Dst => 2,
    };
    seg[at..at + 2].copy_from_slice(&port.to_be_bytes());
}

/// Recomputes every checksum from scratch with smoltcp; `udp_checksum: false` writes UDP's
/// "no checksum" 0 instead.
pub(crate) fn recompute(packet: &mut [u8], udp_checksum: bool) {
    let mut ip = Ipv4Packet::new_checked(packet).unwrap();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    match ip.next_header() {
        IpProtocol::Tcp => TcpPacket::new_checked(ip.payload_mut())
            .unwrap()
            .fill_checksum(&src, &dst),
        IpProtocol::Udp => {
            let mut udp = UdpPacket::new_checked(ip.payload_mut()).unwrap();
            if udp_checksum {
                udp.fill_checksum(&src, &dst);
            } else {
                udp.set_checksum(0);
            }
        }
        _ => {}
    }
    ip.fill_checksum();
}

/// Whether smoltcp verifies the IPv4 and transport checksums.
pub(crate) fn verifies(packet: &[u8]) -> bool {
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    let (src, dst) = (
        IpAddress::Ipv4(ip.src_addr()),
        IpAddress::Ipv4(ip.dst_addr()),
    );
    ip.verify_checksum()
        && match ip.next_header() {
            IpProtocol::Tcp => TcpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&src, &dst),
            IpProtocol::Udp => UdpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum(&src, &dst),
            _ => false,
        }
}

pub(crate) fn rewrite_full(
    packet: &mut [u8],
    end: End,
    addr: Ipv4Addr,
    port: u16,
) -> Result<(), RewriteError> {
    match end {
        End::Src => rewrite_src(packet, addr, port),
        End::Dst => rewrite_dst(packet, addr, port),
    }
}

fn rewrite_partial(
    packet: &mut [u8],
    end: End,
    addr: Ipv4Addr,
    port: u16,
) -> Result<(), RewriteError> {
    match end {
        End::Src => rewrite_src_partial(packet, addr, port),
        End::Dst => rewrite_dst_partial(packet, addr, port),
    }
}

/// Calls every rewrite of `wire::checksum` and `wire::icmp_error` on a copy of `bytes`; none may
/// panic, and each that fails must leave its copy unchanged.
pub(crate) fn exercise(bytes: &[u8], addr: Ipv4Addr, port: u16) {
    type Rewrite = fn(&mut [u8], Ipv4Addr, u16) -> Result<(), RewriteError>;
    let rewrites: [Rewrite; 6] = [
        rewrite_src,
        rewrite_dst,
        rewrite_src_partial,
        rewrite_dst_partial,
        icmp_error::rewrite_inner_src,
        icmp_error::rewrite_inner_dst,
    ];
    for rewrite in rewrites {
        let mut copy = bytes.to_vec();
        if rewrite(&mut copy, addr, port).is_err() {
            assert_eq!(copy, bytes);
        }
    }
    type AddrOnly = fn(&mut [u8], Ipv4Addr) -> Result<(), RewriteError>;
    for rewrite in [rewrite_ip_src as AddrOnly, rewrite_ip_dst] {
        let mut copy = bytes.to_vec();
        if rewrite(&mut copy, addr).is_err() {
            assert_eq!(copy, bytes);
        }
    }
    let mut copy = bytes.to_vec();
    if decrement_ttl(&mut copy).is_err() {
        assert_eq!(copy, bytes);
    }
    // Whatever header length and protocol a caller passes, even wrong ones.
    let ihl = usize::from(bytes.first().map_or(0, |b| b & 0x0f)) * 4;
    for proto in [IpProtocol::Tcp, IpProtocol::Udp, IpProtocol::Icmp] {
        for end in [End::Src, End::Dst] {
            for mode in [Mode::Full, Mode::Partial] {
                let mut copy = bytes.to_vec();
                if rewrite_routed(&mut copy, (ihl, proto), (end, addr, port), mode).is_err() {
                    assert_eq!(copy, bytes);
                }
            }
        }
    }
    let _ = icmp_error::inner_flow(bytes);
}

// ---- RFC 1624 arithmetic ----

#[test]
fn rfc1624_example_gives_positive_zero() {
    // RFC 1624 section 5: the sum of the other header words is 0xcd7a and m changes from 0x5555
    // to 0x3285. Eqn. 3 gives 0x0000 (what a full recompute gives); RFC 1141's eqn. 2 gave 0xffff.
    assert_eq!(update_word(0xdd2f, 0x5555, 0x3285), 0x0000);
    // The same change to a non-complemented sum: 0xcd7a + 0x5555 = 0x22d0 -> 0xcd7a + 0x3285.
    assert_eq!(update_sum_word(0x22d0, 0x5555, 0x3285), 0xffff);
    // Unchanged words leave the field alone, even the other zero.
    assert_eq!(update_word(0xffff, 0x1234, 0x1234), 0xffff);
}

#[test]
fn address_update_is_two_word_updates() {
    let (old, new) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(172, 16, 254, 3));
    for check in [0x0000, 0x0001, 0x1234, 0xfffe, 0xffff] {
        let by_words = update_word(update_word(check, 0x0a00, 0xac10), 0x0001, 0xfe03);
        assert_eq!(update_addr(check, old, new), by_words);
        let by_words = update_sum_word(update_sum_word(check, 0x0a00, 0xac10), 0x0001, 0xfe03);
        assert_eq!(update_sum_addr(check, old, new), by_words);
    }
}

// ---- fixed bytes ----

#[test]
fn fixtures_verify_with_the_test_sum() {
    for packet in [&SYN_TO_VIP[..], &SYN_TO_RS, &UDP_TO_VIP, &UDP_TO_RS] {
        assert_eq!(ones_sum(&packet[..20]), 0xffff);
        assert!(verifies(packet));
    }
}

#[test]
fn syn_dnat_and_back_match_bytes_computed_elsewhere() {
    let mut packet = SYN_TO_VIP;
    rewrite_dst(&mut packet, RS1, 8080).unwrap();
    assert_eq!(packet, SYN_TO_RS);
    rewrite_dst(&mut packet, VIP, 80).unwrap();
    assert_eq!(packet, SYN_TO_VIP);
}

#[test]
fn udp_dnat_and_back_match_bytes_computed_elsewhere() {
    let mut packet = UDP_TO_VIP;
    rewrite_dst(&mut packet, RS2, 5300).unwrap();
    assert_eq!(packet, UDP_TO_RS);
    rewrite_dst(&mut packet, VIP, 53).unwrap();
    assert_eq!(packet, UDP_TO_VIP);
}

#[test]
fn snat_of_the_reply_matches_a_recompute() {
    // The real server's answer to the SYN, source-translated back to the VIP.
    let mut packet = SYN_TO_RS;
    packet[12..16].copy_from_slice(&[10, 1, 0, 11]);
    packet[16..20].copy_from_slice(&[10, 0, 0, 1]);
    packet[20..24].copy_from_slice(&[0x1f, 0x90, 0x9c, 0x40]);
    recompute(&mut packet, true);
    let mut want = packet;
    set_fields(&mut want, End::Src, VIP, 80);
    recompute(&mut want, true);
    rewrite_src(&mut packet, VIP, 80).unwrap();
    assert_eq!(packet, want);
}

#[test]
fn udp_without_checksum_keeps_none() {
    let mut packet = UDP_TO_VIP;
    packet[26..28].copy_from_slice(&[0, 0]);
    rewrite_dst(&mut packet, RS2, 5300).unwrap();
    assert_eq!(packet[26..28], [0, 0]);
    assert_eq!(packet[..26], UDP_TO_RS[..26]);
}

/// A UDP packet whose checksum, once its destination is `to`, computes to 0.
fn udp_summing_to_zero_at(to: (Ipv4Addr, u16)) -> Spec {
    let mut spec = Spec {
        udp: true,
        src: Ipv4Addr::new(10, 0, 0, 1),
        src_port: 5353,
        dst: to.0,
        dst_port: to.1,
        ttl: 64,
        ident: 1,
        ip_options: Vec::new(),
        mss: None,
        payload: vec![0, 0],
    };
    let mut packet = build(&spec);
    set_transport_field(&mut packet, 0);
    // Sum of everything but the two payload bytes; the payload word is its negation.
    let rest = ones_sum(&[&pseudo_sum(&packet).to_be_bytes()[..], &packet[20..]].concat());
    spec.payload = (!rest).to_be_bytes().to_vec();
    spec
}

#[test]
fn udp_checksum_that_becomes_zero_is_sent_as_ffff() {
    let spec = udp_summing_to_zero_at((RS2, 5300));
    let mut packet = build(&Spec {
        dst: VIP,
        dst_port: 53,
        ..spec.clone()
    });
    rewrite_dst(&mut packet, RS2, 5300).unwrap();
    assert_eq!(transport_field(&packet), 0xffff);
    assert_eq!(packet, build(&spec));
    assert!(verifies(&packet));
}

#[test]
fn udp_checksum_sent_as_ffff_rewrites_like_a_recompute() {
    let spec = udp_summing_to_zero_at((VIP, 53));
    let mut packet = build(&spec);
    assert_eq!(transport_field(&packet), 0xffff);
    rewrite_dst(&mut packet, RS2, 5300).unwrap();
    let mut want = build(&spec);
    set_fields(&mut want, End::Dst, RS2, 5300);
    recompute(&mut want, true);
    assert_eq!(packet, want);
}

#[test]
fn partial_syn_dnat_completes_to_the_fixture() {
    let mut packet = SYN_TO_VIP;
    make_partial(&mut packet);
    let before = transport_field(&packet);
    rewrite_dst_partial(&mut packet, RS1, 8080).unwrap();
    assert_ne!(transport_field(&packet), before);
    assert_eq!(transport_field(&packet), pseudo_sum(&packet));
    // A port-only change leaves the partial field alone.
    let mut port_only = packet;
    rewrite_dst_partial(&mut port_only, RS1, 8081).unwrap();
    assert_eq!(transport_field(&port_only), transport_field(&packet));
    device_complete(&mut packet);
    assert_eq!(packet, SYN_TO_RS);
}

#[test]
fn ttl_decrement() {
    let mut packet = SYN_TO_VIP;
    assert_eq!(decrement_ttl(&mut packet), Ok(true));
    assert_eq!(packet[8], 63);
    assert!(verifies(&packet));
    let mut want = SYN_TO_VIP;
    want[8] = 63;
    recompute(&mut want, true);
    assert_eq!(packet, want);
    for ttl in [0, 1] {
        let mut packet = SYN_TO_VIP;
        packet[8] = ttl;
        recompute(&mut packet, true);
        let before = packet;
        assert_eq!(decrement_ttl(&mut packet), Ok(false));
        assert_eq!(packet, before);
    }
}

#[test]
fn errors_leave_the_buffer_unchanged() {
    let cases: Vec<(Vec<u8>, RewriteError)> = vec![
        (SYN_TO_VIP[..19].to_vec(), RewriteError::Malformed),
        (SYN_TO_VIP[..43].to_vec(), RewriteError::Malformed),
        (
            {
                let mut p = SYN_TO_VIP;
                p[0] = 0x65;
                p.to_vec()
            },
            RewriteError::Malformed,
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[0] = 0x44;
                p.to_vec()
            },
            RewriteError::Malformed,
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[6] = 0x20;
                p.to_vec()
            },
            RewriteError::Fragment,
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[7] = 0x01;
                p.to_vec()
            },
            RewriteError::Fragment,
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[9] = 1;
                p.to_vec()
            },
            RewriteError::NotTcpUdp(IpProtocol::Icmp),
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[3] = 39;
                p.to_vec()
            },
            RewriteError::TransportTruncated,
        ),
        (
            {
                let mut p = SYN_TO_VIP;
                p[32] = 0x70;
                p.to_vec()
            },
            RewriteError::TransportTruncated,
        ),
        (
            {
                let mut p = UDP_TO_VIP;
                p[25] = 22;
                p.to_vec()
            },
            RewriteError::TransportTruncated,
        ),
    ];
    for (packet, error) in cases {
        for rewrite in [
            rewrite_dst,
            rewrite_src,
            rewrite_dst_partial,
            rewrite_src_partial,
        ] {
            let mut copy = packet.clone();
            assert_eq!(rewrite(&mut copy, RS1, 8080), Err(error), "{packet:02x?}");
            assert_eq!(copy, packet);
        }
    }
    // The address-only rewrites take fragments and any protocol.
    let mut fragment = SYN_TO_VIP;
    fragment[6] = 0x20;
    recompute(&mut fragment, true);
    rewrite_ip_dst(&mut fragment, RS1).unwrap();
    assert!(
        Ipv4Packet::new_checked(&fragment[..])
            .unwrap()
            .verify_checksum()
    );
}

#[test]
fn every_prefix_of_a_packet_is_handled() {
    for packet in [&SYN_TO_VIP[..], &UDP_TO_VIP] {
        for len in 0..=packet.len() {
            exercise(&packet[..len], RS1, 8080);
        }
    }
}

// ---- properties ----

/// A few thousand cases per property. Failures are not persisted to files: proptest prints the
/// minimal failing input, which belongs in a fixed test.
pub(crate) fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 4096,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

pub(crate) fn addr() -> impl Strategy<Value = Ipv4Addr> {
    prop_oneof![
        8 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(u32::MAX),
    ]
    .prop_map(Ipv4Addr::from)
}

pub(crate) fn port() -> impl Strategy<Value = u16> {
    prop_oneof![8 => any::<u16>(), 1 => Just(0u16), 1 => Just(u16::MAX)]
}

pub(crate) fn end() -> impl Strategy<Value = End> {
    prop_oneof![Just(End::Src), Just(End::Dst)]
}

/// Payloads of random bytes, and some all-zero or all-ones to push sums to their extremes.
fn payload(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..=max),
        1 => (0..=max).prop_map(|len| vec![0; len]),
        1 => (0..=max).prop_map(|len| vec![0xff; len]),
    ]
}

pub(crate) fn spec(max_payload: usize) -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        (addr(), port(), addr(), port()),
        any::<u8>(),
        any::<u16>(),
        vec(any::<[u8; 4]>(), 0..=10),
        proptest::option::of(any::<u16>()),
        payload(max_payload),
    )
        .prop_map(
            |(udp, (src, src_port, dst, dst_port), ttl, ident, options, mss, payload)| Spec {
                udp,
                src,
                src_port,
                dst,
                dst_port,
                ttl,
                ident,
                ip_options: options.concat(),
                mss,
                payload,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn header_check_agrees_with_smoltcp(
        mut header in vec(any::<u8>(), 20..=60), len in 0usize..=60, fix in any::<bool>()
    ) {
        // Any bytes, half of them given a right checksum; every length, odd ones too.
        if fix {
            let mut ip = Ipv4Packet::new_unchecked(&mut header[..]);
            ip.set_header_len(20);
            ip.fill_checksum();
            header.truncate(20);
        }
        let n = len.min(header.len());
        let want = smoltcp::wire::checksum::data(&header[..n]) == !0;
        prop_assert_eq!(ipv4_header_ok(&header[..n]), want);
        if fix {
            prop_assert!(ipv4_header_ok(&header));
        }
    }

    #[test]
    fn rewrite_equals_full_recompute(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let mut packet = build(&spec);
        let mut want = packet.clone();
        set_fields(&mut want, end, addr, port);
        recompute(&mut want, true);
        rewrite_full(&mut packet, end, addr, port).unwrap();
        prop_assert_eq!(&packet, &want);
        prop_assert!(verifies(&packet));
    }

    #[test]
    fn rewrite_and_back_is_identity(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let original = build(&spec);
        let (old_addr, old_port) = match end {
            End::Src => (spec.src, spec.src_port),
            End::Dst => (spec.dst, spec.dst_port),
        };
        let mut packet = original.clone();
        rewrite_full(&mut packet, end, addr, port).unwrap();
        rewrite_full(&mut packet, end, old_addr, old_port).unwrap();
        prop_assert_eq!(&packet, &original);
        // Rewriting to what is there already changes nothing.
        rewrite_full(&mut packet, end, old_addr, old_port).unwrap();
        prop_assert_eq!(&packet, &original);
    }

    #[test]
    fn udp_without_checksum_stays_without(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let mut packet = build(&Spec { udp: true, ..spec });
        set_transport_field(&mut packet, 0);
        let mut want = packet.clone();
        set_fields(&mut want, end, addr, port);
        recompute(&mut want, false);
        rewrite_full(&mut packet, end, addr, port).unwrap();
        prop_assert_eq!(&packet, &want);
    }

    #[test]
    fn partial_rewrite_then_device_equals_full_recompute(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let mut packet = build(&spec);
        let mut want = packet.clone();
        set_fields(&mut want, end, addr, port);
        recompute(&mut want, true);
        make_partial(&mut packet);
        rewrite_partial(&mut packet, end, addr, port).unwrap();
        // The field is what the sending kernel would have left for the new addresses...
        prop_assert_eq!(transport_field(&packet), pseudo_sum(&packet));
        // ...and the device completes it to the full checksum.
        device_complete(&mut packet);
        prop_assert_eq!(&packet, &want);
    }

    #[test]
    fn ttl_decrement_equals_full_recompute(spec in spec(64)) {
        let mut packet = build(&spec);
        let before = packet.clone();
        let was_above_one = decrement_ttl(&mut packet).unwrap();
        prop_assert_eq!(was_above_one, spec.ttl > 1);
        let mut want = before;
        if spec.ttl > 1 {
            let mut ip = Ipv4Packet::new_unchecked(&mut want[..]);
            ip.set_hop_limit(spec.ttl - 1);
            ip.fill_checksum();
        }
        prop_assert_eq!(&packet, &want);
    }

    #[test]
    fn routed_rewrite_equals_ttl_decrement_and_full_recompute(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let mut packet = build(&spec);
        let before = packet.clone();
        let ihl = IPV4_HEADER_LEN + spec.ip_options.len();
        let proto = if spec.udp { IpProtocol::Udp } else { IpProtocol::Tcp };
        let done = rewrite_routed(&mut packet, (ihl, proto), (end, addr, port), Mode::Full);
        if spec.ttl <= 1 {
            prop_assert_eq!(done, Err(RoutedError::TtlExceeded));
            prop_assert_eq!(&packet, &before);
        } else {
            prop_assert_eq!(done, Ok(()));
            let mut want = before;
            set_fields(&mut want, end, addr, port);
            Ipv4Packet::new_unchecked(&mut want[..]).set_hop_limit(spec.ttl - 1);
            recompute(&mut want, true);
            prop_assert_eq!(&packet, &want);
        }
    }

    #[test]
    fn routed_partial_rewrite_equals_the_two_step_one(
        spec in spec(1400), end in end(), addr in addr(), port in port()
    ) {
        let spec = Spec { ttl: spec.ttl.max(2), ..spec };
        let mut packet = build(&spec);
        make_partial(&mut packet);
        let mut want = packet.clone();
        decrement_ttl(&mut want).unwrap();
        rewrite_partial(&mut want, end, addr, port).unwrap();
        let ihl = IPV4_HEADER_LEN + spec.ip_options.len();
        let proto = if spec.udp { IpProtocol::Udp } else { IpProtocol::Tcp };
        rewrite_routed(&mut packet, (ihl, proto), (end, addr, port), Mode::Partial).unwrap();
        prop_assert_eq!(&packet, &want);
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..=96), addr in addr(), port in port()) {
        exercise(&bytes, addr, port);
    }

    #[test]
    fn damaged_packets_never_panic(
        spec in spec(48),
        hits in vec((0usize..88, any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        addr in addr(),
        port in port(),
    ) {
        let mut packet = build(&spec);
        for (at, byte) in hits {
            if let Some(slot) = packet.get_mut(at) {
                *slot = byte;
            }
        }
        let len = cut.index(packet.len() + 1);
        exercise(&packet[..len], addr, port);
        exercise(&packet, addr, port);
    }
}
