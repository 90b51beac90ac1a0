//! What `tapvs spoof vrrp` sends (`src/spoof.rs`), as an emulated host on one port (0): the
//! same checked plan ([`crate::spoof::plan`]), one VRRPv3 advert per destination (IPv4
//! protocol 112, TTL 255, from the given source) every `interval`, `count` times, the first at
//! `start`. It answers ARP for its own address. Unicast destinations come with their MAC
//! (the engine knows them): the kernel's ARP exchange before the first unicast advert is not
//! modelled. Frames are built once at [`Spoofer::new`]; sending copies them.

use super::Node;
use super::arp;
use crate::spoof::SpoofVrrpArgs;
use crate::wire::vrrp::{self, VrrpPacket};
use crate::wire::{EthernetAddress, IpProtocol, emit_ipv4_frame};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::Ipv4Repr;
use std::net::Ipv4Addr;

/// The spoofing host.
pub struct Spoofer {
    mac: EthernetAddress,
    src: Ipv4Addr,
    /// One whole frame per destination.
    frames: Vec<Vec<u8>>,
    interval: Duration,
    count: u32,
    start: Instant,
    /// Rounds sent so far, and frames of the current round still to send.
    rounds: u32,
    pending: usize,
    arp_reply: Option<arp::Arp>,
    /// Adverts sent (one per destination per round).
    pub sent: u64,
}

impl Spoofer {
    /// The spoofer of `args` on a host with `mac`; `macs` gives the MAC of each unicast
    /// `--to` address. Refused like the real one (bounds, destinations), or for an address
    /// `macs` does not know.
    pub fn new(
        args: &SpoofVrrpArgs,
        mac: EthernetAddress,
        start: Instant,
        macs: impl Fn(Ipv4Addr) -> Option<EthernetAddress>,
    ) -> anyhow::Result<Spoofer> {
        let repr = crate::spoof::plan(args)?;
        let mut frames = Vec::with_capacity(args.to.len());
        for &dst in &args.to {
            let dst_mac = if dst == vrrp::GROUP {
                vrrp::GROUP_MAC
            } else {
                macs(dst).ok_or_else(|| anyhow::anyhow!("--to {dst}: no MAC known"))?
            };
            let ip = Ipv4Repr {
                src_addr: args.src,
                dst_addr: dst,
                next_header: IpProtocol::Unknown(vrrp::PROTOCOL),
                payload_len: repr.buffer_len(),
                hop_limit: vrrp::TTL,
            };
            let mut frame = vec![0u8; 14 + ip.buffer_len() + repr.buffer_len()];
            let mut packet = emit_ipv4_frame(&mut frame, (mac, dst_mac), &ip);
            repr.emit(
                &mut VrrpPacket::new_unchecked(packet.payload_mut()),
                args.src,
                dst,
            );
            packet.fill_checksum();
            frames.push(frame);
        }
        let interval = Duration::from_micros(args.interval.as_micros() as u64);
        Ok(Spoofer {
            mac,
            src: args.src,
            frames,
            interval,
            count: args.count,
            start,
            rounds: 0,
            pending: 0,
            arp_reply: None,
            sent: 0,
        })
    }

    /// When the next round is due, if any is left.
    fn next_round(&self) -> Option<Instant> {
        (self.rounds < self.count).then(|| self.start + self.interval * self.rounds)
    }
}

impl Node for Spoofer {
    fn handle_frame(&mut self, _now: Instant, port: usize, frame: &mut [u8]) -> Option<usize> {
        if port == 0
            && let Some(request) = arp::parse(frame)
        {
            self.arp_reply = arp::answer(&request, self.mac, self.src);
        }
        None
    }

    fn handle_timeout(&mut self, now: Instant) {
        // A round not sent yet is sent now; rounds never pile up (one due at a time).
        if self.pending == 0 && self.next_round().is_some_and(|t| t <= now) {
            self.rounds += 1;
            self.pending = self.frames.len();
        }
    }

    fn poll_transmit(&mut self, _now: Instant, buf: &mut [u8]) -> Option<(usize, usize)> {
        if let Some(reply) = self.arp_reply.take() {
            return Some((0, arp::write(buf, &reply)));
        }
        if self.pending == 0 {
            return None;
        }
        let frame = &self.frames[self.frames.len() - self.pending];
        self.pending -= 1;
        self.sent += 1;
        buf[..frame.len()].copy_from_slice(frame);
        Some((0, frame.len()))
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        if self.pending > 0 {
            return None;
        }
        self.next_round()
    }
}
