//! The connection table's index: an open-addressing hash table (linear probing, deletion by
//! backward shift, no tombstones) whose buckets are 4 bytes each: a slab slot number plus, in
//! the bits the slot does not need, a little of the key's hash and how far the entry sits from
//! its home bucket. The keys stay in the slab, so the caller says how to recognise a key and
//! how to hash a slot's key. A table reserved for a million entries is 8 MiB of buckets
//! instead of the 40 MiB a `HashMap<ConnKey, u32>` reserves, and its pages are zero (empty)
//! until touched: reserving it costs no writes, and the kernel zeroes only the pages the flows
//! reach.
//!
//! A bucket reads as `meta << slot_bits | (slot + 1)`, 0 when empty. `meta` holds the
//! distance from the home bucket (saturating at [`DISP_MAX`]: larger ones read as unknown) and
//! above it a tag (the hash's top bits). A probe compares the bucket's `meta` with the one its
//! key would have there, so it reads an entry in the slab only when home and tag both agree;
//! the backward shift of a removal moves entries by their stored distance and asks the caller
//! for a slot's hash only when that distance is saturated. A table of a million entries keeps
//! 11 bits of `meta` (4 of distance, 7 of tag), one of 65,536 keeps 15.
//!
//! The buckets are at least twice the entries the table may hold (the slab's capacity), so a
//! probe sequence is short and always ends at an empty bucket. Nothing here allocates after
//! [`FlowIndex::with_capacity`].

/// An empty bucket; a full one holds its slot plus one (and `meta` above it).
const EMPTY: u32 = 0;
/// Bits of a bucket's `meta` that hold the distance from home (fewer if the slot needs them).
const DISP_BITS: u32 = 4;

/// Slot numbers by key hash.
#[derive(Debug, Clone, Default)]
pub struct FlowIndex {
    buckets: Vec<u32>,
    len: usize,
    /// Low bits of a bucket that hold slot + 1: log2 of the bucket count.
    slot_bits: u32,
    /// Bits of distance at the bottom of `meta`.
    disp_bits: u32,
    /// Bits of tag above them.
    tag_bits: u32,
}

impl FlowIndex {
    /// Room for `capacity` entries (none at all for 0: the table stays empty).
    pub fn with_capacity(capacity: usize) -> FlowIndex {
        FlowIndex::with_distance_bits(capacity, DISP_BITS)
    }

    /// As [`FlowIndex::with_capacity`], keeping at most `disp_bits` bits of distance.
    fn with_distance_bits(capacity: usize, disp_bits: u32) -> FlowIndex {
        let n = if capacity == 0 {
            0
        } else {
            (capacity * 2).next_power_of_two().max(8)
        };
        let slot_bits = n.trailing_zeros().min(32);
        let meta_bits = 32 - slot_bits;
        let disp_bits = disp_bits.min(meta_bits);
        FlowIndex {
            buckets: vec![EMPTY; n],
            len: 0,
            slot_bits,
            disp_bits,
            tag_bits: meta_bits - disp_bits,
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

    /// The largest distance stored as itself; a stored `disp_max` means "that or more".
    #[inline]
    fn disp_max(&self) -> u32 {
        (1 << self.disp_bits) - 1
    }

    /// The tag of a hash: its top bits (the home comes from the bottom ones).
    #[inline]
    fn tag(&self, hash: u64) -> u32 {
        if self.tag_bits == 0 {
            0
        } else {
            (hash >> (64 - self.tag_bits)) as u32
        }
    }

    /// The `meta` of an entry with tag `tag` at `disp` buckets from its home.
    #[inline]
    fn meta(&self, tag: u32, disp: usize) -> u32 {
        (tag << self.disp_bits) | disp.min(self.disp_max() as usize) as u32
    }

    /// A full bucket.
    #[inline]
    fn pack(&self, meta: u32, slot: u32) -> u32 {
        ((u64::from(meta) << self.slot_bits) as u32) | (slot + 1)
    }

    #[inline]
    fn meta_of(&self, bucket: u32) -> u32 {
        (u64::from(bucket) >> self.slot_bits) as u32
    }

    #[inline]
    fn slot_of(&self, bucket: u32) -> u32 {
        (bucket & ((1u64 << self.slot_bits) - 1) as u32) - 1
    }

    /// Whether a bucket can hold `slot` (slot + 1 fits in its low bits).
    #[inline]
    fn fits(&self, slot: u32) -> bool {
        u64::from(slot) + 1 < (1u64 << self.slot_bits)
    }

    /// The bucket holding the slot of the key that hashes to `hash` and that `is_key` accepts.
    /// `is_key` is asked only about entries whose home and tag match the hash's.
    #[inline]
    fn position(&self, hash: u64, mut is_key: impl FnMut(u32) -> bool) -> Option<usize> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() - 1;
        let tag = self.tag(hash);
        let mut i = self.home(hash);
        let mut disp = 0;
        loop {
            let bucket = self.buckets[i];
            if bucket == EMPTY {
                return None;
            }
            if self.meta_of(bucket) == self.meta(tag, disp) && is_key(self.slot_of(bucket)) {
                return Some(i);
            }
            i = (i + 1) & mask;
            disp += 1;
        }
    }

    /// Starts loading the home bucket of `hash` (a lookup, insert or removal follows soon).
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if !self.buckets.is_empty() {
            super::prefetch::prefetch(&self.buckets[self.home(hash)]);
        }
    }

