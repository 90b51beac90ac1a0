//! VRRPv3 adverts against bytes written by hand from RFC 5798 §5.1, every refusal, round trips,
//! and no panics on random or truncated input.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;

const SRC: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const SRC_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x02]);
const VIP1: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 100);
const VIP2: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 101);

/// VRID 51, priority 100, two addresses, advert interval 1 s, from 198.18.0.2 to 224.0.0.18.
#[rustfmt::skip]
const MESSAGE: [u8; 16] = [
    0x31,             // version 3 | type 1 (ADVERTISEMENT)
    51,               // virtual router id
    100,              // priority
    2,                // count IPv4 addresses
    0x00, 0x64,       // reserved 0 | max advert interval 100 cs (12 bits)
    0x36, 0xd0,       // checksum, see `fixed_checksum_by_hand`
    198, 18, 0, 100,  // address 1
    198, 18, 0, 101,  // address 2
];

/// `MESSAGE` in an Ethernet + IPv4 frame as `emit_frame` writes it.
#[rustfmt::skip]
const FRAME: [u8; 50] = [
    0x01, 0x00, 0x5e, 0x00, 0x00, 0x12, // dst MAC: IPv4 multicast for 224.0.0.18
    0x02, 0x00, 0x00, 0x00, 0x00, 0x02, // src MAC
    0x08, 0x00,                         // ethertype IPv4
    0x45,                               // version 4, IHL 5
    0xc0,                               // DSCP CS6 (TOS 0xc0, as keepalived), ECN 0
    0x00, 0x24,                         // total length 20 + 16
    0x00, 0x00,                         // identification
    0x40, 0x00,                         // DF, fragment offset 0
    0xff,                               // TTL 255
    0x70,                               // protocol 112 (VRRP)
    0xd4, 0x82,                         // header checksum, see `fixed_checksum_by_hand`
    198, 18, 0, 2,                      // source
    224, 0, 0, 18,                      // destination
    0x31, 51, 100, 2, 0x00, 0x64, 0x36, 0xd0,
    198, 18, 0, 100, 198, 18, 0, 101,
];

/// The Internet checksum written out plainly, independent of smoltcp's: sum big-endian 16-bit
/// words (an odd last byte padded with zero), fold the carries, complement.
fn internet_checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in bytes.chunks(2) {
        let hi = u32::from(pair[0]) << 8;
        let lo = pair.get(1).copied().map_or(0, u32::from);
        sum += hi | lo;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The IPv4 pseudo-header for a VRRP message of `len` bytes.
fn pseudo(src: Ipv4Addr, dst: Ipv4Addr, len: usize) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, PROTOCOL, 0, len as u8]);
    p
}

/// Stores a correct VRRP checksum in `message` (computed with `internet_checksum`).
fn fix_checksum(message: &mut [u8], src: Ipv4Addr) {
    message[6..8].fill(0);
    let mut all = pseudo(src, GROUP, message.len());
    all.extend_from_slice(message);
    let sum = internet_checksum(&all);
    message[6..8].copy_from_slice(&sum.to_be_bytes());
}

/// Stores a correct IPv4 header checksum in `frame`.
fn fix_ip_checksum(frame: &mut [u8]) {
    frame[24..26].fill(0);
    let sum = internet_checksum(&frame[14..34]);
    frame[24..26].copy_from_slice(&sum.to_be_bytes());
}

fn expected() -> VrrpRepr {
    VrrpRepr {
        vrid: 51,
        priority: 100,
        max_advert_int_cs: 100,
        addresses: AddressList::from_slice(&[VIP1, VIP2]).unwrap(),
    }
}

fn parse(message: &[u8]) -> Result<VrrpRepr, VrrpError> {
    VrrpRepr::parse(&VrrpPacket::new_checked(message)?, SRC, GROUP)
}

