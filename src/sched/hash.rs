//! Deterministic hashing for the hashing schedulers (sh, dh, mh): the same input hashes the same
//! way in every process and on every machine, so two directors agree. Never std's `RandomState`.

use std::net::Ipv4Addr;

/// A 64-bit multiply-xorshift finalizer (the constants of SplitMix64's output function).
///
/// A bijection on `u64` in which every input bit flips about half of the output bits.
pub const fn mix64(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// Hashes `value` with the hash function chosen by `seed`: different seeds give unrelated
/// functions, which is how one key yields Maglev's independent `offset` and `skip`.
pub const fn hash64(seed: u64, value: u64) -> u64 {
    mix64(mix64(value ^ mix64(seed)).wrapping_add(seed))
}

/// The hash key of an address.
pub const fn addr_key(addr: Ipv4Addr) -> u64 {
    addr.to_bits() as u64
}

/// The hash key of an address and port (a real server's identity).
pub const fn endpoint_key(addr: Ipv4Addr, port: u16) -> u64 {
    (addr_key(addr) << 16) | port as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix64_is_pinned_so_directors_agree() {
        // Any change to the mixer changes every table on every director: make it deliberate.
        assert_eq!(mix64(0), 0);
        assert_eq!(mix64(1), 0x5692_161d_100b_05e5);
        assert_eq!(hash64(7, 0xc612_000b), hash64(7, 0xc612_000b));
    }

    #[test]
    fn seeds_give_different_functions() {
        let key = endpoint_key(Ipv4Addr::new(198, 18, 0, 11), 80);
        assert_ne!(hash64(1, key), hash64(2, key));
        assert_ne!(
            endpoint_key(Ipv4Addr::new(198, 18, 0, 11), 80),
            endpoint_key(Ipv4Addr::new(198, 18, 0, 11), 81)
        );
    }

    #[test]
    fn low_byte_spreads_evenly() {
        // sh/dh take the hash modulo 256: consecutive addresses must fill all buckets evenly.
        let mut counts = [0u32; 256];
        for i in 0..256 * 64 {
            counts[(hash64(3, addr_key(Ipv4Addr::from_bits(0x0a00_0000 + i))) % 256) as usize] += 1;
        }
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        assert!(
            *min >= 32 && *max <= 100,
            "bucket counts range {min}..={max}, expected about 64"
        );
    }
}
