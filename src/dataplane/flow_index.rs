//! The connection table's index: an open-addressing hash table (linear probing, deletion by
//! backward shift, no tombstones) whose buckets hold only a slab slot number, 4 bytes each.
//! The keys stay in the slab, so the caller says how to recognise a key and how to hash a
//! slot's key. A table reserved for a million entries is 8 MiB of buckets instead of the
//! 40 MiB a `HashMap<ConnKey, u32>` reserves, and its pages are zero (empty) until touched:
//! reserving it costs no writes, and the kernel zeroes only the pages the flows reach.
//!
//! The buckets are at least twice the entries the table may hold (the slab's capacity), so a
//! probe sequence is short and always ends at an empty bucket. Nothing here allocates after
//! [`FlowIndex::with_capacity`].

/// An empty bucket; a full one holds its slot plus one.
const EMPTY: u32 = 0;

/// Slot numbers by key hash.
#[derive(Debug, Clone, Default)]
pub struct FlowIndex {
    buckets: Vec<u32>,
    len: usize,
}

impl FlowIndex {
    /// Room for `capacity` entries (none at all for 0: the table stays empty).
    pub fn with_capacity(capacity: usize) -> FlowIndex {
        let n = if capacity == 0 {
            0
        } else {
            (capacity * 2).next_power_of_two().max(8)
        };
        FlowIndex {
            buckets: vec![EMPTY; n],
            len: 0,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether room was reserved (a capacity above 0).
    pub fn is_reserved(&self) -> bool {
        !self.buckets.is_empty()
    }

    /// The home bucket of a hash.
    #[inline]
    fn home(&self, hash: u64) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    /// The bucket holding the slot of the key that hashes to `hash` and that `is_key` accepts.
    #[inline]
    fn position(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let mut i = self.home(hash);
        loop {
            match self.buckets[i] {
                EMPTY => return None,
                full if is_key(full - 1) => return Some(i),
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// The slot of the key that hashes to `hash` and that `is_key` (given a slot) accepts.
    #[inline]
    pub fn get(&self, hash: u64, is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        self.position(hash, is_key).map(|i| self.buckets[i] - 1)
    }

    /// Adds `slot` for a key hashing to `hash` that is not in the table. The caller keeps the
    /// entries within the reserved capacity (the slab cannot hold more); beyond it the entry
    /// is refused (false) rather than the table overfilled.
    pub fn insert(&mut self, hash: u64, slot: u32) -> bool {
        if (self.len + 1) * 2 > self.buckets.len() || slot == u32::MAX {
            return false;
        }
        let mask = self.buckets.len() - 1;
        let mut i = self.home(hash);
        while self.buckets[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.buckets[i] = slot + 1;
        self.len += 1;
        true
    }

    /// Points the key that hashes to `hash` and that `is_key` accepts at `slot` instead;
    /// false when the key is not in the table.
    pub fn replace(&mut self, hash: u64, is_key: impl FnMut(u32) -> bool, slot: u32) -> bool {
        match self.position(hash, is_key) {
            Some(i) => {
                self.buckets[i] = slot + 1;
                true
            }
            None => false,
        }
    }

    /// Removes the key that hashes to `hash` and that `is_key` accepts; returns its slot.
    /// `hash_of` gives the hash of any slot still in the table (to shift the entries after
    /// the hole back towards their home buckets).
    pub fn remove(
        &mut self,
        hash: u64,
        is_key: impl FnMut(u32) -> bool,
        hash_of: impl Fn(u32) -> u64,
    ) -> Option<u32> {
        let mut hole = self.position(hash, is_key)?;
        let slot = self.buckets[hole] - 1;
        let mask = self.buckets.len() - 1;
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let full = self.buckets[i];
            if full == EMPTY {
                break;
            }
            let home = self.home(hash_of(full - 1));
            // The entry may fill the hole unless its home lies after the hole (cyclically, in
            // (hole, i]): then moving it back would put it before its home.
            let after_hole = (i.wrapping_sub(home) & mask) < (i.wrapping_sub(hole) & mask);
            if !after_hole {
                self.buckets[hole] = full;
                hole = i;
            }
        }
        self.buckets[hole] = EMPTY;
        self.len -= 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are slot numbers; each one's hash is given by `hashes`.
    fn table_with(hashes: &[u64], capacity: usize) -> FlowIndex {
        let mut t = FlowIndex::with_capacity(capacity);
        for (slot, &h) in hashes.iter().enumerate() {
            assert!(t.insert(h, slot as u32));
        }
        t
    }

    #[test]
    fn colliding_keys_stay_findable_through_removals() {
        // Capacity 8: 16 buckets. Slots 0-2 home in bucket 3, slot 3 in 4 (pushed to 6), slot
        // 4 in 7 (its own home, right after the run: it must not move back), slots 5-7 in 15
        // and 0 (runs that wrap around the end of the table).
        let hashes = [3, 3, 3, 4, 7, 15, 15, 0];
        let mut t = table_with(&hashes, 8);
        let find = |t: &FlowIndex, s: u32| t.get(hashes[s as usize], |x| x == s);
        for s in 0..hashes.len() as u32 {
            assert_eq!(find(&t, s), Some(s), "slot {s} before removals");
        }
        let hash_of = |s: u32| hashes[s as usize];
        let mut gone = Vec::new();
        for slot in [0u32, 5, 2, 7] {
            assert_eq!(
                t.remove(hashes[slot as usize], |x| x == slot, hash_of),
                Some(slot)
            );
            gone.push(slot);
            for s in 0..hashes.len() as u32 {
                let want = (!gone.contains(&s)).then_some(s);
                assert_eq!(find(&t, s), want, "slot {s} after removing {gone:?}");
            }
        }
        assert_eq!(t.len(), 4);
    }

    #[test]
    fn agrees_with_a_hash_map_over_random_work() {
        use std::collections::HashMap;
        let mut t = FlowIndex::with_capacity(64);
        let mut model: HashMap<u32, ()> = HashMap::new();
        // A small hash space: many collisions.
        let hash = |s: u32| u64::from(s.wrapping_mul(2_654_435_761) >> 27);
        let mut x = 12345u32;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let s = x % 100;
            if model.contains_key(&s) {
                assert_eq!(t.remove(hash(s), |k| k == s, hash), Some(s));
                model.remove(&s);
            } else if model.len() < 64 {
                assert!(t.insert(hash(s), s));
                model.insert(s, ());
            }
            assert_eq!(t.len(), model.len());
        }
        for s in 0..100 {
            assert_eq!(t.get(hash(s), |k| k == s).is_some(), model.contains_key(&s));
        }
    }

    #[test]
    fn replace_and_an_unreserved_table() {
        let mut t = table_with(&[5, 5], 4);
        assert!(t.replace(5, |s| s == 1, 9));
        assert_eq!(t.get(5, |s| s == 9), Some(9));
        assert!(!t.replace(6, |s| s == 7, 1));
        let empty = FlowIndex::with_capacity(0);
        assert!(!empty.is_reserved());
        assert_eq!(empty.get(1, |_| true), None);
        let mut full = FlowIndex::with_capacity(1);
        let accepted = (0..5).filter(|&s| full.insert(0, s)).count();
        assert_eq!(accepted, 4, "8 buckets take 4 entries, never more");
    }
}
