//! ARP rules, one test each: what may teach the neighbour table (Linux's arp_rcv/arp_process
//! and neighbour locktime), and that every refused packet is dropped and counted by reason.

use super::*;
use crate::wire::{ArpOperation, ArpPacket};

const EVIL_MAC: EthernetAddress = EthernetAddress([0x02, 0xee, 0xee, 0xee, 0xee, 0xee]);

/// An ARP frame with every field given; `op` is the raw opcode.
fn arp_frame(
    op: u16,
    sha: EthernetAddress,
    spa: Ipv4Addr,
    tha: EthernetAddress,
    tpa: Ipv4Addr,
    eth_dst: EthernetAddress,
) -> Vec<u8> {
    let mut f = build::arp_request(sha, spa, tpa);
    EthernetFrame::new_unchecked(&mut f[..]).set_dst_addr(eth_dst);
    let arp = &mut f[ETHERNET_HEADER_LEN..];
    arp[6..8].copy_from_slice(&op.to_be_bytes());
    arp[18..24].copy_from_slice(&tha.0);
    f
}

/// A reply claiming that real server 0 is at `mac`, sent to the director.
fn claim_rs0(op: u16, mac: EthernetAddress) -> Vec<u8> {
    arp_frame(op, mac, rs_ip(0), DIRECTOR_MAC, DIRECTOR, DIRECTOR_MAC)
}

/// The real server a new connection goes to, by destination MAC.
fn syn_goes_to(dp: &mut Dataplane, now: i64, n: u32) -> EthernetAddress {
    let mut f = build::tcp_frame(client(n, 1000), Flags::SYN, b"");
    assert_eq!(dp.handle_frame(t(now), OUT, &mut f), Verdict::Send(OUT));
    EthernetFrame::new_checked(&f[..]).unwrap().dst_addr()
}

fn drops(dp: &Dataplane, reason: DropReason) -> u64 {
    dp.counters().drops_for(reason)
}

#[test]
fn opcodes_other_than_request_and_reply_teach_nothing() {
    let mut dp = resolved("rr", &[1], "");
    // 3 and 4: RARP; 8 and 9: InARP; 0 and 0xffff: nothing at all.
    for (i, op) in [3u16, 4, 8, 9, 0, 0xffff].into_iter().enumerate() {
        let mut f = claim_rs0(op, EVIL_MAC);
        let now = 5000 + i as i64 * 2000; // past the lock time each time
        assert_eq!(
            dp.handle_frame(t(now), OUT, &mut f),
            Verdict::Dropped(DropReason::ArpBadOpcode),
            "opcode {op}"
        );
        assert_eq!(
            syn_goes_to(&mut dp, now, i as u32),
            rs_mac(0),
            "opcode {op}"
        );
    }
    assert_eq!(drops(&dp, DropReason::ArpBadOpcode), 6);
}

#[test]
fn other_hardware_or_protocol_types_or_lengths_are_malformed() {
    let mut dp = resolved("rr", &[1], "");
    // (offset in the ARP header, bytes): hardware type 6 (IEEE 802), protocol 0x86dd, lengths.
    let patches: [(usize, &[u8]); 4] = [(0, &[0, 6]), (2, &[0x86, 0xdd]), (4, &[8]), (5, &[16])];
    for (i, (at, bytes)) in patches.into_iter().enumerate() {
        let mut f = claim_rs0(2, EVIL_MAC);
        f[ETHERNET_HEADER_LEN + at..ETHERNET_HEADER_LEN + at + bytes.len()].copy_from_slice(bytes);
        let now = 5000 + i as i64 * 2000;
        assert_eq!(
            dp.handle_frame(t(now), OUT, &mut f),
            Verdict::Dropped(DropReason::Malformed)
        );
        assert_eq!(syn_goes_to(&mut dp, now, i as u32), rs_mac(0));
    }
    assert_eq!(drops(&dp, DropReason::Malformed), 4);
}

#[test]
fn senders_no_host_can_be_are_refused() {
    let mut dp = resolved("rr", &[1], "");
    let bad_macs = [
        EthernetAddress::BROADCAST,
        EthernetAddress([0x01, 0, 0x5e, 0, 0, 1]),
        EthernetAddress([0; 6]),
    ];
    for mac in bad_macs {
        let mut f = claim_rs0(2, mac);
        assert_eq!(
            dp.handle_frame(t(5000), OUT, &mut f),
            Verdict::Dropped(DropReason::ArpBadSender)
        );
    }
    let bad_ips = [
        Ipv4Addr::new(224, 0, 0, 18),
        Ipv4Addr::BROADCAST,
        Ipv4Addr::LOCALHOST,
        Ipv4Addr::new(0, 1, 2, 3),
    ];
    for ip in bad_ips {
        let mut f = arp_frame(
            1,
            ROUTER_MAC,
            ip,
            EthernetAddress([0; 6]),
            VIP,
            DIRECTOR_MAC,
        );
        assert_eq!(
            dp.handle_frame(t(5000), OUT, &mut f),
            Verdict::Dropped(DropReason::ArpBadSender),
            "{ip}"
        );
    }
    assert_eq!(drops(&dp, DropReason::ArpBadSender), 7);
    assert_eq!(dp.counters().arp_replies, 0, "none of them answered");
    assert_eq!(syn_goes_to(&mut dp, 5000, 1), rs_mac(0));
}

#[test]
fn targets_no_host_can_be_are_refused() {
    let mut dp = resolved("rr", &[1], "");
    for tpa in [
        Ipv4Addr::new(224, 0, 0, 1),
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(127, 0, 0, 1),
    ] {
        let mut f = arp_frame(2, EVIL_MAC, rs_ip(0), DIRECTOR_MAC, tpa, DIRECTOR_MAC);
        assert_eq!(
            dp.handle_frame(t(5000), OUT, &mut f),
            Verdict::Dropped(DropReason::ArpBadTarget),
            "{tpa}"
        );
    }
    assert_eq!(syn_goes_to(&mut dp, 5000, 1), rs_mac(0));
}

