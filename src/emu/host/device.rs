//! The in-memory device a simulated host's smoltcp interface polls ([`super::stack`]): at
//! most one received frame (borrowed), and the queue of frames sent, in reused buffers, until
//! the fabric takes them. A TCP segment continuing the one queued last is joined to it
//! ([`coalesce`]): Linux's TCP hands its link GSO packets of up to 64 KiB, cut to the MTU only
//! where a device without offloads needs it. TCP checksums are offloaded to [`super::csum`]:
//! smoltcp leaves them zero, the queue fills them in once a packet is whole. Must not import
//! the hosts.

use super::csum;
use super::stack::MAX_FRAME;
use crate::emu::gso::coalesce;
use smoltcp::phy::{self, Checksum, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::collections::VecDeque;

/// The frames a host has sent and the fabric has not taken yet, in reused buffers. The last
/// one's TCP checksum may be left to fill in (a segment may yet join it, [`coalesce`]): it is
/// filled once another frame follows, or as the frame leaves ([`TxQueue::pop_front`]).
#[derive(Debug, Default)]
pub struct TxQueue {
    pub queue: VecDeque<Vec<u8>>,
    pub spare: Vec<Vec<u8>>,
    /// The last frame's TCP checksum is still to be filled in.
    pending: bool,
}

impl TxQueue {
    /// The first frame, taken out with its checksums whole.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let mut frame = self.queue.pop_front()?;
        if self.queue.is_empty() && std::mem::take(&mut self.pending) {
            csum::fill(&mut frame);
        }
        Some(frame)
    }

    /// Queues `frame` (its TCP checksum unfilled), or joins it to the last frame.
    fn push(&mut self, frame: Vec<u8>) {
        // A socket's segments of one egress pass leave as one GSO packet.
        if let Some(last) = self.queue.back_mut() {
            if coalesce(last, &frame) {
                self.spare.push(frame);
                return;
            }
            if std::mem::take(&mut self.pending) {
                csum::fill(last);
            }
        }
        self.queue.push_back(frame);
        self.pending = true;
    }
}

/// The device smoltcp polls: at most one received frame, and the transmit queue.
pub struct Port<'a> {
    pub rx: Option<&'a [u8]>,
    pub tx: &'a mut TxQueue,
}

pub struct Rx<'a>(&'a [u8]);
pub struct Tx<'a>(&'a mut TxQueue);

impl phy::RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self
            .0
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(MAX_FRAME));
        buf.clear();
        buf.resize(len, 0);
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl phy::Device for Port<'_> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = Tx<'b>
    where
        Self: 'b;

    fn receive(&mut self, _: Instant) -> Option<(Rx<'_>, Tx<'_>)> {
        let frame = self.rx.take()?;
        Some((Rx(frame), Tx(self.tx)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        // TCP checksums are [`csum`]'s: filled in above, verified before a frame comes in.
        caps.checksum.tcp = Checksum::None;
        caps
    }
}

#[cfg(test)]
mod tests;