#[test]
fn fixed_checksum_by_hand() {
    // Words: 3133 6402 0064 0000 c612 0064 c612 0065 and the pseudo-header c612 0002 e000
    // 0012 0070 0010 add up to 0x3c92c; folded 0xc92f; complemented 0x36d0.
    let mut zeroed = MESSAGE;
    zeroed[6..8].fill(0);
    let mut all = pseudo(SRC, GROUP, MESSAGE.len());
    all.extend_from_slice(&zeroed);
    assert_eq!(internet_checksum(&all), 0x36d0);
    // A correct message sums to zero (all ones before the complement).
    let mut all = pseudo(SRC, GROUP, MESSAGE.len());
    all.extend_from_slice(&MESSAGE);
    assert_eq!(internet_checksum(&all), 0);
    // The IPv4 header.
    let mut header = FRAME[14..34].to_vec();
    header[10..12].fill(0);
    assert_eq!(internet_checksum(&header), 0xd482);
}

#[test]
fn parse_fixed_bytes() {
    let packet = VrrpPacket::new_checked(&MESSAGE[..]).unwrap();
    assert_eq!(packet.version(), 3);
    assert_eq!(packet.msg_type(), 1);
    assert_eq!(packet.checksum(), 0x36d0);
    assert_eq!(packet.addresses().collect::<Vec<_>>(), [VIP1, VIP2]);
    assert_eq!(packet.address(2), None);
    assert_eq!(parse(&MESSAGE), Ok(expected()));
}

#[test]
fn emit_fixed_bytes() {
    let repr = expected();
    assert_eq!(repr.buffer_len(), MESSAGE.len());
    let mut buf = [0xaa; 16];
    repr.emit(&mut VrrpPacket::new_unchecked(&mut buf[..]), SRC, GROUP);
    assert_eq!(buf, MESSAGE);
}

#[test]
fn emit_frame_fixed_bytes() {
    let mut buf = [0xaa; 64];
    let len = emit_frame(&mut buf, SRC_MAC, SRC, &expected()).unwrap();
    assert_eq!(len, FRAME.len());
    assert_eq!(len, frame_len(&expected()));
    assert_eq!(buf[..len], FRAME);
    assert!(
        buf[len..].iter().all(|b| *b == 0xaa),
        "wrote past the frame"
    );
}

#[test]
fn parse_frame_fixed_bytes() {
    let frame = parse_frame(&FRAME).unwrap();
    assert_eq!(
        frame,
        VrrpFrame {
            src_mac: SRC_MAC,
            dst_mac: GROUP_MAC,
            src: SRC,
            dst: GROUP,
            repr: expected(),
        }
    );
}

#[test]
fn ethernet_padding_is_ignored() {
    let mut padded = FRAME.to_vec();
    padded.resize(60, 0);
    assert_eq!(parse_frame(&padded).unwrap().repr, expected());
}

#[test]
fn reserved_nibble_is_ignored_on_receive() {
    let mut message = MESSAGE;
    message[4] |= 0xf0;
    fix_checksum(&mut message, SRC);
    assert_eq!(parse(&message).unwrap().max_advert_int_cs, 100);
}

#[test]
fn no_addresses() {
    let repr = VrrpRepr {
        addresses: AddressList::new(),
        ..expected()
    };
    let mut buf = [0; 8];
    repr.emit(&mut VrrpPacket::new_unchecked(&mut buf[..]), SRC, GROUP);
    assert_eq!(buf[3], 0);
    assert_eq!(parse(&buf), Ok(repr));
}

#[test]
fn bad_version_refused() {
    let mut message = MESSAGE;
    message[0] = 0x21; // VRRPv2 advert
    fix_checksum(&mut message, SRC);
    assert_eq!(parse(&message), Err(VrrpError::Version(2)));
}

#[test]
fn bad_type_refused() {
    let mut message = MESSAGE;
    message[0] = 0x32;
    fix_checksum(&mut message, SRC);
    assert_eq!(parse(&message), Err(VrrpError::Type(2)));
}

