//! Frames a director node made itself (VRRP adverts, sync datagrams, its host stack's frames),
//! built in place in preallocated slots and handed out in order by `poll_transmit`. A full
//! outbox drops the frame and counts it, as a full NIC queue would.

use crate::dataplane::Iface;

/// Frames held at once.
const SLOTS: usize = 256;
/// Longest frame a slot holds (an Ethernet frame of a 1500-byte MTU, with room to spare).
pub const SLOT_LEN: usize = 1536;

/// A ring of frame slots.
pub struct Outbox {
    data: Box<[u8]>,
    /// By slot: the port and length of the frame in it.
    meta: Box<[(Iface, usize)]>,
    head: usize,
    len: usize,
    dropped: u64,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            data: vec![0; SLOTS * SLOT_LEN].into_boxed_slice(),
            meta: vec![(Iface::OUTSIDE, 0); SLOTS].into_boxed_slice(),
            head: 0,
            len: 0,
            dropped: 0,
        }
    }
}

impl Outbox {
    /// Builds a frame for `iface` in the next free slot: `build` writes it and returns its
    /// length (`None`: nothing to send). Returns false when the outbox was full (counted).
    pub fn push_with(
        &mut self,
        iface: Iface,
        build: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> bool {
        if self.len == SLOTS {
            self.dropped += 1;
            return false;
        }
        let slot = (self.head + self.len) % SLOTS;
        let buf = &mut self.data[slot * SLOT_LEN..(slot + 1) * SLOT_LEN];
        match build(buf) {
            Some(n) if n <= SLOT_LEN => {
                self.meta[slot] = (iface, n);
                self.len += 1;
            }
            _ => {}
        }
        true
    }

    /// Copies a frame made elsewhere into the outbox.
    pub fn push(&mut self, iface: Iface, frame: &[u8]) -> bool {
        if frame.len() > SLOT_LEN {
            self.dropped += 1;
            return false;
        }
        self.push_with(iface, |buf| {
            buf[..frame.len()].copy_from_slice(frame);
            Some(frame.len())
        })
    }

    /// Takes the oldest frame into `buf`: its port and length.
    pub fn pop(&mut self, buf: &mut [u8]) -> Option<(Iface, usize)> {
        if self.len == 0 {
            return None;
        }
        let (iface, n) = self.meta[self.head];
        let start = self.head * SLOT_LEN;
        self.head = (self.head + 1) % SLOTS;
        self.len -= 1;
        let n = n.min(buf.len());
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Some((iface, n))
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frames dropped because the outbox was full or they were too long.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_in_order_and_a_full_outbox_counts_drops() {
        let mut out = Outbox::default();
        for i in 0..SLOTS {
            assert!(out.push(Iface(0), &[i as u8; 60]));
        }
        assert!(!out.push(Iface(1), &[0; 60]));
        assert_eq!(out.dropped(), 1);
        let mut buf = [0u8; SLOT_LEN];
        for i in 0..SLOTS {
            assert_eq!(out.pop(&mut buf), Some((Iface(0), 60)));
            assert_eq!(buf[0], i as u8);
        }
        assert_eq!(out.pop(&mut buf), None);
        assert!(
            out.push_with(Iface(1), |_| None),
            "nothing built: not a drop"
        );
        assert!(out.is_empty());
    }
}
