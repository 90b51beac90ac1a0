//! TCP resets for segments that find no connection: what an IPVS director's own kernel does,
//! since it holds the VIP. A client whose connection was expired (its server taken out by a
//! health check, or a takeover without sync) learns it at its next segment and reconnects at
//! once instead of retransmitting into the void. Queued in a fixed ring, emitted by
//! `poll_transmit`: nothing allocates on the packet path.

use crate::wire::{EthernetAddress, EthernetFrame, EthernetProtocol, IpProtocol, Ipv4Packet};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetRepr, IpAddress, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber,
};
use std::collections::VecDeque;
use std::net::Ipv4Addr;

/// Resets waiting to go out at most; beyond, they are not sent (counted).
pub const RESET_QUEUE: usize = 64;

/// One reset to send back to where a segment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// The segment's source MAC (the router, or an on-link client).
    pub to_mac: EthernetAddress,
    pub client: Ipv4Addr,
    pub client_port: u16,
    pub vip: Ipv4Addr,
    pub vport: u16,
    pub seq: u32,
    /// `Some(ack)`: an RST|ACK for a segment without ACK (RFC 9293 3.10.7.1).
    pub ack: Option<u32>,
}

impl Reset {
    /// The reset answering the TCP segment in `frame` (Ethernet/IPv4/TCP, already checked by
    /// the caller); `None` for a segment that is itself a reset.
    pub fn answering(frame: &[u8]) -> Option<Reset> {
        let eth = EthernetFrame::new_checked(frame).ok()?;
        let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        if tcp.rst() {
            return None;
        }
        let (seq, ack) = if tcp.ack() {
            (tcp.ack_number().0 as u32, None)
        } else {
            let len = tcp.payload().len() + usize::from(tcp.syn()) + usize::from(tcp.fin());
            let ack = (tcp.seq_number() + len).0 as u32;
            (0, Some(ack))
        };
        Some(Reset {
            to_mac: eth.src_addr(),
            client: ip.src_addr(),
            client_port: tcp.src_port(),
            vip: ip.dst_addr(),
            vport: tcp.dst_port(),
            seq,
            ack,
        })
    }

    /// Writes the reset frame from `mac` into `buf`; returns its length.
    pub fn emit(&self, mac: EthernetAddress, buf: &mut [u8]) -> usize {
        let tcp = TcpRepr {
            src_port: self.vport,
            dst_port: self.client_port,
            control: TcpControl::Rst,
            seq_number: TcpSeqNumber(self.seq as i32),
            ack_number: self.ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let ip = Ipv4Repr {
            src_addr: self.vip,
            dst_addr: self.client,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.header_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: mac,
            dst_addr: self.to_mac,
            ethertype: EthernetProtocol::Ipv4,
        };
        let len = eth.buffer_len() + ip.buffer_len() + tcp.header_len();
        let caps = ChecksumCapabilities::default();
        let mut frame = EthernetFrame::new_unchecked(&mut buf[..len]);
        eth.emit(&mut frame);
        let mut packet = Ipv4Packet::new_unchecked(frame.payload_mut());
        ip.emit(&mut packet, &caps);
        let mut segment = TcpPacket::new_unchecked(packet.payload_mut());
        tcp.emit(
            &mut segment,
            &IpAddress::Ipv4(self.vip),
            &IpAddress::Ipv4(self.client),
            &caps,
        );
        len
    }
}

/// The resets waiting to go out.
#[derive(Debug)]
pub struct Resets {
    queue: VecDeque<Reset>,
}

impl Default for Resets {
    fn default() -> Self {
        Resets {
            queue: VecDeque::with_capacity(RESET_QUEUE),
        }
    }
}

impl Resets {
    /// Queues a reset; false when the queue is full.
    pub fn push(&mut self, reset: Reset) -> bool {
        if self.queue.len() >= RESET_QUEUE {
            return false;
        }
        self.queue.push_back(reset);
        true
    }

    pub fn pop(&mut self) -> Option<Reset> {
        self.queue.pop_front()
    }
}
