//! A small log-bucketed histogram of call durations, so hourly statistics keep p50/p99
//! in a few hundred bytes however many attempts an hour has.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Below this many milliseconds each millisecond has its own bucket.
const LINEAR: u64 = 16;
/// Buckets per doubling above that: about 9 % resolution.
const PER_DOUBLING: u64 = 8;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencyHistogram {
    /// bucket index → count; sparse, since most hours use a handful of buckets.
    buckets: BTreeMap<u32, u64>,
}

impl LatencyHistogram {
    pub fn record(&mut self, millis: u64) {
        *self.buckets.entry(bucket_of(millis)).or_default() += 1;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
    }

    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The upper bound of the bucket holding quantile `q` (0..=1), in milliseconds.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return Some(upper_bound(*bucket));
            }
        }
        self.buckets.keys().next_back().map(|b| upper_bound(*b))
    }
}

fn bucket_of(millis: u64) -> u32 {
    if millis < LINEAR {
        return millis as u32;
    }
    let ratio = millis as f64 / LINEAR as f64;
    (LINEAR + (ratio.log2() * PER_DOUBLING as f64).floor() as u64) as u32
}

fn upper_bound(bucket: u32) -> u64 {
    let bucket = u64::from(bucket);
    if bucket < LINEAR {
        return bucket;
    }
    let exponent = (bucket - LINEAR + 1) as f64 / PER_DOUBLING as f64;
    (LINEAR as f64 * exponent.exp2()).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_the_bucket_resolution() {
        let mut h = LatencyHistogram::default();
        for ms in 1..=1000 {
            h.record(ms);
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((500..=550).contains(&p50), "p50 {p50}");
        assert!((990..=1090).contains(&p99), "p99 {p99}");
        assert_eq!(LatencyHistogram::default().quantile(0.5), None);
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = LatencyHistogram::default();
        a.record(3);
        let mut b = LatencyHistogram::default();
        b.record(3);
        b.record(400);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.quantile(0.5), Some(3));
    }
}
