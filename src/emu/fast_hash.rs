//! The hasher of the emulator's own maps (the switches' MAC tables, a host's connection demux,
//! a UDP client's pending requests): a multiply-rotate hash of the key's words, a few cycles a
//! key instead of SipHash's tens. Std's SipHash resists keys chosen to collide; nothing here
//! faces an adversary (every key comes from the lab's own hosts), so that costs for nothing.
//! A fixed hasher also makes every map's layout the same from run to run.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An odd constant with well-spread bits (from the fractional part of π).
const MULTIPLIER: u64 = 0x243f_6a88_85a3_08d3;

/// See the module: state = (state + word) × [`MULTIPLIER`] per word of the key.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher {
    state: u64,
}

/// A `HashMap` with [`FastHasher`].
pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<FastHasher>>;

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.state = self.state.wrapping_add(word).wrapping_mul(MULTIPLIER);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    /// The product's best-mixed bits are its high ones; the map takes its bucket from the low
    /// bits and its tag from the top seven, so the high half is turned down into the low.
    #[inline]
    fn finish(&self) -> u64 {
        self.state.rotate_left(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasher, Hash};

    fn hash<T: Hash>(t: &T) -> u64 {
        BuildHasherDefault::<FastHasher>::default().hash_one(t)
    }

    #[test]
    fn neighbouring_keys_spread_over_buckets_and_tags() {
        // 4,096 consecutive client addresses and ports: the low 12 bits (a 4,096-bucket
        // table's index) and the top 7 (the tag) must both take many values.
        let keys = (0..4096u32).map(|i| ([198u8, 19, (i >> 8) as u8, i as u8], 1024 + i as u16));
        let (mut low, mut top) = (
            std::collections::BTreeSet::new(),
            std::collections::BTreeSet::new(),
        );
        for k in keys {
            let h = hash(&k);
            low.insert(h & 0xfff);
            top.insert(h >> 57);
        }
        assert!(
            low.len() > 2500,
            "{} distinct bucket indexes of 4096",
            low.len()
        );
        assert_eq!(top.len(), 128, "every tag value used");
    }
}
