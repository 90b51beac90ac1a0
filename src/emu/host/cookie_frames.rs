//! The frames of a simulated server's SYN cookies ([`super::cookies`]): finding a TCP
//! segment in a frame, writing one, and shifting a cookie connection's sequence numbers in
//! place (checksum updated incrementally, as a NAT rewrite does). Allocates nothing.

use super::acks::TSVAL;
use super::conns::Key;
use super::device::TxQueue;
use super::stack::Addresses;
use super::syncookie::{self, CookieSyn};
use crate::wire::checksum::update_word;
use crate::wire::fields::{be16, be32};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, HardwareAddress, IpProtocol,
    Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
    TcpTimestampRepr,
};

/// A TCP segment to this host in a frame: the TCP header's offset and the IPv4 addresses.
pub struct Found {
    pub at: usize,
    pub src: Ipv4Address,
    pub dst: Ipv4Address,
}

/// The TCP segment of `frame`, if it is one (any destination when `addrs` is `None`).
pub fn find(
    frame: &[u8],
    mac: Option<HardwareAddress>,
    addrs: Option<&dyn Addresses>,
) -> Option<Found> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 || mac.is_some_and(|m| m != eth.dst_addr().into())
    {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp || addrs.is_some_and(|a| !a.accepts(ip.dst_addr())) {
        return None;
    }
    TcpPacket::new_checked(ip.payload()).ok()?;
    let at = 14 + usize::from(ip.header_len());
    Some(Found {
        at,
        src: ip.src_addr(),
        dst: ip.dst_addr(),
    })
}

/// Adds `by` to the 32-bit field at `field` of the TCP segment `tcp`, checksum updated.
pub fn shift(tcp: &mut [u8], field: usize, by: u32) {
    let old = be32(tcp, field);
    let new = old.wrapping_add(by);
    tcp[field..field + 4].copy_from_slice(&new.to_be_bytes());
    let mut check = be16(tcp, 16);
    check = update_word(check, (old >> 16) as u16, (new >> 16) as u16);
    check = update_word(check, old as u16, new as u16);
    tcp[16..18].copy_from_slice(&check.to_be_bytes());
}

/// Adds `by` to a segment's acknowledgement number and to the edges of its SACK blocks.
pub fn shift_acks(tcp: &mut [u8], by: u32) {
    shift(tcp, 8, by);
    let end = usize::from(tcp[12] >> 4) * 4;
    let mut i = 20;
    while i < end {
        match tcp[i] {
            0 => break,
            1 => i += 1,
            kind => {
                let len = usize::from(tcp.get(i + 1).copied().unwrap_or(0)).max(2);
                if kind == 5 {
                    let mut edge = i + 2;
                    while edge + 4 <= (i + len).min(end) {
                        shift(tcp, edge, by);
                        edge += 4;
                    }
                }
                i += len;
            }
        }
    }
}

/// Writes an Ethernet frame carrying `tcp` from `src` to `dst`; its length.
pub fn write(
    buf: &mut [u8],
    macs: (EthernetAddress, EthernetAddress),
    src: Ipv4Address,
    dst: Ipv4Address,
    tcp: &TcpRepr,
) -> usize {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        hop_limit: 64,
    };
    let len = 14 + ip.buffer_len() + tcp.buffer_len();
    let mut eth = EthernetFrame::new_unchecked(&mut buf[..len]);
    EthernetRepr {
        src_addr: macs.0,
        dst_addr: macs.1,
        ethertype: EthernetProtocol::Ipv4,
    }
    .emit(&mut eth);
    let caps = ChecksumCapabilities::default();
    let mut packet = Ipv4Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet, &caps);
    tcp.emit(
        &mut TcpPacket::new_unchecked(packet.payload_mut()),
        &src.into(),
        &dst.into(),
        &caps,
    );
    len
}

/// The SYN-ACK answering `syn` with ISN `cookie`, as Linux sends it: the server's MSS (a
/// 1500-byte IP MTU) and `window`; window scale (`shift`) and SACK only with timestamps,
/// whose TSval carries the client's ([`syncookie::timestamp`]).
pub fn cookie_syn_ack<'a>(syn: &TcpRepr<'a>, cookie: u32, window: u16, shift: u8) -> TcpRepr<'a> {
    let ts = syn.timestamp.map(|t| TcpTimestampRepr {
        tsval: syncookie::timestamp(TSVAL, syn.window_scale, syn.sack_permitted),
        tsecr: t.tsval,
    });
    TcpRepr {
        src_port: syn.dst_port,
        dst_port: syn.src_port,
        control: TcpControl::Syn,
        seq_number: TcpSeqNumber(cookie as i32),
        ack_number: Some(syn.seq_number + 1),
        window_len: window,
        window_scale: syn.window_scale.and(ts).map(|_| shift),
        max_seg_size: Some(syncookie::MSS_TABLE[3]),
        sack_permitted: syn.sack_permitted && ts.is_some(),
        sack_ranges: [None; 3],
        timestamp: ts,
        payload: &[],
    }
}

/// The SYN a valid cookie `ack` stands for: its sequence number less one, and what the
/// cookie kept of the client's options.
pub fn syn_of<'a>(ack: &TcpRepr<'a>, kept: CookieSyn) -> TcpRepr<'a> {
    TcpRepr {
        control: TcpControl::Syn,
        seq_number: ack.seq_number - 1,
        ack_number: None,
        window_scale: kept.window_scale,
        max_seg_size: Some(kept.mss),
        sack_permitted: kept.sack,
        sack_ranges: [None; 3],
        timestamp: ack.timestamp.map(|t| TcpTimestampRepr::new(t.tsval, 0)),
        payload: &[],
        ..*ack
    }
}

/// Takes back unsent the SYN-ACK of `key` (the server's view) the stack queued; its ISN.
pub fn retract(tx: &mut TxQueue, key: Key) -> Option<u32> {
    let (i, isn) = (tx.queue.iter().enumerate().rev())
        .find_map(|(i, frame)| Some((i, syn_ack_seq(frame, key)?)))?;
    tx.spare.extend(tx.queue.remove(i));
    Some(isn)
}

/// The last SYN-ACK of `key` (the server's view) the stack queued.
pub fn find_syn_ack(tx: &TxQueue, key: Key) -> Option<&[u8]> {
    let frame = tx
        .queue
        .iter()
        .rev()
        .find(|f| syn_ack_seq(f, key).is_some())?;
    Some(&frame[..])
}

/// The sequence number of `frame` if it is the SYN-ACK of `key` (the server's view).
fn syn_ack_seq(frame: &[u8], key: Key) -> Option<u32> {
    let Found { at, src, dst } = find(frame, None, None)?;
    let tcp = TcpPacket::new_unchecked(&frame[at..]);
    let ours = (src, tcp.src_port(), dst, tcp.dst_port()) == key;
    (ours && tcp.syn() && tcp.ack()).then(|| tcp.seq_number().0 as u32)
}