    /// The slot of the key that hashes to `hash` and that `is_key` (given a slot) accepts.
    #[inline]
    pub fn get(&self, hash: u64, is_key: impl FnMut(u32) -> bool) -> Option<u32> {
        self.position(hash, is_key)
            .map(|i| self.slot_of(self.buckets[i]))
    }

    /// Adds `slot` for a key hashing to `hash` that is not in the table. The caller keeps the
    /// entries within the reserved capacity (the slab cannot hold more) and the slots below
    /// twice the capacity; beyond either the entry is refused (false) rather than the table
    /// overfilled.
    pub fn insert(&mut self, hash: u64, slot: u32) -> bool {
        if (self.len + 1) * 2 > self.buckets.len() || !self.fits(slot) {
            return false;
        }
        let mask = self.buckets.len() - 1;
        let mut i = self.home(hash);
        let mut disp = 0;
        while self.buckets[i] != EMPTY {
            i = (i + 1) & mask;
            disp += 1;
        }
        self.buckets[i] = self.pack(self.meta(self.tag(hash), disp), slot);
        self.len += 1;
        true
    }

    /// Points the key that hashes to `hash` and that `is_key` accepts at `slot` instead;
    /// false when the key is not in the table (or `slot` does not fit, as for `insert`).
    pub fn replace(&mut self, hash: u64, is_key: impl FnMut(u32) -> bool, slot: u32) -> bool {
        if !self.fits(slot) {
            return false;
        }
        match self.position(hash, is_key) {
            Some(i) => {
                self.buckets[i] = self.pack(self.meta_of(self.buckets[i]), slot);
                true
            }
            None => false,
        }
    }