#[test]
fn bad_checksum_refused() {
    let mut message = MESSAGE;
    message[7] ^= 0x01;
    assert_eq!(parse(&message), Err(VrrpError::Checksum));
    // The pseudo-header is covered: the same bytes from another source do not verify.
    let other = VrrpRepr::parse(
        &VrrpPacket::new_checked(&MESSAGE[..]).unwrap(),
        Ipv4Addr::new(198, 18, 0, 3),
        GROUP,
    );
    assert_eq!(other, Err(VrrpError::Checksum));
}

#[test]
fn count_longer_than_message_is_truncated() {
    let mut message = MESSAGE;
    message[3] = 3;
    fix_checksum(&mut message[..], SRC);
    assert_eq!(
        VrrpPacket::new_checked(&message[..]).err(),
        Some(VrrpError::Truncated)
    );
    assert_eq!(
        VrrpPacket::new_checked(&MESSAGE[..7]).err(),
        Some(VrrpError::Truncated)
    );
    assert_eq!(
        VrrpPacket::new_checked(&MESSAGE[..12]).err(),
        Some(VrrpError::Truncated)
    );
}

#[test]
fn trailing_bytes_refused() {
    let mut message = MESSAGE;
    message[3] = 1;
    fix_checksum(&mut message, SRC);
    assert_eq!(
        parse(&message),
        Err(VrrpError::Length { count: 1, len: 16 })
    );
}

#[test]
fn too_many_addresses_refused() {
    let mut message = vec![0x31, 51, 100, 17, 0x00, 0x64, 0, 0];
    for i in 0..17 {
        message.extend_from_slice(&[198, 18, 0, 100 + i]);
    }
    fix_checksum(&mut message, SRC);
    assert_eq!(parse(&message), Err(VrrpError::TooManyAddresses(17)));
}

#[test]
fn bad_ttl_refused() {
    let mut frame = FRAME;
    frame[22] = 254;
    fix_ip_checksum(&mut frame);
    assert_eq!(parse_frame(&frame), Err(VrrpError::Ttl(254)));
}

#[test]
fn other_frames_refused() {
    let mut udp = FRAME;
    udp[23] = 17;
    fix_ip_checksum(&mut udp);
    assert_eq!(parse_frame(&udp), Err(VrrpError::NotVrrp(17)));

    let mut arp = FRAME;
    arp[12..14].copy_from_slice(&[0x08, 0x06]);
    assert_eq!(parse_frame(&arp), Err(VrrpError::NotIpv4));

    let mut bad_ip_sum = FRAME;
    bad_ip_sum[25] ^= 1;
    assert_eq!(parse_frame(&bad_ip_sum), Err(VrrpError::Ipv4));

    let mut fragment = FRAME;
    fragment[20] = 0x20; // more fragments
    fix_ip_checksum(&mut fragment);
    assert_eq!(parse_frame(&fragment), Err(VrrpError::Ipv4));

    let mut bad_vrrp = FRAME;
    bad_vrrp[40] ^= 0x80;
    assert_eq!(parse_frame(&bad_vrrp), Err(VrrpError::Checksum));
}

#[test]
fn emit_frame_into_short_buffer_refused() {
    let mut buf = [0; 49];
    assert_eq!(
        emit_frame(&mut buf, SRC_MAC, SRC, &expected()),
        Err(VrrpError::BufferTooSmall {
            needed: 50,
            got: 49
        })
    );
}

#[test]
fn address_list_capacity_and_sets() {
    let many: Vec<Ipv4Addr> = (0..=16).map(|i| Ipv4Addr::new(198, 18, 0, i)).collect();
    assert!(AddressList::from_slice(&many[..16]).is_some());
    assert!(AddressList::from_slice(&many).is_none());
    let ab = AddressList::from_slice(&[VIP1, VIP2]).unwrap();
    let ba = AddressList::from_slice(&[VIP2, VIP1]).unwrap();
    assert_ne!(ab, ba);
    assert!(ab.same_set(&ba));
    assert!(!ab.same_set(&AddressList::from_slice(&[VIP1]).unwrap()));
}

