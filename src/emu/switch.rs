//! A learning switch (a Linux bridge without STP or ageing): it learns each unicast source MAC
//! on the port it came in on, sends a frame for a known unicast MAC out of that port only, and
//! floods broadcast, multicast and unknown destinations to every other port. It decides; the
//! fabric moves the frames. It must not import the fabric, the links or the nodes.

use crate::dataplane::flow_hash::FlowMap;
use crate::wire::EthernetAddress;

/// The Ethernet header: destination, source, EtherType.
pub const ETHERNET_HEADER: usize = 14;

/// Where a frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// Out of this port only.
    One(usize),
    /// Out of every port but the one it came in on.
    Flood,
    /// Nowhere: its destination is on the port it came from.
    Filter,
}

/// One switch's forwarding database (MACs as 48-bit integers) and counters.
#[derive(Debug, Default)]
pub struct Switch {
    fdb: FlowMap<u64, usize>,
    /// Bumped whenever the FDB changes.
    generation: u64,
    /// Per input port, the last frame [`Switch::forward_one`] sent out of one port: a frame
    /// with the same MACs while the FDB is unchanged goes the same way with no lookup.
    recent: Vec<Recent>,
    pub stats: SwitchStats,
}

/// One input port's last switched frame.
#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    dst: u64,
    src: u64,
    out: usize,
    /// The FDB's generation then (0: never; the FDB's first learning makes it 1).
    generation: u64,
}

/// What a switch did with the frames it got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SwitchStats {
    pub forwarded: u64,
    pub flooded: u64,
    pub filtered: u64,
    /// Shorter than an Ethernet header: dropped.
    pub malformed: u64,
}

impl Switch {
    /// Learns the frame's source on `from` and says where the frame goes; `None`: malformed
    /// (shorter than an Ethernet header), dropped and counted.
    pub fn forward(&mut self, from: usize, frame: &[u8]) -> Option<Forward> {
        let Some((dst, src)) = macs(frame) else {
            self.stats.malformed += 1;
            return None;
        };
        self.learn(src, from);
        let verdict = match self.fdb.get(&dst) {
            Some(&port) if is_unicast(dst) && port == from => Forward::Filter,
            Some(&port) if is_unicast(dst) => Forward::One(port),
            _ => Forward::Flood,
        };
        match verdict {
            Forward::One(_) => self.stats.forwarded += 1,
            Forward::Flood => self.stats.flooded += 1,
            Forward::Filter => self.stats.filtered += 1,
        }
        Some(verdict)
    }

    /// What [`Switch::forward`] does for a frame it would send out of exactly one port (a known
    /// unicast destination on another port) that `take` accepts: learns, counts, and returns
    /// that port. Any other frame: `None`, and nothing learnt or counted.
    pub fn forward_one(
        &mut self,
        from: usize,
        frame: &[u8],
        take: impl FnOnce(usize) -> bool,
    ) -> Option<usize> {
        let (dst, src) = macs(frame)?;
        if let Some(r) = self.recent.get(from)
            && (r.dst, r.src, r.generation) == (dst, src, self.generation)
            && r.generation != 0
        {
            // Learnt on this port when the entry was made, and nothing has moved since.
            if !take(r.out) {
                return None;
            }
            self.stats.forwarded += 1;
            return Some(r.out);
        }
        if !is_unicast(dst) || dst == src {
            return None;
        }
        let port = self.fdb.get(&dst).copied().filter(|&p| p != from)?;
        if !take(port) {
            return None;
        }
        self.learn(src, from);
        self.stats.forwarded += 1;
        if self.recent.len() <= from {
            self.recent.resize(from + 1, Recent::default());
        }
        self.recent[from] = Recent {
            dst,
            src,
            out: port,
            generation: self.generation,
        };
        Some(port)
    }

    /// A unicast source seen on `from`: a known MAC costs a lookup; only a new one (or one
    /// that moved) writes.
    fn learn(&mut self, src: u64, from: usize) {
        if is_unicast(src) && self.fdb.get(&src) != Some(&from) {
            self.fdb.insert(src, from);
            self.generation += 1;
        }
    }

    /// The port a MAC was last seen on.
    pub fn port_of(&self, mac: EthernetAddress) -> Option<usize> {
        self.fdb.get(&key(&mac.0)).copied()
    }
}

/// A frame's destination and source MACs as integers, if it has an Ethernet header.
fn macs(frame: &[u8]) -> Option<(u64, u64)> {
    let header: &[u8; 12] = frame.get(..12)?.try_into().ok()?;
    (frame.len() >= ETHERNET_HEADER).then(|| (key(&header[..6]), key(&header[6..])))
}

/// A MAC's six bytes as one integer, first byte lowest.
fn key(mac: &[u8]) -> u64 {
    match *mac {
        [a, b, c, d, e, f] => u64::from_le_bytes([a, b, c, d, e, f, 0, 0]),
        _ => 0,
    }
}

/// Not a group address: the first byte's lowest bit clear.
fn is_unicast(mac: u64) -> bool {
    mac & 1 == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dst: u8, src: u8) -> [u8; ETHERNET_HEADER] {
        let mut f = [0u8; ETHERNET_HEADER];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, dst]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, src]);
        f
    }

    #[test]
    fn a_switched_frame_follows_its_destination_when_it_moves() {
        let mut sw = Switch::default();
        // B (2) on port 1, A (1) on port 0.
        assert_eq!(sw.forward(1, &frame(1, 2)), Some(Forward::Flood));
        assert_eq!(sw.forward(0, &frame(2, 1)), Some(Forward::One(1)));
        // Twice the same way: the second from the port's last frame.
        for _ in 0..2 {
            assert_eq!(sw.forward_one(0, &frame(2, 1), |_| true), Some(1));
        }
        // B moves to port 2: the next frame to B goes there.
        assert_eq!(sw.forward(2, &frame(1, 2)), Some(Forward::One(0)));
        assert_eq!(sw.forward_one(0, &frame(2, 1), |_| true), Some(2));
        // Refused (an impaired cable out): nothing counted, and the port's last frame kept.
        let forwarded = sw.stats.forwarded;
        assert_eq!(sw.forward_one(0, &frame(2, 1), |_| false), None);
        assert_eq!(sw.stats.forwarded, forwarded);
        // Unknown, broadcast and all-zero MACs are never sent to one port.
        assert_eq!(sw.forward_one(0, &frame(9, 1), |_| true), None);
        let mut broadcast = frame(0, 1);
        broadcast[..6].fill(0xff);
        assert_eq!(sw.forward_one(0, &broadcast, |_| true), None);
        assert_eq!(Switch::default().forward_one(0, &[0; 14], |_| true), None);
    }
}