#[test]
fn a_duplicate_address_probe_is_answered_but_teaches_nothing() {
    let mut dp = resolved("rr", &[1], "");
    dp.set_active(t(0), true);
    let zero = EthernetAddress([0; 6]);
    let mut f = arp_frame(
        1,
        EVIL_MAC,
        Ipv4Addr::UNSPECIFIED,
        zero,
        VIP,
        EthernetAddress::BROADCAST,
    );
    assert_eq!(dp.handle_frame(t(5000), OUT, &mut f), Verdict::Send(OUT));
    let n = dp.neighbours.len();
    assert!(dp.neighbours.index_of(Ipv4Addr::UNSPECIFIED).is_none());
    assert_eq!(dp.neighbours.len(), n);
}

#[test]
fn arp_never_creates_an_entry_for_an_address_the_director_does_not_forward_to() {
    let mut dp = resolved("rr", &[1], "");
    let n = dp.neighbours.len();
    let stranger = Ipv4Addr::new(198, 18, 0, 77);
    for op in [1u16, 2] {
        let mut f = arp_frame(op, EVIL_MAC, stranger, DIRECTOR_MAC, DIRECTOR, DIRECTOR_MAC);
        dp.handle_frame(t(5000), OUT, &mut f);
    }
    let mut f = arp_frame(
        1,
        EVIL_MAC,
        stranger,
        EVIL_MAC,
        stranger,
        EthernetAddress::BROADCAST,
    );
    dp.handle_frame(t(5000), OUT, &mut f);
    assert_eq!(dp.neighbours.len(), n);
    assert!(dp.neighbours.index_of(stranger).is_none());
}

#[test]
fn a_new_mac_within_a_second_of_the_last_is_refused_unless_gratuitous() {
    let mut dp = resolved("rr", &[1], "");
    // Resolved at 0 ms: a different answer at 500 ms loses (the first answer wins)...
    let mut f = claim_rs0(2, EVIL_MAC);
    assert_eq!(dp.handle_frame(t(500), OUT, &mut f), Verdict::Consumed);
    assert_eq!(dp.counters().neighbour_updates_refused, 1);
    assert_eq!(syn_goes_to(&mut dp, 500, 1), rs_mac(0));
    // ...but a gratuitous ARP (a host announcing its own move) is taken at once.
    let moved = EthernetAddress([0x02, 0, 0, 0, 9, 9]);
    let broadcast = EthernetAddress::BROADCAST;
    let mut f = arp_frame(
        1,
        moved,
        rs_ip(0),
        EthernetAddress([0; 6]),
        rs_ip(0),
        broadcast,
    );
    assert_eq!(
        dp.handle_frame(t(600), OUT, &mut f),
        Verdict::Dropped(DropReason::ArpIgnored)
    );
    assert_eq!(syn_goes_to(&mut dp, 600, 2), moved);
    // A gratuitous reply must name itself as the target hardware too.
    let mut f = arp_frame(2, rs_mac(0), rs_ip(0), EVIL_MAC, rs_ip(0), broadcast);
    dp.handle_frame(t(700), OUT, &mut f);
    assert_eq!(dp.counters().neighbour_updates_refused, 2);
    assert_eq!(syn_goes_to(&mut dp, 700, 3), moved);
    // After the lock time an ordinary answer updates it: ARP has no authentication.
    let mut f = claim_rs0(2, rs_mac(0));
    assert_eq!(dp.handle_frame(t(1700), OUT, &mut f), Verdict::Consumed);
    assert_eq!(syn_goes_to(&mut dp, 1700, 4), rs_mac(0));
}

#[test]
fn only_a_reply_to_the_director_confirms_a_neighbour_and_a_hearsay_move_is_probed() {
    let mut dp = resolved("rr", &[1], "");
    let mut buf = [0u8; pending::SLOT_LEN];
    while dp.poll_transmit(t(0), &mut buf).is_some() {}
    // A request from rs1 with a new MAC (after the lock time): used, but probed at once.
    let moved = EthernetAddress([0x02, 0, 0, 0, 9, 9]);
    let mut f = arp_frame(
        1,
        moved,
        rs_ip(0),
        EthernetAddress([0; 6]),
        DIRECTOR,
        EthernetAddress::BROADCAST,
    );
    dp.handle_frame(t(5000), OUT, &mut f);
    assert_eq!(syn_goes_to(&mut dp, 5000, 1), moved);
    let (_, n) = dp.poll_transmit(t(5000), &mut buf).expect("a probe");
    let probe = ArpPacket::new_checked(&buf[ETHERNET_HEADER_LEN..n]).unwrap();
    assert_eq!(probe.operation(), ArpOperation::Request);
    assert_eq!(probe.target_protocol_addr(), rs_ip(0).octets());
    // A reply broadcast to everyone does not stop the probing; one sent to us does.
    let mut f = arp_frame(
        2,
        moved,
        rs_ip(0),
        ROUTER_MAC,
        ROUTER,
        EthernetAddress::BROADCAST,
    );
    dp.handle_frame(t(5100), OUT, &mut f);
    assert!(
        dp.poll_transmit(t(6000), &mut buf).is_some(),
        "still probing"
    );
    let mut f = claim_rs0(2, moved);
    assert_eq!(dp.handle_frame(t(6001), OUT, &mut f), Verdict::Consumed);
    assert!(dp.poll_transmit(t(9000), &mut buf).is_none(), "confirmed");
}
