//! The host stack's smoltcp device: received frames wait in a bounded, preallocated ring;
//! transmitted frames are written into one preallocated buffer and handed to a caller's sink.

use crate::dataplane::Iface;
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// Frames the ring holds.
pub const RING_SLOTS: usize = 64;
/// Longest frame the ring takes (a 1500-byte MTU frame fits with room to spare).
pub const SLOT_LEN: usize = 2048;
/// Largest frame the stack sends: a 1500-byte IP MTU plus the Ethernet header.
pub const MTU: usize = crate::wire::MAX_FRAME_LEN;

/// Why [`Ring::push`] refused a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Full,
    Oversize,
}

/// A FIFO of received frames in one allocation made up front.
pub struct Ring {
    data: Box<[u8]>,
    lens: [u16; RING_SLOTS],
    head: usize,
    len: usize,
}

impl Ring {
    pub fn new() -> Ring {
        Ring {
            data: vec![0; RING_SLOTS * SLOT_LEN].into_boxed_slice(),
            lens: [0; RING_SLOTS],
            head: 0,
            len: 0,
        }
    }

    /// Copies `frame` into the next free slot.
    pub fn push(&mut self, frame: &[u8]) -> Result<(), Refused> {
        if frame.len() > SLOT_LEN {
            return Err(Refused::Oversize);
        }
        if self.len == RING_SLOTS {
            return Err(Refused::Full);
        }
        let slot = (self.head + self.len) % RING_SLOTS;
        self.data[slot * SLOT_LEN..][..frame.len()].copy_from_slice(frame);
        self.lens[slot] = frame.len() as u16;
        self.len += 1;
        Ok(())
    }

    /// Takes the oldest frame; its bytes stay valid until the next `push`.
    pub fn pop(&mut self) -> Option<&[u8]> {
        if self.len == 0 {
            return None;
        }
        let slot = self.head;
        self.head = (self.head + 1) % RING_SLOTS;
        self.len -= 1;
        Some(&self.data[slot * SLOT_LEN..][..usize::from(self.lens[slot])])
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The transmit half: a buffer for one frame, where it goes, and a count.
pub struct Tx<'a, S> {
    pub buf: &'a mut [u8],
    pub sink: &'a mut S,
    pub iface: Iface,
    pub sent: &'a mut u64,
}

/// A device for one `Interface::poll`: the interface's ring and the caller's sink.
pub struct Phy<'a, S> {
    pub rx: &'a mut Ring,
    pub tx: Tx<'a, S>,
}

/// What the interfaces are told about the device.
pub fn capabilities() -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = MTU;
    caps
}

impl<'a, S: FnMut(Iface, &[u8])> Device for Phy<'a, S> {
    type RxToken<'b>
        = Rx<'b>
    where
        Self: 'b;
    type TxToken<'b>
        = TxSlot<'b, 'a, S>
    where
        Self: 'b;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let frame = self.rx.pop()?;
        Some((Rx(frame), TxSlot(&mut self.tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        Some(TxSlot(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities()
    }
}

/// A received frame, borrowed from the ring.
pub struct Rx<'b>(&'b [u8]);

impl RxToken for Rx<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

/// Room for one frame to send.
pub struct TxSlot<'b, 'a, S>(&'b mut Tx<'a, S>);

impl<S: FnMut(Iface, &[u8])> TxToken for TxSlot<'_, '_, S> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        // smoltcp never asks for more than the MTU the device announced.
        let frame = &mut self.0.buf[..len];
        let result = f(frame);
        (self.0.sink)(self.0.iface, frame);
        *self.0.sent += 1;
        result
    }
}
