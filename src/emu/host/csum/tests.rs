//! The host's own TCP checksums against smoltcp's: the same bytes out, the same verdicts in.

use super::{fill, spoil, sum, verify};
use crate::emu::gso::tests::{mutations, segment_at};
use smoltcp::wire::{EthernetFrame, Ipv4Packet, TcpPacket};

/// Deterministic bytes (a small LCG), so that the sums cover every byte value.
fn bytes(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect()
}

/// Where the TCP header starts in the test frames (Ethernet, then a 20-byte IPv4 header).
const TCP_AT: usize = 34;

#[test]
fn sums_fold_like_big_endian_words() {
    assert_eq!(sum(&[]), 0);
    assert_eq!(sum(&[0; 37]), 0);
    assert_eq!(sum(&[0x12, 0x34]), 0x1234);
    // An odd last byte is the high byte of a word.
    assert_eq!(sum(&[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    // The end-around carry; a nonzero multiple of 0xffff folds to 0xffff, not 0.
    assert_eq!(sum(&[0xff, 0xff, 0x00, 0x02]), 0x0002);
    assert_eq!(sum(&[0xff; 8]), 0xffff);
    assert_eq!(sum(&[0xff; 9]), 0xff00);
    assert_eq!(sum(&[0x80, 0x00, 0x7f, 0xff]), 0xffff);
}

#[test]
fn filled_checksums_are_smoltcps_to_the_bit() {
    for (i, len) in [0, 1, 2, 7, 8, 9, 15, 63, 64, 65, 1447, 1448, 9999, 10_000]
        .into_iter()
        .enumerate()
    {
        for last in [false, true] {
            let made = segment_at(1000 + i as i32, &bytes(len, i as u32), last);
            let mut ours = made.clone();
            ours[TCP_AT + 16..TCP_AT + 18].fill(0);
            fill(&mut ours);
            assert_eq!(ours, made, "payload of {len} bytes");
            assert!(verify(&made));
        }
    }
}

#[test]
fn a_wrong_checksum_fails_and_its_spoiled_copy_does_not_parse() {
    let good = segment_at(5, &bytes(301, 9), true);
    let mut bad = good.clone();
    bad[TCP_AT + 40] ^= 0x01;
    assert!(!verify(&bad));
    let mut out = Vec::new();
    assert!(spoil(&bad, &mut out));
    let eth = EthernetFrame::new_checked(&out[..]).unwrap();
    let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
    assert!(TcpPacket::new_checked(ip.payload()).is_err());
    // Only the data offset changed.
    let changed: Vec<usize> = (0..out.len()).filter(|&k| out[k] != bad[k]).collect();
    assert_eq!(changed, vec![TCP_AT + 12]);
}

#[test]
fn frames_other_than_tcp_are_left_alone() {
    let mut tcp = segment_at(5, b"hi", true);
    // UDP in the protocol field: not ours to sum, whatever its bytes say.
    tcp[23] = 17;
    let before = tcp.clone();
    fill(&mut tcp);
    assert_eq!(tcp, before);
    assert!(verify(&tcp));
    assert!(!spoil(&tcp, &mut Vec::new()));
    let arp = [0u8; 42];
    assert!(verify(&arp));
}

#[test]
fn filling_again_changes_nothing() {
    let made = segment_at(77, &bytes(999, 3), false);
    let mut again = made.clone();
    fill(&mut again);
    fill(&mut again);
    assert_eq!(again, made);
}

/// `sum` against the sum of big-endian words taken one at a time, on every length up to a
/// few blocks and a few long ones, at every alignment, on random bytes and on all-ones bytes
/// (where every carry is taken).
#[test]
fn sums_agree_with_a_word_at_a_time() {
    fn slow(data: &[u8]) -> u16 {
        let mut acc: u64 = 0;
        for pair in data.chunks(2) {
            let hi = u64::from(pair[0]) << 8;
            acc += hi | pair.get(1).map_or(0, |&b| u64::from(b));
        }
        while acc > 0xffff {
            acc = (acc & 0xffff) + (acc >> 16);
        }
        acc as u16
    }
    let random = bytes(70_000, 7);
    let ones = vec![0xff; 70_000];
    let lens = (0..200).chain([1447, 1448, 9999, 10_000, 65_535, 69_990]);
    for len in lens {
        for at in 0..4 {
            for data in [&random[at..at + len], &ones[at..at + len]] {
                assert_eq!(sum(data), slow(data), "{len} bytes at {at}");
            }
        }
    }
}

/// The byte-level reading of a frame's headers agrees with smoltcp's checked views on frames
/// with every header byte that matters set at random, and on every truncation.
#[test]
fn segments_read_as_smoltcps_views() {
    let base = segment_at(1000, &bytes(300, 3), false);
    let (mut found, mut refused) = (0, 0);
    // Ethernet type, version/IHL, total length, protocol, addresses.
    let fields = [12, 13, 14, 16, 17, 23, 26, 29, 30, 33];
    for f in mutations(&base, &fields, 4, 0x2545_f491_4f6c_dd1d, 50_000) {
        let got = super::segment(&f);
        assert_eq!(got, super::segment_checked(&f), "{f:?}");
        if got.is_some() {
            found += 1;
        } else {
            refused += 1;
        }
    }
    assert!(found > 1000 && refused > 1000, "{found} {refused}");
}
