//! Cutting a super-segment: the pieces a capture after `tcp_gso_segment` shows.

use super::{MAX_SUPER_FRAME, Unsegmentable, coalesce, segment, tcp_at, tcp_at_checked};
use crate::wire::MAX_FRAME_LEN;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, IpAddress, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};

const SRC: Ipv4Address = Ipv4Address::new(198, 18, 0, 11);
const DST: Ipv4Address = Ipv4Address::new(198, 19, 0, 7);

/// An Ethernet frame holding one TCP segment of `payload` (PSH and FIN set, timestamps).
fn frame(payload: &[u8]) -> Vec<u8> {
    segment_at(1000, payload, true)
}

/// A segment of `payload` at `seq`, the end of a write (PSH and FIN) if `last`.
pub(in crate::emu) fn segment_at(seq: i32, payload: &[u8], last: bool) -> Vec<u8> {
    let tcp = TcpRepr {
        src_port: 80,
        dst_port: 40000,
        control: if last {
            TcpControl::Fin
        } else {
            TcpControl::None
        },
        seq_number: TcpSeqNumber(seq),
        ack_number: Some(TcpSeqNumber(77)),
        window_len: 5000,
        window_scale: None,
        max_seg_size: None,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: Some(smoltcp::wire::TcpTimestampRepr::new(1, 2)),
        payload,
    };
    let ip = Ipv4Repr {
        src_addr: SRC,
        dst_addr: DST,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let eth = EthernetRepr {
        src_addr: EthernetAddress([2, 0, 0, 0, 0, 1]),
        dst_addr: EthernetAddress([2, 0, 0, 0, 0, 2]),
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut buf = vec![0; 14 + ip.buffer_len() + tcp.buffer_len()];
    let caps = ChecksumCapabilities::default();
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    eth.emit(&mut f);
    let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
    ip.emit(&mut p, &caps);
    p.set_ident(500);
    p.fill_checksum();
    let mut t = TcpPacket::new_unchecked(p.payload_mut());
    tcp.emit(&mut t, &SRC.into(), &DST.into(), &caps);
    t.set_psh(last);
    t.fill_checksum(&SRC.into(), &DST.into());
    buf
}

fn pieces(frame: &[u8]) -> Result<Vec<Vec<u8>>, Unsegmentable> {
    let mut out = Vec::new();
    let mut piece = [0; MAX_FRAME_LEN];
    let n = segment(frame, &mut piece, |p| out.push(p.to_vec()))?;
    assert_eq!(n, out.len());
    Ok(out)
}

#[test]
fn a_super_segment_becomes_mtu_frames_with_linuxs_headers() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let whole = frame(&payload);
    let out = pieces(&whole).expect("TCP");
    // 20 + 20 + 12 bytes of headers: 1448 bytes a piece, as Linux's MSS with timestamps.
    assert_eq!(out.len(), 7);
    let mut data = Vec::new();
    for (i, f) in out.iter().enumerate() {
        assert!(f.len() <= MAX_FRAME_LEN, "piece {i}: {} bytes", f.len());
        let ip = Ipv4Packet::new_checked(&f[14..]).expect("IPv4");
        assert!(ip.verify_checksum(), "piece {i}: IP checksum");
        assert_eq!(ip.total_len() as usize, f.len() - 14);
        assert_eq!(ip.ident(), 500 + i as u16);
        let t = TcpPacket::new_checked(ip.payload()).expect("TCP");
        assert!(t.verify_checksum(&IpAddress::Ipv4(SRC), &IpAddress::Ipv4(DST)));
        assert_eq!(t.seq_number(), TcpSeqNumber(1000 + data.len() as i32));
        let last = i == 6;
        assert_eq!(
            (t.psh(), t.fin()),
            (last, last),
            "piece {i}: PSH and FIN on the last"
        );
        assert_eq!(t.header_len(), 32, "piece {i}: the options copied");
        data.extend_from_slice(t.payload());
    }
    assert_eq!(data, payload);
    assert_eq!(out[0].len(), MAX_FRAME_LEN);
}

#[test]
fn a_frame_that_fits_passes_as_it_is() {
    let small = frame(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(pieces(&small), Ok(vec![small]));
}

#[test]
fn only_tcp_is_cut() {
    let mut udp = frame(&[0; 3000]);
    udp[14 + 9] = 17;
    assert_eq!(pieces(&udp), Err(Unsegmentable::NotTcp));
    assert!(frame(&[0; 65_000]).len() <= MAX_SUPER_FRAME);
}

/// `frame`'s TCP segment: checksums good, its payload and flags (PSH, FIN).
fn checked(frame: &[u8]) -> (Vec<u8>, bool, bool) {
    let ip = Ipv4Packet::new_checked(&frame[14..]).expect("IPv4");
    assert!(ip.verify_checksum(), "IP checksum");
    assert_eq!(ip.total_len() as usize, frame.len() - 14);
    let t = TcpPacket::new_checked(ip.payload()).expect("TCP");
    assert!(
        t.verify_checksum(&IpAddress::Ipv4(SRC), &IpAddress::Ipv4(DST)),
        "TCP checksum"
    );
    (t.payload().to_vec(), t.psh(), t.fin())
}

#[test]
fn the_pieces_coalesce_back_into_the_super_segment() {
    let payload: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
    let whole = frame(&payload);
    let mut pieces = pieces(&whole).expect("TCP").into_iter();
    let mut joined = pieces.next().expect("a piece");
    assert!(
        pieces.all(|p| coalesce(&mut joined, &p)),
        "each continues the last"
    );
    refill(&mut joined);
    assert_eq!(joined, whole);
}

/// The TCP checksum [`coalesce`] leaves to its caller, filled in (smoltcp's).
fn refill(frame: &mut [u8]) {
    let mut ip = Ipv4Packet::new_checked(&mut frame[14..]).expect("IPv4");
    let mut t = TcpPacket::new_checked(ip.payload_mut()).expect("TCP");
    t.fill_checksum(&IpAddress::Ipv4(SRC), &IpAddress::Ipv4(DST));
}

#[test]
fn odd_lengths_coalesce_with_a_good_ip_checksum() {
    let (a, b): (Vec<u8>, Vec<u8>) = ((0..1001).map(|i| i as u8).collect(), vec![0xab; 499]);
    let mut joined = segment_at(1000, &a, false);
    assert!(coalesce(&mut joined, &segment_at(2001, &b, true)));
    refill(&mut joined);
    let (data, psh, fin) = checked(&joined);
    assert_eq!(data, [a, b].concat());
    assert_eq!((psh, fin), (true, true), "the last segment's flags");
}

#[test]
fn only_a_continuation_of_an_open_write_coalesces() {
    let first = segment_at(1000, &[1; 100], false);
    let mut last = first.clone();
    // A gap in the sequence, an ended write, another flow: each left apart.
    assert!(!coalesce(&mut last, &segment_at(1200, &[2; 100], false)));
    let mut ended = segment_at(1000, &[1; 100], true);
    assert!(!coalesce(&mut ended, &segment_at(1100, &[2; 100], false)));
    let mut other = segment_at(1100, &[2; 100], false);
    other[14 + 20] ^= 1;
    assert!(!coalesce(&mut last, &other));
    assert_eq!(last, first, "unchanged when refused");
    // No more than a GSO packet.
    let mut big = segment_at(1000, &[1; 65_000], false);
    assert!(!coalesce(&mut big, &segment_at(66_000, &[2; 1000], false)));
}

/// `count` frames made from `base` with xorshift draws from `seed`: each byte at `fields` set
/// at random one time in `one_in`; one frame in four with a small IPv4 total length (where
/// the length checks bite); one in four cut anywhere. For tests that hold a byte-level header
/// reader to smoltcp's checked views.
pub(in crate::emu) fn mutations(
    base: &[u8],
    fields: &[usize],
    one_in: u64,
    seed: u64,
    count: usize,
) -> impl Iterator<Item = Vec<u8>> {
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let base = base.to_vec();
    let fields = fields.to_vec();
    (0..count).map(move |_| {
        let mut f = base.clone();
        for &at in &fields {
            if next() % one_in == 0 {
                f[at] = next() as u8;
            }
        }
        if next() % 4 == 0 {
            f[16] = 0;
            f[17] = (next() % 80) as u8;
        }
        let cut = if next() % 4 == 0 {
            (next() as usize) % f.len()
        } else {
            f.len()
        };
        f.truncate(cut);
        f
    })
}

/// The byte-level reading of a segment's headers agrees with smoltcp's checked views on
/// segments with every header byte that matters set at random, and on every truncation.
#[test]
fn tcp_at_reads_as_smoltcps_views() {
    let base = segment_at(1000, &[7; 300], false);
    let (mut found, mut refused) = (0, 0);
    // Version/IHL, total length, flags, protocol; TCP data offset.
    let fields = [14, 16, 17, 20, 23, 46];
    for f in mutations(&base, &fields, 3, 0x9e37_79b9_7f4a_7c15, 50_000) {
        let got = tcp_at(&f);
        assert_eq!(got, tcp_at_checked(&f), "{f:?}");
        if got.is_some() {
            found += 1;
        } else {
            refused += 1;
        }
    }
    assert!(found > 1000 && refused > 1000, "{found} {refused}");
}