    /// Removes the key that hashes to `hash` and that `is_key` accepts; returns its slot.
    /// `hash_of` gives the hash of a slot still in the table: asked only for an entry after
    /// the hole whose distance from home is too large to be stored.
    pub fn remove(
        &mut self,
        hash: u64,
        is_key: impl FnMut(u32) -> bool,
        hash_of: impl Fn(u32) -> u64,
    ) -> Option<u32> {
        let mut hole = self.position(hash, is_key)?;
        let slot = self.slot_of(self.buckets[hole]);
        let mask = self.buckets.len() - 1;
        let disp_max = self.disp_max();
        let mut i = hole;
        loop {
            i = (i + 1) & mask;
            let bucket = self.buckets[i];
            if bucket == EMPTY {
                break;
            }
            let meta = self.meta_of(bucket);
            let stored = meta & disp_max;
            let disp = if stored < disp_max {
                stored as usize
            } else {
                i.wrapping_sub(self.home(hash_of(self.slot_of(bucket)))) & mask
            };
            // The entry may fill the hole unless its home lies after the hole (cyclically, in
            // (hole, i]): then moving it back would put it before its home.
            let gap = i.wrapping_sub(hole) & mask;
            if disp >= gap {
                let tag = meta >> self.disp_bits;
                self.buckets[hole] = self.pack(self.meta(tag, disp - gap), self.slot_of(bucket));
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
        // A small hash space: many collisions.
        let hash = |s: u32| u64::from(s.wrapping_mul(2_654_435_761) >> 27);
        random_work(FlowIndex::with_capacity(64), hash, 12345);
    }

    /// With `disp_bits` of distance kept and a hash whose home takes only 7 values (long
    /// runs: saturated distances) while its top bits (the tag) vary.
    #[test]
    fn long_runs_with_any_width_of_distance() {
        let hash =
            |s: u32| (u64::from(s).wrapping_mul(0x9e37_79b9_7f4a_7c15) & !0xff) | u64::from(s % 7);
        for disp_bits in 0..=DISP_BITS {
            random_work(FlowIndex::with_distance_bits(64, disp_bits), hash, 777);
        }
    }

    /// Random inserts and removals of slots 0-99 (at most 64 at once) against a `HashMap`.
    fn random_work(mut t: FlowIndex, hash: impl Fn(u32) -> u64 + Copy, seed: u32) {
        use std::collections::HashMap;
        let mut model: HashMap<u32, ()> = HashMap::new();
        let mut x = seed;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let s = x % 100;
            if model.remove(&s).is_some() {
                assert_eq!(t.remove(hash(s), |k| k == s, hash), Some(s));
            } else if model.len() < 64 {
                assert!(t.insert(hash(s), s));
                model.insert(s, ());
            }
            assert_eq!(t.len(), model.len());
        }
        for s in 0..100 {
            assert_eq!(
                t.get(hash(s), |k| k == s),
                model.contains_key(&s).then_some(s)
            );
        }
    }

    #[test]
    fn probes_and_shifts_leave_other_entries_unread() {
        // 24 entries homed in buckets 0-5 of 64 (runs up to 19 long: past the stored
        // distance), each with its own tag.
        let hashes: Vec<u64> = (0..24u64).map(|s| ((s + 1) << 50) | (s % 6)).collect();
        let mut t = table_with(&hashes, 32);
        let reads = std::cell::Cell::new(0);
        for (s, &h) in hashes.iter().enumerate() {
            let found = t.get(h, |k| {
                reads.set(reads.get() + 1);
                k == s as u32
            });
            assert_eq!(found, Some(s as u32));
            assert_eq!(reads.replace(0), 1, "slot {s}: only its own entry read");
        }
        let hash_of = |k: u32| {
            reads.set(reads.get() + 1);
            hashes[k as usize]
        };
        // The first entry of bucket 0's run: the rest of the run shifts back, the
        // entries far from home (distance saturated) read through `hash_of`.
        assert_eq!(t.remove(hashes[0], |k| k == 0, hash_of), Some(0));
        let far = reads.replace(0);
        assert!(far > 0 && far < 8, "{far} hashes asked");
        // Removing the last entry of a run shifts nothing back.
        assert_eq!(t.remove(hashes[23], |k| k == 23, hash_of), Some(23));
        assert_eq!(reads.get(), 0);
        for (s, &h) in hashes.iter().enumerate().take(23).skip(1) {
            assert_eq!(t.get(h, |k| k == s as u32), Some(s as u32));
        }
    }

    #[test]
    fn a_slot_beyond_the_buckets_is_refused() {
        // Capacity 4: 8 buckets, 3 bits of slot (slots 0-6).
        let mut t = FlowIndex::with_capacity(4);
        assert!(!t.insert(1, 7));
        assert!(t.insert(1, 6));
        assert!(!t.replace(1, |s| s == 6, 7));
        assert_eq!(t.get(1, |s| s == 6), Some(6));
    }

    #[test]
    fn replace_and_an_unreserved_table() {
        let mut t = table_with(&[5, 5], 4);
        assert!(t.replace(5, |s| s == 1, 6));
        assert_eq!(t.get(5, |s| s == 6), Some(6));
        assert!(!t.replace(6, |s| s == 7, 1));
        let empty = FlowIndex::with_capacity(0);
        assert!(!empty.is_reserved());
        assert_eq!(empty.get(1, |_| true), None);
        let mut full = FlowIndex::with_capacity(1);
        let accepted = (0..5).filter(|&s| full.insert(0, s)).count();
        assert_eq!(accepted, 4, "8 buckets take 4 entries, never more");
    }
}
