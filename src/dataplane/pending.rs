//! Frames parked while their next hop's MAC is resolved: a fixed pool of slots reserved at
//! start, so parking a frame copies it but never allocates.

use super::counters::DropReason;

/// Frames that can wait at once.
pub const SLOTS: usize = 256;
/// Bytes per slot (a full Ethernet frame with a VLAN tag of room).
pub const SLOT_LEN: usize = 1536;
/// How long a parked frame may wait before it is dropped.
pub const MAX_WAIT_MS: u64 = 3000;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    used: bool,
    len: u16,
    neighbour: u16,
    since_ms: u64,
}

/// The pool of parked frames.
pub struct Pending {
    data: Vec<u8>,
    slots: Vec<Slot>,
    used: usize,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            data: vec![0; SLOTS * SLOT_LEN],
            slots: vec![Slot::default(); SLOTS],
            used: 0,
        }
    }
}

impl Pending {
    /// Parks a copy of `frame` until `neighbour` resolves.
    pub fn park(&mut self, neighbour: usize, frame: &[u8], now_ms: u64) -> Result<(), DropReason> {
        if frame.len() > SLOT_LEN {
            return Err(DropReason::Oversize);
        }
        let i = self
            .slots
            .iter()
            .position(|s| !s.used)
            .ok_or(DropReason::QueueFull)?;
        self.data[i * SLOT_LEN..i * SLOT_LEN + frame.len()].copy_from_slice(frame);
        self.slots[i] = Slot {
            used: true,
            len: frame.len() as u16,
            neighbour: neighbour as u16,
            since_ms: now_ms,
        };
        self.used += 1;
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Copies out the oldest frame waiting for a neighbour for which `ready` holds, freeing
    /// its slot; returns its neighbour and length. `out` must hold [`SLOT_LEN`] bytes.
    pub fn take_ready(
        &mut self,
        mut ready: impl FnMut(usize) -> bool,
        out: &mut [u8],
    ) -> Option<(usize, usize)> {
        if self.used == 0 {
            return None;
        }
        let i = (0..SLOTS)
            .filter(|&i| self.slots[i].used && ready(self.slots[i].neighbour as usize))
            .min_by_key(|&i| self.slots[i].since_ms)?;
        let slot = self.slots[i];
        let len = slot.len as usize;
        if out.len() < len {
            return None;
        }
        out[..len].copy_from_slice(&self.data[i * SLOT_LEN..i * SLOT_LEN + len]);
        self.slots[i].used = false;
        self.used -= 1;
        Some((slot.neighbour as usize, len))
    }

    /// Drops every frame waiting for `neighbour`, or (with `None`) every frame older than
    /// [`MAX_WAIT_MS`]. Returns how many were dropped.
    pub fn discard(&mut self, neighbour: Option<usize>, now_ms: u64) -> u64 {
        let mut n = 0;
        for s in self.slots.iter_mut().filter(|s| s.used) {
            let hit = match neighbour {
                Some(nb) => s.neighbour as usize == nb,
                None => now_ms >= s.since_ms + MAX_WAIT_MS,
            };
            if hit {
                s.used = false;
                n += 1;
            }
        }
        self.used -= n as usize;
        n
    }

    /// When the oldest parked frame times out.
    pub fn poll_at(&self) -> Option<u64> {
        if self.used == 0 {
            return None;
        }
        self.slots
            .iter()
            .filter(|s| s.used)
            .map(|s| s.since_ms + MAX_WAIT_MS)
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn park_release_in_order_and_discard() {
        let mut p = Pending::default();
        p.park(1, &[1, 2, 3], 10).unwrap();
        p.park(2, &[4, 5], 11).unwrap();
        p.park(1, &[6], 12).unwrap();
        let mut out = [0u8; SLOT_LEN];
        assert_eq!(p.take_ready(|n| n == 1, &mut out), Some((1, 3)));
        assert_eq!(&out[..3], &[1, 2, 3]);
        assert_eq!(p.take_ready(|n| n == 1, &mut out), Some((1, 1)));
        assert_eq!(p.take_ready(|n| n == 1, &mut out), None);
        assert_eq!(p.discard(None, 11 + MAX_WAIT_MS - 1), 0);
        assert_eq!(p.discard(Some(2), 0), 1);
        assert!(p.is_empty());
        assert_eq!(p.park(0, &[0; SLOT_LEN + 1], 0), Err(DropReason::Oversize));
        for _ in 0..SLOTS {
            p.park(0, &[0], 0).unwrap();
        }
        assert_eq!(p.park(0, &[0], 0), Err(DropReason::QueueFull));
    }
}
