//! A histogram of times in nanoseconds with buckets of 1/16 of a power of two, so that a
//! percentile is read to within 6 % (the worst time kept exactly) from a few kilobytes however
//! many times are counted: for benches that time every frame of tens of millions.

/// Times in nanoseconds, in buckets of 1/16 of a power of two.
#[derive(Debug, Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    pub max: u64,
    pub total: u64,
    sum: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; 64 * 16],
            max: 0,
            total: 0,
            sum: 0,
        }
    }

    pub(crate) fn bucket(ns: u64) -> usize {
        if ns < 16 {
            return ns as usize;
        }
        let power = 63 - ns.leading_zeros() as usize;
        let sub = ((ns >> (power - 4)) & 15) as usize;
        (power - 3) * 16 + sub
    }

    /// The lowest time of a bucket.
    pub(crate) fn floor(bucket: usize) -> u64 {
        if bucket < 16 {
            return bucket as u64;
        }
        let (power, sub) = (bucket / 16 + 3, (bucket % 16) as u64);
        (16 + sub) << (power - 4)
    }

    /// Counts one time (no allocation).
    pub fn add(&mut self, ns: u64) {
        self.counts[Self::bucket(ns)] += 1;
        self.max = self.max.max(ns);
        self.total += 1;
        self.sum += ns;
    }

    /// The lowest time of the bucket that holds the `p` quantile (0 < p <= 1).
    pub fn percentile(&self, p: f64) -> u64 {
        let want = ((self.total as f64) * p).ceil() as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= want.max(1) {
                return Self::floor(b);
            }
        }
        self.max
    }

    /// One line: count, mean, p50, p99, p99.9, p99.99 and the worst, exactly.
    pub fn line(&self, what: &str) -> String {
        format!(
            "{what}: {} timed, mean {:.0} ns, p50 {} ns, p99 {} ns, p99.9 {} ns, p99.99 {} ns, \
             worst {:.1} µs",
            self.total,
            self.sum as f64 / self.total.max(1) as f64,
            self.percentile(0.5),
            self.percentile(0.99),
            self.percentile(0.999),
            self.percentile(0.9999),
            self.max as f64 / 1e3,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_hold_their_floor_and_percentiles_come_from_them() {
        for ns in [
            0,
            1,
            15,
            16,
            17,
            31,
            32,
            100,
            1_000,
            123_456,
            10_000_000_000,
        ] {
            let b = Histogram::bucket(ns);
            assert!(Histogram::floor(b) <= ns, "{ns}");
            assert!(Histogram::floor(b + 1) > ns, "{ns}");
        }
        let mut h = Histogram::new();
        for ns in 1..=1000 {
            h.add(ns);
        }
        assert_eq!(h.percentile(0.5), Histogram::floor(Histogram::bucket(500)));
        assert_eq!(h.max, 1000);
    }
}
