//! The fast keyed hash of flow keys (multiply-xorshift, a murmur finaliser): a lookup costs a
//! few nanoseconds where std's SipHash costs tens. The connection table keys it with a seed;
//! the emulator's own maps ([`FlowMap`]: switch tables, a host's connection demux, pending
//! UDP requests) use it unseeded, as nothing there faces an adversary (every key comes from
//! the lab's own hosts) and a fixed hasher keeps every run alike.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// A `HashMap` on [`FlowHasher`] with seed 0.
pub type FlowMap<K, V> = HashMap<K, V, FlowHasherBuilder>;

/// Builds [`FlowHasher`]s keyed by a seed (0 by `Default`).
#[derive(Debug, Clone, Copy, Default)]
pub struct FlowHasherBuilder {
    seed: u64,
}

impl FlowHasherBuilder {
    pub fn new(seed: u64) -> Self {
        FlowHasherBuilder { seed }
    }
}

impl BuildHasher for FlowHasherBuilder {
    type Hasher = FlowHasher;
    fn build_hasher(&self) -> FlowHasher {
        FlowHasher {
            state: self.seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// See [`FlowHasherBuilder`]: each word of the key mixed in, the state finalised.
pub struct FlowHasher {
    state: u64,
}

impl Hasher for FlowHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    #[inline]
    fn write_u64(&mut self, word: u64) {
        self.state = (self.state ^ word)
            .wrapping_mul(0xbf58_476d_1ce4_e5b9)
            .rotate_left(31);
    }

    #[inline]
    fn finish(&self) -> u64 {
        let mut x = self.state;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbouring_keys_spread_over_buckets_and_tags() {
        // 4,096 consecutive client addresses and ports: the low 12 bits (a 4,096-bucket
        // table's index) and the top 7 (hashbrown's tag) must both take many values.
        let build = FlowHasherBuilder::default();
        let keys = (0..4096u32).map(|i| ([198u8, 19, (i >> 8) as u8, i as u8], 1024 + i as u16));
        let (mut low, mut top) = (
            std::collections::BTreeSet::new(),
            std::collections::BTreeSet::new(),
        );
        for k in keys {
            let h = build.hash_one(k);
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

    #[test]
    fn the_seed_keys_the_hash() {
        let key = (198u8, 19u8, 1u16);
        let hash = |seed| FlowHasherBuilder::new(seed).hash_one(key);
        assert_ne!(hash(1), hash(2));
        assert_eq!(hash(1), hash(1));
    }
}
