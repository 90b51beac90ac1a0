//! IPVS's rate estimator (`ip_vs_est.c`), for `ipvsadm --rate`: every 2 seconds the counters'
//! growth becomes a rate per second, smoothed by an average that moves a quarter of the way
//! each time (packets and connections scaled by 2^10, bytes by 2^5, as the kernel keeps them).
//! Bytes are IP bytes, as IPVS counts them: the Ethernet header of each frame is left out.
//! No allocation; run from the data plane's timer, never per packet.

use super::counters::Traffic;
use serde::{Deserialize, Serialize};

/// How often the kernel's estimator runs.
pub const PERIOD_MS: u64 = 2000;
/// An Ethernet header: counted in [`Traffic::bytes`], not in IPVS's byte counters.
pub const ETHERNET_HEADER: u64 = 14;

/// The kernel's five smoothed rates, with the counts they were last taken from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimator {
    last: [u64; 5],
    /// conns, in packets, out packets (×2^10); in bytes, out bytes (×2^5).
    avg: [i64; 5],
}

/// Rates per second, as `ipvsadm --rate` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// IPVS's five counters from a [`Traffic`]: conns, in/out packets, in/out IP bytes.
pub fn ipvs_counts(t: &Traffic) -> [u64; 5] {
    [
        t.conns,
        t.packets,
        t.reply_packets,
        t.bytes.saturating_sub(t.packets * ETHERNET_HEADER),
        t.reply_bytes
            .saturating_sub(t.reply_packets * ETHERNET_HEADER),
    ]
}

impl Estimator {
    /// One 2-second tick: the growth since the last tick moves the averages.
    pub fn tick(&mut self, t: &Traffic) {
        let now = ipvs_counts(t);
        for (i, (avg, last)) in self.avg.iter_mut().zip(&self.last).enumerate() {
            let delta = now[i].wrapping_sub(*last) as i64;
            // Per 2 s to per second, scaled: << 10 then / 2 for counts, << 5 / 2 for bytes.
            let rate = if i < 3 { delta << 9 } else { delta << 4 };
            *avg += (rate - *avg) >> 2;
        }
        self.last = now;
    }

    /// Starts again from the current counts (`ipvsadm -Z`).
    pub fn zero(&mut self, t: &Traffic) {
        self.last = ipvs_counts(t);
        self.avg = [0; 5];
    }

    /// The rates, rounded as the kernel reads them.
    pub fn rates(&self) -> Rates {
        let count = |a: i64| (a.max(0) as u64 + 0x1ff) >> 10;
        let bytes = |a: i64| (a.max(0) as u64 + 0xf) >> 5;
        Rates {
            cps: count(self.avg[0]),
            inpps: count(self.avg[1]),
            outpps: count(self.avg[2]),
            inbps: bytes(self.avg[3]),
            outbps: bytes(self.avg[4]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(conns: u64, packets: u64, bytes: u64) -> Traffic {
        Traffic {
            conns,
            packets,
            bytes,
            ..Traffic::default()
        }
    }

    #[test]
    fn a_steady_rate_is_reached_as_the_kernel_does() {
        let mut e = Estimator::default();
        let mut t = Traffic::default();
        // 100 connections, 1000 packets of 114 frame bytes (100 IP bytes) per second.
        for _ in 0..40 {
            t.conns += 200;
            t.packets += 2000;
            t.bytes += 2000 * 114;
            e.tick(&t);
        }
        let r = e.rates();
        // The kernel's shifts floor each step: the byte average settles one below 100,000.
        assert_eq!((r.cps, r.inpps, r.inbps), (100, 1000, 99_999));
        assert_eq!((r.outpps, r.outbps), (0, 0));
    }

    #[test]
    fn the_average_moves_a_quarter_of_the_way_per_tick() {
        let mut e = Estimator::default();
        e.tick(&traffic(400, 0, 0));
        // 200/s measured, a quarter of it after one tick: 50.
        assert_eq!(e.rates().cps, 50);
        e.tick(&traffic(400, 0, 0));
        // Nothing new: three quarters of 50 = 37.5, read as the kernel does ((x + 0x1ff) >> 10).
        assert_eq!(e.rates().cps, 37);
    }

    #[test]
    fn zero_forgets_the_rates_and_the_counts_so_far() {
        let mut e = Estimator::default();
        let t = traffic(1000, 1000, 114_000);
        e.tick(&t);
        e.zero(&t);
        assert_eq!(e.rates(), Rates::default());
        e.tick(&t);
        assert_eq!(e.rates(), Rates::default());
    }
}
