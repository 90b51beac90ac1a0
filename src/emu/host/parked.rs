//! Request socks parked: smoltcp sockets in SYN-RECEIVED whose SYN-ACK retransmissions leave
//! from a stored copy of their first SYN-ACK (a retransmission is the same bytes, see the
//! host tests' `request_socks`) instead of through smoltcp, until anything else concerns the
//! socket. Then [`super::stack::Stack`] replays the retransmissions it missed into smoltcp at
//! their own instants (taking the frames back), and the socket runs on as if never parked.
//!
//! smoltcp retransmits a SYN-ACK when its timer expires, then doubles the timeout (at most
//! 60 s, `RTTE_MAX_RTO`): the instants follow from the first one and the first timeout.
//! A record's next instant is filed in a heap; an entry is stale unless it is its record's.

use super::conns::ConnId;
use smoltcp::time::{Duration, Instant};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// A SYN-ACK's length at most: Ethernet, IPv4 and TCP headers with 40 bytes of options.
pub const FRAME: usize = 14 + 20 + 60;
/// smoltcp's largest retransmission timeout.
const MAX_RTO: Duration = Duration::from_secs(60);

/// One parked request sock.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its SYN-ACK, TCP checksum zero (smoltcp's, filled as it leaves).
    pub frame: [u8; FRAME],
    pub len: usize,
    /// The first retransmission's instant and the timeout that led to it.
    first: Instant,
    rto: Duration,
    /// Retransmissions sent from the copy.
    pub sent: u32,
    /// The next one's instant.
    due: Instant,
}

impl Record {
    /// The instant of retransmission `n` (0: the first).
    pub fn at(&self, n: u32) -> Instant {
        let mut t = self.first;
        let mut rto = self.rto;
        for _ in 0..n {
            rto = (rto * 2).min(MAX_RTO);
            t += rto;
        }
        t
    }
}

/// The parked request socks of one host.
#[derive(Debug, Default)]
pub struct Parked {
    records: Vec<Option<Record>>,
    heap: BinaryHeap<Reverse<(Instant, ConnId)>>,
    count: usize,
}

impl Parked {
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn contains(&self, id: ConnId) -> bool {
        self.records.get(id).is_some_and(Option::is_some)
    }

    /// Parks socket `id`, whose SYN-ACK (`frame`, checksum zero) left at `now`, its first
    /// retransmission due at `first`.
    pub fn park(&mut self, id: ConnId, frame: &[u8], now: Instant, first: Instant) {
        if self.records.len() <= id {
            self.records.resize(id + 1, None);
        }
        let mut copy = [0; FRAME];
        copy[..frame.len()].copy_from_slice(frame);
        let record = Record {
            frame: copy,
            len: frame.len(),
            first,
            rto: first - now,
            sent: 0,
            due: first,
        };
        self.heap.push(Reverse((first, id)));
        self.count += usize::from(self.records[id].replace(record).is_none());
    }

    /// Takes socket `id`'s record out: it is no longer parked.
    pub fn take(&mut self, id: ConnId) -> Option<Record> {
        let record = self.records.get_mut(id)?.take()?;
        self.count -= 1;
        Some(record)
    }

    /// The first retransmission due (stale entries on top are dropped).
    pub fn next_due(&mut self) -> Option<(Instant, ConnId)> {
        while let Some(&Reverse((t, id))) = self.heap.peek() {
            if self.records[id].as_ref().is_some_and(|r| r.due == t) {
                return Some((t, id));
            }
            self.heap.pop();
        }
        None
    }

    /// Socket `id`'s record (parked).
    pub fn get(&self, id: ConnId) -> Option<&Record> {
        self.records.get(id)?.as_ref()
    }

    /// Counts retransmission of `id` as sent and files its next one.
    pub fn sent(&mut self, id: ConnId) {
        if let Some(r) = self.records[id].as_mut() {
            r.sent += 1;
            r.due = r.at(r.sent);
            self.heap.push(Reverse((r.due, id)));
        }
    }

    /// The parked sockets.
    pub fn ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        (self.records.iter().enumerate()).filter_map(|(id, r)| r.as_ref().map(|_| id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retransmissions_double_their_timeout_up_to_60_s() {
        let mut p = Parked::default();
        let (now, first) = (Instant::from_millis(1), Instant::from_millis(1001));
        p.park(3, &[1, 2, 3], now, first);
        assert!(p.contains(3) && !p.contains(2));
        let r = p.get(3).expect("parked");
        let at: Vec<i64> = (0..8).map(|n| r.at(n).total_millis()).collect();
        assert_eq!(at, [1001, 3001, 7001, 15001, 31001, 63001, 123001, 183001]);
        assert_eq!(p.next_due(), Some((first, 3)));
        p.sent(3);
        assert_eq!(p.next_due(), Some((Instant::from_millis(3001), 3)));
        assert_eq!(p.take(3).map(|r| r.sent), Some(1));
        assert!(p.is_empty());
        assert_eq!(p.next_due(), None, "its entries are stale");
    }
}
