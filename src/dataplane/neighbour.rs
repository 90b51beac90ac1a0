//! The director's neighbour table: MAC addresses of the real servers and the router, resolved
//! by ARP from the director's own address, refreshed before they go stale, given up after
//! a few unanswered probes (like the kernel's INCOMPLETE → FAILED).

use super::Iface;
use crate::wire::EthernetAddress;
use std::net::Ipv4Addr;

/// Time between probes of one neighbour.
pub const PROBE_INTERVAL_MS: u64 = 1000;
/// Unanswered probes before a neighbour is declared unreachable.
pub const MAX_PROBES: u8 = 3;
/// How long an answer is trusted before the entry is re-probed (kept usable meanwhile).
pub const REACHABLE_MS: u64 = 60_000;
/// Linux's neighbour `locktime` (1 s): after a MAC is learnt, a different one for the same
/// address is refused for this long (the first answer wins), unless it comes by gratuitous ARP.
pub const LOCKTIME_MS: u64 = 1000;

/// How much an ARP packet proves about its sender (Linux's NUD_REACHABLE vs NUD_STALE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    /// A reply sent to our own MAC: the sender answered us, so it is reachable.
    Confirmed,
    /// A request, or a reply to someone else: the sender exists, but its reachability is not
    /// confirmed; a new MAC learnt this way is probed at once.
    Stale,
}

/// What an ARP packet did to the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learnt {
    /// The sender is not a neighbour we forward to (ARP never creates entries: `arp_accept=0`).
    Untracked,
    /// The same MAC as before (confirmed again when the evidence is a reply to us).
    Unchanged,
    /// The neighbour was unresolved and now has a MAC: its waiting frames can go.
    Resolved(usize),
    /// The neighbour moved to another MAC.
    Updated(usize),
    /// Another MAC within the lock time of the last update: ignored.
    Refused,
}

/// One neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Neighbour {
    pub ip: Ipv4Addr,
    /// The interface it is reached through.
    pub iface: Iface,
    /// Known MAC, if any (still used while a refresh is under way).
    pub mac: Option<EthernetAddress>,
    confirmed_ms: u64,
    /// When `mac` last changed (for the lock time).
    updated_ms: u64,
    /// When the next probe is due; `None` when not probing.
    next_probe_ms: Option<u64>,
    probes_sent: u8,
}

/// What a timeout did to one neighbour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighbourChange {
    /// Probes ran out: the MAC is forgotten; frames waiting for it must be dropped.
    Failed(usize),
}

/// A small table of the neighbours the data plane forwards to.
#[derive(Debug, Clone, Default)]
pub struct Neighbours {
    entries: Vec<Neighbour>,
    /// What [`Neighbours::poll_at`] says, once worked out; `None` after any change (the
    /// node asks after every frame, and entries change far less often).
    due: Option<Option<u64>>,
}

impl Neighbours {
    /// Adds (or finds) a neighbour to track and returns its index. Configuration time only.
    pub fn track(&mut self, ip: Ipv4Addr, iface: Iface) -> usize {
        if let Some(i) = self.index_of(ip) {
            return i;
        }
        self.due = None;
        self.entries.push(Neighbour {
            ip,
            iface,
            mac: None,
            confirmed_ms: 0,
            updated_ms: 0,
            next_probe_ms: Some(0),
            probes_sent: 0,
        });
        self.entries.len() - 1
    }

    /// Finds or adds an on-link destination learnt from traffic (a NAT client on the LAN),
    /// within the room reserved at start: adding never allocates; `None` when full.
    pub fn track_dynamic(&mut self, ip: Ipv4Addr, iface: Iface) -> Option<usize> {
        if let Some(i) = self.index_of(ip) {
            return Some(i);
        }
        if self.entries.len() == self.entries.capacity() {
            return None;
        }
        Some(self.track(ip, iface))
    }

    /// Reserves room for `n` more entries (configuration time).
    pub fn reserve(&mut self, n: usize) {
        self.entries.reserve_exact(n);
    }