fn arb_repr() -> impl Strategy<Value = VrrpRepr> {
    (
        any::<u8>(),
        any::<u8>(),
        0..=MAX_ADVERT_INT_CS,
        vec(any::<u32>(), 0..=MAX_ADDRESSES),
    )
        .prop_map(|(vrid, priority, max_advert_int_cs, addrs)| {
            let addrs: Vec<Ipv4Addr> = addrs.into_iter().map(Ipv4Addr::from).collect();
            VrrpRepr {
                vrid,
                priority,
                max_advert_int_cs,
                addresses: AddressList::from_slice(&addrs).unwrap(),
            }
        })
}

/// Calls every accessor of a checked packet.
fn touch<T: AsRef<[u8]>>(p: &VrrpPacket<T>) {
    let _ = (p.version(), p.msg_type(), p.vrid(), p.priority());
    let _ = (p.max_advert_int(), p.checksum(), p.message_len());
    let _ = p.addresses().count();
    let _ = p.address(usize::from(p.addr_count()));
    let _ = p.verify_checksum(SRC, GROUP);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trip(repr in arb_repr(), src in any::<u32>()) {
        let src = Ipv4Addr::from(src);
        let mut buf = vec![0; repr.buffer_len()];
        repr.emit(&mut VrrpPacket::new_unchecked(&mut buf[..]), src, GROUP);
        let packet = VrrpPacket::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(VrrpRepr::parse(&packet, src, GROUP), Ok(repr));

        let mut frame = [0; 128];
        let len = emit_frame(&mut frame, SRC_MAC, src, &repr).unwrap();
        let parsed = parse_frame(&frame[..len]).unwrap();
        prop_assert_eq!(parsed.repr, repr);
        prop_assert_eq!(parsed.src, src);
        prop_assert_eq!(parsed.dst, GROUP);
    }

    #[test]
    fn any_single_bit_flip_refused(repr in arb_repr(), bit in any::<usize>()) {
        let mut frame = [0; 128];
        let len = emit_frame(&mut frame, SRC_MAC, SRC, &repr).unwrap();
        // Flip one bit of the IPv4 header or the VRRP message.
        let bit = bit % ((len - ETHERNET_HEADER_LEN) * 8);
        frame[ETHERNET_HEADER_LEN + bit / 8] ^= 1 << (bit % 8);
        prop_assert!(parse_frame(&frame[..len]).is_err());
    }

    #[test]
    fn random_bytes_never_panic(bytes in vec(any::<u8>(), 0..200)) {
        if let Ok(packet) = VrrpPacket::new_checked(&bytes[..]) {
            touch(&packet);
            let _ = VrrpRepr::parse(&packet, SRC, GROUP);
        }
        let _ = parse_frame(&bytes);
        // And as the payload of a well-formed frame, so the VRRP checks are reached.
        let mut frame = FRAME[..34].to_vec();
        frame.extend_from_slice(&bytes);
        frame[16..18].copy_from_slice(&((20 + bytes.len()) as u16).to_be_bytes());
        fix_ip_checksum(&mut frame);
        let _ = parse_frame(&frame);
    }

    #[test]
    fn truncated_frames_refused(repr in arb_repr(), cut in any::<usize>()) {
        let mut frame = [0; 128];
        let len = emit_frame(&mut frame, SRC_MAC, SRC, &repr).unwrap();
        let cut = cut % len;
        prop_assert!(parse_frame(&frame[..cut]).is_err());
        let message = &frame[ETHERNET_HEADER_LEN + IPV4_HEADER_LEN..len];
        let short = &message[..cut.min(message.len() - 1)];
        prop_assert_eq!(VrrpPacket::new_checked(short).err(), Some(VrrpError::Truncated));
    }
}
