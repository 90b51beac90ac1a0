//! One change message holds each connection at most once, as it is last: an open-addressed
//! index of the entries in the message being built, allocated once and cleared per message.
//! A connection noted several times before its message leaves (created, then FIN_WAIT) keeps
//! the place of its first note and the state of its last.

use crate::sync::entry::SyncEntry;
use crate::sync::wire::MAX_ENTRIES;

/// Index slots: a power of two, at least twice the most entries a message holds.
const SLOTS: usize = 512;
const _: () = assert!(SLOTS.is_power_of_two() && SLOTS >= 2 * MAX_ENTRIES);

/// What makes a connection (or template) the same across its states: protocol, template or
/// not, client address and port, VIP and port (the data plane's connection key).
type ConnId = u128;

fn conn_id(e: &SyncEntry) -> ConnId {
    u128::from(e.protocol) << 112
        | u128::from(e.template) << 104
        | u128::from(u32::from(e.client)) << 64
        | u128::from(e.client_port) << 48
        | u128::from(u32::from(e.vip)) << 16
        | u128::from(e.vport)
}

fn home(id: ConnId) -> usize {
    let folded = (id as u64) ^ ((id >> 64) as u64);
    (folded.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - SLOTS.trailing_zeros())) as usize
}

#[derive(Debug)]
pub(super) struct Coalescer {
    /// Position in the message + 1; 0: free.
    slots: Box<[u8; SLOTS]>,
    /// The connection at each position of the message.
    ids: Box<[ConnId; MAX_ENTRIES]>,
}

/// Where a connection is, or the free slot that will record it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lookup {
    /// Already in the message at this position.
    At(usize),
    /// Not yet in the message.
    Free { slot: usize, id: ConnId },
}

impl Coalescer {
    pub(super) fn new() -> Self {
        Coalescer {
            slots: Box::new([0; SLOTS]),
            ids: Box::new([0; MAX_ENTRIES]),
        }
    }

    /// A new message: nothing in it.
    pub(super) fn clear(&mut self) {
        self.slots.fill(0);
    }

    pub(super) fn lookup(&self, entry: &SyncEntry) -> Lookup {
        let id = conn_id(entry);
        let mut slot = home(id);
        loop {
            match usize::from(self.slots[slot]) {
                0 => return Lookup::Free { slot, id },
                n if self.ids[n - 1] == id => return Lookup::At(n - 1),
                _ => slot = (slot + 1) & (SLOTS - 1),
            }
        }
    }

    /// The connection `lookup` found free was pushed at `position` (below [`MAX_ENTRIES`]).
    pub(super) fn insert(&mut self, lookup: Lookup, position: usize) {
        if let Lookup::Free { slot, id } = lookup {
            self.slots[slot] = (position + 1) as u8;
            self.ids[position] = id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn entry(client_port: u16, state: u16) -> SyncEntry {
        SyncEntry {
            protocol: 6,
            template: false,
            forwarding: crate::sync::entry::SyncForwarding::DirectRouting,
            inactive: false,
            state,
            client: Ipv4Addr::new(198, 19, 0, 7),
            client_port,
            vip: Ipv4Addr::new(198, 18, 0, 100),
            vport: 80,
            server: Ipv4Addr::new(198, 18, 0, 11),
            server_port: 80,
            timeout_s: 900,
        }
    }

    #[test]
    fn a_full_message_of_distinct_connections_then_each_found_again() {
        let mut c = Coalescer::new();
        c.clear();
        for i in 0..MAX_ENTRIES {
            let found = c.lookup(&entry(i as u16, 1));
            assert!(matches!(found, Lookup::Free { .. }), "{i}");
            c.insert(found, i);
        }
        for i in 0..MAX_ENTRIES {
            assert_eq!(c.lookup(&entry(i as u16, 4)), Lookup::At(i));
        }
        // The template of the same client and VIP is another entry; so is UDP.
        let template = SyncEntry {
            template: true,
            ..entry(0, 0)
        };
        let udp = SyncEntry {
            protocol: 17,
            ..entry(0, 0)
        };
        assert!(matches!(c.lookup(&template), Lookup::Free { .. }));
        assert!(matches!(c.lookup(&udp), Lookup::Free { .. }));
        c.clear();
        assert!(matches!(c.lookup(&entry(0, 1)), Lookup::Free { .. }));
    }
}