    pub fn index_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.entries.iter().position(|n| n.ip == ip)
    }

    pub fn get(&self, idx: usize) -> &Neighbour {
        &self.entries[idx]
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    #[inline]
    pub fn mac(&self, idx: usize) -> Option<EthernetAddress> {
        self.entries[idx].mac
    }

    /// Records a well-formed ARP packet from `ip` claiming `mac`, by Linux's rules: only
    /// tracked neighbours are updated; a different MAC within [`LOCKTIME_MS`] of the last change
    /// is refused unless `gratuitous`; only [`Evidence::Confirmed`] stops probing, and a MAC
    /// learnt from weaker evidence is probed at once.
    pub fn learn(
        &mut self,
        ip: Ipv4Addr,
        mac: EthernetAddress,
        now_ms: u64,
        evidence: Evidence,
        gratuitous: bool,
    ) -> Learnt {
        let Some(idx) = self.index_of(ip) else {
            return Learnt::Untracked;
        };
        let n = self.entry_mut(idx);
        let outcome = match n.mac {
            Some(old) if old == mac => Learnt::Unchanged,
            Some(_) if now_ms < n.updated_ms + LOCKTIME_MS && !gratuitous => {
                return Learnt::Refused;
            }
            Some(_) => Learnt::Updated(idx),
            None => Learnt::Resolved(idx),
        };
        if outcome != Learnt::Unchanged {
            n.mac = Some(mac);
            n.updated_ms = now_ms;
        }
        match evidence {
            Evidence::Confirmed => {
                n.confirmed_ms = now_ms;
                n.next_probe_ms = None;
                n.probes_sent = 0;
            }
            Evidence::Stale if outcome != Learnt::Unchanged => {
                n.next_probe_ms = Some(now_ms);
                n.probes_sent = 0;
            }
            Evidence::Stale => {}
        }
        outcome
    }

    /// A frame needs this neighbour and its MAC is unknown: start probing if not already.
    pub fn solicit(&mut self, idx: usize, now_ms: u64) {
        if self.entries[idx].next_probe_ms.is_none() {
            let n = self.entry_mut(idx);
            n.next_probe_ms = Some(now_ms);
            n.probes_sent = 0;
        }
    }

    /// The index of a neighbour whose probe is due, marking the probe as sent.
    pub fn take_due_probe(&mut self, now_ms: u64) -> Option<usize> {
        // Nothing is due before the earliest deadline, when it is known.
        if self.due.is_some_and(|due| due.is_none_or(|t| t > now_ms)) {
            return None;
        }
        let idx = self.entries.iter().position(|n| {
            n.next_probe_ms.is_some_and(|t| t <= now_ms) && n.probes_sent < MAX_PROBES
        })?;
        let n = self.entry_mut(idx);
        n.probes_sent += 1;
        n.next_probe_ms = Some(now_ms + PROBE_INTERVAL_MS);
        Some(idx)
    }

    /// Moves timers: starts refreshes of old entries, fails entries whose probes ran out.
    /// Returns the first failure found (call again until `None`).
    pub fn handle_timeout(&mut self, now_ms: u64) -> Option<NeighbourChange> {
        self.due = None;
        for (idx, n) in self.entries.iter_mut().enumerate() {
            match n.next_probe_ms {
                None if n.mac.is_some() && now_ms >= n.confirmed_ms + REACHABLE_MS => {
                    n.next_probe_ms = Some(now_ms);
                    n.probes_sent = 0;
                }
                Some(t) if n.probes_sent >= MAX_PROBES && now_ms >= t => {
                    n.mac = None;
                    n.next_probe_ms = None;
                    n.probes_sent = 0;
                    return Some(NeighbourChange::Failed(idx));
                }
                _ => {}
            }
        }
        None
    }

    /// An entry to change: what is due may change with it.
    #[inline]
    fn entry_mut(&mut self, idx: usize) -> &mut Neighbour {
        self.due = None;
        &mut self.entries[idx]
    }

    /// The earliest time something is due.
    #[inline]
    pub fn poll_at(&mut self) -> Option<u64> {
        if let Some(due) = self.due {
            return due;
        }
        let due = self.earliest();
        self.due = Some(due);
        due
    }

    /// [`Neighbours::poll_at`] worked out from the entries.
    fn earliest(&self) -> Option<u64> {
        self.entries
            .iter()
            .filter_map(|n| match n.next_probe_ms {
                Some(t) => Some(t),
                None if n.mac.is_some() => Some(n.confirmed_ms + REACHABLE_MS),
                None => None,
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 11);
    const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 11]);

    #[test]
    fn probes_three_times_then_fails() {
        let mut t = Neighbours::default();
        let i = t.track(IP, Iface::OUTSIDE);
        assert_eq!(t.take_due_probe(0), Some(i));
        assert_eq!(
            t.take_due_probe(0),
            None,
            "next probe only after the interval"
        );
        assert_eq!(t.take_due_probe(1000), Some(i));
        assert_eq!(t.take_due_probe(2000), Some(i));
        assert_eq!(t.take_due_probe(3000), None, "no fourth probe");
        assert_eq!(t.handle_timeout(2999), None);
        assert_eq!(t.handle_timeout(3000), Some(NeighbourChange::Failed(i)));
        assert_eq!(t.mac(i), None);
        t.solicit(i, 5000);
        assert_eq!(
            t.take_due_probe(5000),
            Some(i),
            "a new frame restarts resolution"
        );
    }

    #[test]
    fn an_answer_resolves_and_a_stale_entry_is_refreshed_but_kept() {
        let mut t = Neighbours::default();
        let i = t.track(IP, Iface::OUTSIDE);
        let ok = Evidence::Confirmed;
        assert_eq!(t.learn(IP, MAC, 10, ok, false), Learnt::Resolved(i));
        assert_eq!(t.learn(IP, MAC, 20, ok, false), Learnt::Unchanged);
        assert_eq!(t.take_due_probe(30), None);
        assert_eq!(t.handle_timeout(20 + REACHABLE_MS), None);
        assert_eq!(t.take_due_probe(20 + REACHABLE_MS), Some(i));
        assert_eq!(t.mac(i), Some(MAC), "still usable while refreshing");
        let stranger = Ipv4Addr::new(198, 18, 0, 99);
        assert_eq!(t.learn(stranger, MAC, 0, ok, false), Learnt::Untracked);
    }

    #[test]
    fn the_lock_time_keeps_the_first_answer_unless_gratuitous() {
        let mut t = Neighbours::default();
        let i = t.track(IP, Iface::OUTSIDE);
        let other = EthernetAddress([2, 0, 0, 0, 0, 99]);
        let ok = Evidence::Confirmed;
        assert_eq!(t.learn(IP, MAC, 100, ok, false), Learnt::Resolved(i));
        let locked = 100 + LOCKTIME_MS - 1;
        assert_eq!(t.learn(IP, other, locked, ok, false), Learnt::Refused);
        assert_eq!(t.mac(i), Some(MAC));
        assert_eq!(t.learn(IP, other, locked, ok, true), Learnt::Updated(i));
        assert_eq!(t.mac(i), Some(other));
        let later = locked + LOCKTIME_MS;
        assert_eq!(t.learn(IP, MAC, later, ok, false), Learnt::Updated(i));
    }

    /// Every way an entry changes, then what `poll_at` and `take_due_probe` say, against
    /// the entries read afresh.
    #[test]
    fn the_remembered_deadline_follows_every_change() {
        let mut t = Neighbours::default();
        let other = Ipv4Addr::new(198, 18, 0, 12);
        let check = |t: &mut Neighbours, step: &str| {
            assert_eq!(t.poll_at(), t.earliest(), "{step}");
        };
        check(&mut t, "empty");
        let i = t.track(IP, Iface::OUTSIDE);
        check(&mut t, "tracked");
        assert_eq!(t.take_due_probe(0), Some(i));
        check(&mut t, "probed");
        assert_eq!(
            t.take_due_probe(999),
            None,
            "not yet, from the remembered deadline"
        );
        assert_eq!(t.take_due_probe(1000), Some(i));
        check(&mut t, "probed again");
        t.learn(IP, MAC, 1500, Evidence::Confirmed, false);
        check(&mut t, "confirmed");
        let j = t.track_dynamic(other, Iface::OUTSIDE).unwrap();
        check(&mut t, "learnt from traffic");
        assert_eq!(t.take_due_probe(1500), Some(j));
        check(&mut t, "probing the new one");
        for now in [2500, 3500, 4500] {
            t.take_due_probe(now);
            check(&mut t, "probes run out");
        }
        assert_eq!(t.handle_timeout(4500), Some(NeighbourChange::Failed(j)));
        check(&mut t, "failed");
        t.solicit(j, 6000);
        check(&mut t, "solicited");
        assert_eq!(t.handle_timeout(1500 + REACHABLE_MS), None);
        check(&mut t, "refreshing");
        assert_eq!(t.take_due_probe(1500 + REACHABLE_MS), Some(i));
        assert_eq!(t.take_due_probe(1500 + REACHABLE_MS), Some(j));
        check(&mut t, "both probed");
    }

    #[test]
    fn weak_evidence_of_a_new_mac_starts_a_probe_and_never_confirms() {
        let mut t = Neighbours::default();
        let i = t.track(IP, Iface::OUTSIDE);
        assert_eq!(t.take_due_probe(0), Some(i));
        assert_eq!(
            t.learn(IP, MAC, 10, Evidence::Stale, false),
            Learnt::Resolved(i)
        );
        assert_eq!(t.take_due_probe(10), Some(i), "probed at once");
        assert_eq!(
            t.learn(IP, MAC, 20, Evidence::Stale, false),
            Learnt::Unchanged
        );
        assert_eq!(
            t.learn(IP, MAC, 30, Evidence::Confirmed, false),
            Learnt::Unchanged
        );
        assert_eq!(t.take_due_probe(5000), None, "confirmed: no more probes");
    }
}
