//! ICMP error translation: fixed scenarios from a masquerading director's two directions, a
//! property over random flows, quote lengths and message types, and no panics on damaged input.

use super::*;
use crate::wire::checksum::tests::{
    Spec, addr, build, config, end, exercise, port, rewrite_full, set_transport_field, spec,
    verifies,
};
use crate::wire::checksum::{rewrite_dst, rewrite_ip_dst, rewrite_ip_src, rewrite_src};
use proptest::collection::vec;
use proptest::prelude::*;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::Ipv4Repr;

const CLIENT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const VIP: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 10);
const RS: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 11);
const ROUTER: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// An ICMP error from `from` to `to` quoting `offending`'s IPv4 header and the first `quote`
/// bytes after it (all of them if fewer), with both checksums computed by smoltcp from scratch.
fn icmp_error(
    (from, to): (Ipv4Addr, Ipv4Addr),
    (msg_type, code, rest): (u8, u8, [u8; 4]),
    offending: &[u8],
    quote: usize,
) -> Vec<u8> {
    let header_len = usize::from(Ipv4Packet::new_checked(offending).unwrap().header_len());
    let quoted = &offending[..offending.len().min(header_len.saturating_add(quote))];
    let repr = Ipv4Repr {
        src_addr: from,
        dst_addr: to,
        next_header: IpProtocol::Icmp,
        payload_len: 8 + quoted.len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; repr.buffer_len() + repr.payload_len];
    let mut outer = Ipv4Packet::new_unchecked(&mut buf[..]);
    repr.emit(&mut outer, &ChecksumCapabilities::default());
    let message = outer.payload_mut();
    message[0] = msg_type;
    message[1] = code;
    message[4..8].copy_from_slice(&rest);
    message[8..].copy_from_slice(quoted);
    Icmpv4Packet::new_unchecked(message).fill_checksum();
    buf
}

/// Whether the outer IPv4, ICMP and quoted IPv4 header checksums verify (smoltcp).
fn icmp_verifies(packet: &[u8]) -> bool {
    let outer = Ipv4Packet::new_checked(packet).unwrap();
    let message = Icmpv4Packet::new_checked(outer.payload()).unwrap();
    let inner = Ipv4Packet::new_unchecked(&outer.payload()[8..]);
    outer.verify_checksum() && message.verify_checksum() && inner.verify_checksum()
}

fn flow_of(packet: &[u8]) -> InnerFlow {
    let ip = Ipv4Packet::new_checked(packet).unwrap();
    let seg = ip.payload();
    InnerFlow {
        protocol: ip.next_header(),
        src: ip.src_addr(),
        src_port: u16::from_be_bytes([seg[0], seg[1]]),
        dst: ip.dst_addr(),
        dst_port: u16::from_be_bytes([seg[2], seg[3]]),
    }
}

fn client_udp() -> Spec {
    Spec {
        udp: true,
        src: CLIENT,
        src_port: 5353,
        dst: VIP,
        dst_port: 53,
        ttl: 64,
        ident: 7,
        ip_options: Vec::new(),
        mss: None,
        payload: b"tapvs asks".to_vec(),
    }
}

#[test]
fn icmp_error_types() {
    for t in [3, 11, 12] {
        assert!(is_icmp_error(t), "{t}");
    }
    for t in [0, 4, 5, 8, 9, 10, 13, 14, 255] {
        assert!(!is_icmp_error(t), "{t}");
    }
}

#[test]
fn port_unreachable_from_the_real_server_round_trips() {
    // Client -> VIP:53 is DNATed to RS:5300; the real server answers port unreachable to the
    // client about the translated datagram. The director translates the quote back and the
    // outer source to the VIP: the client must see its own datagram quoted, from the VIP.
    let original = build(&client_udp());
    let mut forwarded = original.clone();
    rewrite_dst(&mut forwarded, RS, 5300).unwrap();
    let unreachable = (3, 3, [0; 4]);
    for quote in [8, usize::MAX] {
        let mut icmp = icmp_error((RS, CLIENT), unreachable, &forwarded, quote);
        assert_eq!(inner_flow(&icmp), Ok(flow_of(&forwarded)));
        rewrite_inner_dst(&mut icmp, VIP, 53).unwrap();
        rewrite_ip_src(&mut icmp, VIP).unwrap();
        assert_eq!(
            icmp,
            icmp_error((VIP, CLIENT), unreachable, &original, quote)
        );
        assert!(icmp_verifies(&icmp));
    }
}

#[test]
fn frag_needed_for_a_reply_round_trips() {
    // RS:8080 -> client is SNATed to VIP:80; a router past the director cannot forward the
    // 1400-byte segment with DF and tells the VIP (next-hop MTU 1400). The director translates
    // the quote back to the real server's segment and the outer destination to the real server.
    let reply = build(&Spec {
        udp: false,
        src: RS,
        src_port: 8080,
        dst: CLIENT,
        dst_port: 40000,
        payload: vec![0x5a; 1400],
        ..client_udp()
    });
    let mut sent = reply.clone();
    rewrite_src(&mut sent, VIP, 80).unwrap();
    let frag_needed = (3, 4, [0, 0, 0x05, 0x78]);
    // 8 bytes (RFC 792; the TCP checksum is not quoted), 20 (it is), and 576 bytes in all.
    for quote in [8, 20, 576 - 20 - 8 - 20] {
        let mut icmp = icmp_error((ROUTER, VIP), frag_needed, &sent, quote);
        let flow = inner_flow(&icmp).unwrap();
        assert_eq!(flow, flow_of(&sent));
        assert_eq!(
            (flow.protocol, flow.src, flow.src_port),
            (IpProtocol::Tcp, VIP, 80)
        );
        rewrite_inner_src(&mut icmp, RS, 8080).unwrap();
        rewrite_ip_dst(&mut icmp, RS).unwrap();
        assert_eq!(icmp, icmp_error((ROUTER, RS), frag_needed, &reply, quote));
        assert!(icmp_verifies(&icmp));
        assert_eq!(icmp[26..28], [0x05, 0x78]);
    }
}

