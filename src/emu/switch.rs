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

/// One switch's forwarding database and counters.
#[derive(Debug, Default)]
pub struct Switch {
    fdb: FlowMap<EthernetAddress, usize>,
    pub stats: SwitchStats,
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
        if frame.len() < ETHERNET_HEADER {
            self.stats.malformed += 1;
            return None;
        }
        let dst = EthernetAddress::from_bytes(&frame[0..6]);
        let src = EthernetAddress::from_bytes(&frame[6..12]);
        if src.is_unicast() {
            // A known MAC costs a lookup; only a new one (or one that moved) writes.
            if self.fdb.get(&src) != Some(&from) {
                self.fdb.insert(src, from);
            }
        }
        let verdict = match self.fdb.get(&dst) {
            Some(&port) if dst.is_unicast() && port == from => Forward::Filter,
            Some(&port) if dst.is_unicast() => Forward::One(port),
            _ => Forward::Flood,
        };
        match verdict {
            Forward::One(_) => self.stats.forwarded += 1,
            Forward::Flood => self.stats.flooded += 1,
            Forward::Filter => self.stats.filtered += 1,
        }
        Some(verdict)
    }

    /// The port a MAC was last seen on.
    pub fn port_of(&self, mac: EthernetAddress) -> Option<usize> {
        self.fdb.get(&mac).copied()
    }
}
