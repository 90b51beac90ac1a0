//! A TCP segment without payload (a cookie SYN-ACK) written straight into a frame: the bytes
//! smoltcp's `EthernetRepr`, `Ipv4Repr` and `TcpRepr` emitters write for it (as
//! [`super::cookie_frames::write`]), checksums by smoltcp's own arithmetic, without their
//! per-field slicing. A segment with payload or SACK blocks is left to the emitters.

use super::cookie_frames::write;
use smoltcp::wire::{
    EthernetAddress, IpAddress, IpProtocol, Ipv4Address, TcpControl, TcpRepr, checksum,
};

/// Ethernet, then IPv4 (no options), then TCP.
const IP: usize = 14;
const TCP: usize = IP + 20;

/// Writes an Ethernet frame carrying `tcp` from `src` to `dst` (MACs `macs`: source,
/// destination); its length. The same bytes as [`write`].
pub fn write_bare(
    buf: &mut [u8],
    macs: (EthernetAddress, EthernetAddress),
    src: Ipv4Address,
    dst: Ipv4Address,
    tcp: &TcpRepr,
) -> usize {
    if !tcp.payload.is_empty() || tcp.sack_ranges.iter().any(Option::is_some) {
        return write(buf, macs, src, dst, tcp);
    }
    let header = tcp.header_len();
    let len = TCP + header;
    let buf = &mut buf[..len];
    buf[..6].copy_from_slice(macs.1.as_bytes());
    buf[6..12].copy_from_slice(macs.0.as_bytes());
    buf[12..14].copy_from_slice(&[0x08, 0x00]);
    let total = (20 + header) as u16;
    let ip = &mut buf[IP..TCP];
    ip[..4].copy_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8]);
    // Ident 0, don't fragment, TTL 64, TCP, checksum 0 while summed.
    ip[4..12].copy_from_slice(&[0, 0, 0x40, 0, 64, u8::from(IpProtocol::Tcp), 0, 0]);
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let check = !checksum::data(ip);
    ip[10..12].copy_from_slice(&check.to_be_bytes());
    let seg = &mut buf[TCP..];
    seg[..2].copy_from_slice(&tcp.src_port.to_be_bytes());
    seg[2..4].copy_from_slice(&tcp.dst_port.to_be_bytes());
    seg[4..8].copy_from_slice(&tcp.seq_number.0.to_be_bytes());
    let ack = tcp.ack_number.map_or(0, |a| a.0);
    seg[8..12].copy_from_slice(&ack.to_be_bytes());
    let mut flags = match tcp.control {
        TcpControl::None => 0,
        TcpControl::Psh => 0x008,
        TcpControl::Syn => 0x002,
        TcpControl::Fin => 0x001,
        TcpControl::Rst => 0x004,
    };
    if tcp.ack_number.is_some() {
        flags |= 0x010;
    }
    let word = ((header as u16 / 4) << 12) | flags;
    seg[12..14].copy_from_slice(&word.to_be_bytes());
    seg[14..16].copy_from_slice(&tcp.window_len.to_be_bytes());
    // Checksum 0 while summed, urgent pointer 0.
    seg[16..20].fill(0);
    let mut at = 20;
    let mut put = |seg: &mut [u8], bytes: &[u8]| {
        seg[at..at + bytes.len()].copy_from_slice(bytes);
        at += bytes.len();
    };
    if let Some(mss) = tcp.max_seg_size {
        let [hi, lo] = mss.to_be_bytes();
        put(seg, &[2, 4, hi, lo]);
    }
    if let Some(scale) = tcp.window_scale {
        put(seg, &[3, 3, scale]);
    }
    if tcp.sack_permitted {
        put(seg, &[4, 2]);
    }
    if let Some(ts) = tcp.timestamp {
        let (v, e) = (ts.tsval.to_be_bytes(), ts.tsecr.to_be_bytes());
        put(
            seg,
            &[8, 10, v[0], v[1], v[2], v[3], e[0], e[1], e[2], e[3]],
        );
    }
    // End of list, and the padding after it.
    seg[at..].fill(0);
    let (s, d) = (IpAddress::Ipv4(src), IpAddress::Ipv4(dst));
    let pseudo = checksum::pseudo_header(&s, &d, IpProtocol::Tcp, header as u32);
    let check = !checksum::combine(&[pseudo, checksum::data(seg)]);
    seg[16..18].copy_from_slice(&check.to_be_bytes());
    len
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use smoltcp::wire::{TcpSeqNumber, TcpTimestampRepr};

    const FRAME: usize = 14 + 20 + 60;

    #[test]
    fn writes_the_bytes_smoltcps_emitters_write() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let controls = [
            TcpControl::None,
            TcpControl::Psh,
            TcpControl::Syn,
            TcpControl::Fin,
            TcpControl::Rst,
        ];
        let sacks = [None, None, Some((5, 9)), Some((1, 2))];
        let payload = [7u8; 5];
        for _ in 0..20_000 {
            let mac = |rng: &mut ChaCha8Rng| EthernetAddress(rng.random());
            let macs = (mac(&mut rng), mac(&mut rng));
            let (src, dst) = (Ipv4Address::from_bits(rng.random()), rng.random());
            let repr = TcpRepr {
                src_port: rng.random_range(1..=u16::MAX),
                dst_port: rng.random_range(1..=u16::MAX),
                control: controls[rng.random_range(0..controls.len())],
                seq_number: TcpSeqNumber(rng.random()),
                ack_number: rng.random_bool(0.7).then(|| TcpSeqNumber(rng.random())),
                window_len: rng.random(),
                window_scale: rng.random_bool(0.5).then(|| rng.random_range(0..15)),
                max_seg_size: rng.random_bool(0.8).then(|| rng.random()),
                sack_permitted: rng.random_bool(0.5),
                sack_ranges: [sacks[rng.random_range(0..sacks.len())], None, None],
                timestamp: rng
                    .random_bool(0.7)
                    .then(|| TcpTimestampRepr::new(rng.random(), rng.random())),
                payload: if rng.random_bool(0.1) { &payload } else { &[] },
            };
            // Stale bytes in the buffer must not show.
            let (mut want, mut got) = ([0u8; FRAME], [rng.random::<u8>(); FRAME]);
            let n = write(&mut want, macs, src, Ipv4Address::from_bits(dst), &repr);
            let m = write_bare(&mut got, macs, src, Ipv4Address::from_bits(dst), &repr);
            assert_eq!(got[..m], want[..n], "{repr:?}");
        }
    }
}