#[test]
fn errors_leave_the_buffer_unchanged() {
    let mut forwarded = build(&client_udp());
    rewrite_dst(&mut forwarded, RS, 5300).unwrap();
    let good = icmp_error((RS, CLIENT), (3, 3, [0; 4]), &forwarded, 8);
    let changed = |at: usize, byte: u8| {
        let mut packet = good.clone();
        packet[at] = byte;
        packet
    };
    let cases = [
        (good[..good.len() - 1].to_vec(), RewriteError::Malformed),
        (changed(0, 0x65), RewriteError::Malformed),
        (changed(9, 17), RewriteError::NotIcmpError),
        (changed(20, 8), RewriteError::NotIcmpError),
        (changed(20, 5), RewriteError::NotIcmpError),
        (changed(6, 0x20), RewriteError::Fragment),
        // Quoted header: version, header length, protocol, fragment offset.
        (changed(28, 0x65), RewriteError::BadQuote),
        (changed(28, 0x46), RewriteError::BadQuote),
        (changed(28, 0x44), RewriteError::BadQuote),
        (
            changed(28 + 9, 1),
            RewriteError::NotTcpUdp(IpProtocol::Icmp),
        ),
        (changed(28 + 7, 1), RewriteError::Fragment),
        // 7 transport bytes quoted.
        (
            {
                let mut packet = good[..good.len() - 1].to_vec();
                packet[3] -= 1;
                packet
            },
            RewriteError::BadQuote,
        ),
    ];
    for (packet, error) in cases {
        assert_eq!(inner_flow(&packet), Err(error), "{packet:02x?}");
        for rewrite in [rewrite_inner_src, rewrite_inner_dst] {
            let mut copy = packet.clone();
            assert_eq!(rewrite(&mut copy, VIP, 53), Err(error));
            assert_eq!(copy, packet);
        }
    }
    // A quoted first fragment still carries the ports.
    let mut first_fragment = good.clone();
    first_fragment[28 + 6] |= 0x20;
    assert!(inner_flow(&first_fragment).is_ok());
}

#[test]
fn every_prefix_of_an_icmp_error_is_handled() {
    let mut forwarded = build(&client_udp());
    rewrite_dst(&mut forwarded, RS, 5300).unwrap();
    let icmp = icmp_error((RS, CLIENT), (3, 3, [0; 4]), &forwarded, usize::MAX);
    for len in 0..=icmp.len() {
        exercise(&icmp[..len], VIP, 53);
    }
}

fn message() -> impl Strategy<Value = (u8, u8, [u8; 4])> {
    (
        prop_oneof![
            (Just(3u8), 0u8..16),
            (Just(11u8), 0u8..2),
            (Just(12u8), 0u8..3)
        ],
        any::<[u8; 4]>(),
    )
        .prop_map(|((msg_type, code), rest)| (msg_type, code, rest))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn translating_the_quote_back_restores_it(
        spec in spec(600),
        no_udp_checksum in any::<bool>(),
        end in end(),
        addr in addr(),
        port in port(),
        outer in (addr(), addr()),
        message in message(),
        quote in 8usize..=620,
    ) {
        let mut original = build(&spec);
        if spec.udp && no_udp_checksum {
            set_transport_field(&mut original, 0);
        }
        let mut translated = original.clone();
        rewrite_full(&mut translated, end, addr, port).unwrap();
        prop_assert!(spec.udp && no_udp_checksum || verifies(&translated));
        let mut icmp = icmp_error(outer, message, &translated, quote);
        prop_assert_eq!(inner_flow(&icmp), Ok(flow_of(&translated)));
        match end {
            End::Src => rewrite_inner_src(&mut icmp, spec.src, spec.src_port),
            End::Dst => rewrite_inner_dst(&mut icmp, spec.dst, spec.dst_port),
        }
        .unwrap();
        // A quote that ends inside the TCP checksum (17 bytes) cannot have its half updated:
        // that byte stays as quoted.
        let header_len = usize::from(Ipv4Packet::new_checked(&original[..]).unwrap().header_len());
        if !spec.udp && quote == 17 {
            original[header_len + 16] = translated[header_len + 16];
        }
        prop_assert_eq!(&icmp, &icmp_error(outer, message, &original, quote));
        prop_assert!(icmp_verifies(&icmp));
    }

    #[test]
    fn damaged_icmp_errors_never_panic(
        spec in spec(32),
        message in message(),
        quote in 0usize..64,
        hits in vec((0usize..120, any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
        addr in addr(),
        port in port(),
    ) {
        let offending = build(&spec);
        let mut icmp = icmp_error((ROUTER, CLIENT), message, &offending, quote);
        exercise(&icmp, addr, port);
        for (at, byte) in hits {
            if let Some(slot) = icmp.get_mut(at) {
                *slot = byte;
            }
        }
        let len = cut.index(icmp.len() + 1);
        exercise(&icmp[..len], addr, port);
        exercise(&icmp, addr, port);
    }
}
