//! `sh` and `dh`: source and destination hashing. A 256-bucket table, filled in proportion to the
//! weights, maps a hash of the client's source address (sh) or of the destination address (dh)
//! to a server, so the same address keeps going to the same server while the set is unchanged.

use super::hash::{addr_key, hash64};
use super::wrr::WeightedCycle;
use super::{Flow, Scheduler, ServerView};
use std::net::Ipv4Addr;

/// Number of buckets (IPVS `IP_VS_SH_TAB_SIZE` / `IP_VS_DH_TAB_SIZE` default).
pub const BUCKETS: usize = 256;

/// Seed of the bucket hash; fixed so every director maps an address to the same bucket.
const BUCKET_SEED: u64 = 0x5348_4448; // "SHDH"

/// Which address of the flow is hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashedAddr {
    /// `sh`: the client's source address.
    Source,
    /// `dh`: the destination address.
    Destination,
}

/// A source- or destination-hashing scheduler.
#[derive(Debug, Clone)]
pub struct BucketHash {
    by: HashedAddr,
    /// Bucket → server index; empty when every server is quiescent.
    buckets: Vec<u32>,
}

impl BucketHash {
    pub fn new(by: HashedAddr, servers: &[ServerView]) -> Self {
        Self {
            by,
            buckets: fill(servers),
        }
    }

    /// The server the flow's hashed address maps to, or `None` when all are quiescent.
    pub fn lookup(&self, flow: &Flow) -> Option<usize> {
        let addr = match self.by {
            HashedAddr::Source => flow.src,
            HashedAddr::Destination => flow.dst,
        };
        self.buckets.get(bucket_of(addr)).map(|&i| i as usize)
    }
}

/// The bucket an address hashes to.
pub fn bucket_of(addr: Ipv4Addr) -> usize {
    (hash64(BUCKET_SEED, addr_key(addr)) % BUCKETS as u64) as usize
}

/// Deals the buckets to the nonzero-weight servers in wrr order, so each gets
/// `BUCKETS * weight / total` of them (±1 per cycle), spread over the table.
fn fill(servers: &[ServerView]) -> Vec<u32> {
    let mut cycle = WeightedCycle::new(servers);
    (0..BUCKETS)
        .map_while(|_| cycle.next_pick(servers).map(|i| i as u32))
        .collect()
}

impl Scheduler for BucketHash {
    fn update(&mut self, servers: &[ServerView]) {
        self.buckets = fill(servers);
    }

    fn schedule(&mut self, servers: &[ServerView], flow: &Flow) -> Option<usize> {
        // The weight check only matters if a weight dropped to 0 without an `update`.
        self.lookup(flow)
            .filter(|&i| servers.get(i).is_some_and(|s| s.weight > 0))
    }

    fn name(&self) -> &'static str {
        match self.by {
            HashedAddr::Source => "sh",
            HashedAddr::Destination => "dh",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sched::test_support::{flow, flow_to, servers};

    /// How many of `count` consecutive client addresses each server gets.
    fn spread(sched: &mut BucketHash, servers: &[ServerView], count: u32) -> Vec<u32> {
        let mut per_server = vec![0; servers.len()];
        for i in 0..count {
            per_server[sched.schedule(servers, &flow(i)).unwrap()] += 1;
        }
        per_server
    }

    #[test]
    fn table_shares_follow_weights() {
        let s = servers(&[1, 2, 3]);
        let sh = BucketHash::new(HashedAddr::Source, &s);
        let count = |i| sh.buckets.iter().filter(|&&b| b == i).count();
        assert_eq!(sh.buckets.len(), BUCKETS);
        // 256 = 42 cycles of 6 + C B C A.
        assert_eq!([count(0), count(1), count(2)], [43, 85, 128]);
    }

    #[test]
    fn large_weights_stay_proportional() {
        // Weights summing past 256 must not hand whole blocks to the first servers.
        let s = servers(&[100, 200]);
        let sh = BucketHash::new(HashedAddr::Source, &s);
        let first = sh.buckets.iter().filter(|&&b| b == 0).count();
        assert!(
            (84..=87).contains(&first),
            "server 0 has {first} buckets, expected ~85"
        );
    }

    #[test]
    fn same_source_same_server() {
        let s = servers(&[1, 1, 1, 1]);
        let mut sh = BucketHash::new(HashedAddr::Source, &s);
        for i in 0..200 {
            let mut f = flow(i);
            let first = sh.schedule(&s, &f);
            f.src_port = f.src_port.wrapping_add(7);
            f.dst = Ipv4Addr::new(198, 18, 0, 101);
            assert_eq!(sh.schedule(&s, &f), first);
        }
    }

    #[test]
    fn sh_spread_follows_weights() {
        let s = servers(&[1, 2, 3]);
        let mut sh = BucketHash::new(HashedAddr::Source, &s);
        let got = spread(&mut sh, &s, 60_000);
        for (server, want) in [(0, 10_000.0), (1, 20_000.0), (2, 30_000.0)] {
            let ratio = f64::from(got[server]) / want;
            assert!((0.85..1.15).contains(&ratio), "server {server}: {got:?}");
        }
    }

    #[test]
    fn dh_hashes_the_destination_only() {
        let s = servers(&[1, 1, 1]);
        let mut dh = BucketHash::new(HashedAddr::Destination, &s);
        let mut seen = [0u32; 3];
        for d in 0..3000 {
            let dst = Ipv4Addr::from_bits(0xc633_6400 + d);
            let pick = dh.schedule(&s, &flow_to(1, dst)).unwrap();
            assert_eq!(
                dh.schedule(&s, &flow_to(2, dst)),
                Some(pick),
                "source changed the pick"
            );
            seen[pick] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
    }

    #[test]
    fn addresses_differing_in_any_octet_spread() {
        // Clients 10.k.0.5 and 10.0.k.5 must spread too, not only consecutive last octets.
        let s = servers(&[1, 1, 1, 1]);
        let sh = BucketHash::new(HashedAddr::Source, &s);
        for shift in [8, 16, 24] {
            let mut seen = [0u32; 4];
            for k in 0..256 {
                let src = Ipv4Addr::from_bits(0x0a00_0005 ^ (k << shift));
                seen[sh.lookup(&Flow { src, ..flow(0) }).unwrap()] += 1;
            }
            assert!(
                seen.iter().all(|&n| (32..96).contains(&n)),
                "octet shift {shift}: {seen:?}"
            );
        }
    }

    #[test]
    fn quiescent_never_picked_and_all_zero_is_none() {
        let s = servers(&[1, 0, 1]);
        let mut sh = BucketHash::new(HashedAddr::Source, &s);
        assert_eq!(spread(&mut sh, &s, 5000)[1], 0);
        let zero = servers(&[0, 0]);
        sh.update(&zero);
        assert_eq!(sh.schedule(&zero, &flow(1)), None);
    }

    #[test]
    fn weight_dropped_without_update_is_not_picked() {
        let mut s = servers(&[1, 1]);
        let mut sh = BucketHash::new(HashedAddr::Source, &s);
        s[0].weight = 0;
        assert!((0..500).all(|i| sh.schedule(&s, &flow(i)) != Some(0)));
    }
}
