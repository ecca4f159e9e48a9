//! A mergeable quantile sketch for saga durations with a guaranteed relative
//! error.
//!
//! Durations (whole milliseconds) are counted in logarithmic buckets: bucket
//! `i` holds the values in `(γ^(i-1), γ^i]` with `γ = (1 + α) / (1 - α)` and
//! `α = RELATIVE_ERROR = 1 %`, and answers with `2γ^i / (γ + 1)`, which is
//! within `α` of every value of the bucket. A quantile is the bucket holding
//! the nearest-rank sample, so **every reported quantile is within 1 % of the
//! exact nearest-rank quantile** of the recorded values (plus float rounding,
//! far below a millisecond). The answer is additionally clamped to the exact
//! minimum and maximum, which only moves it closer.
//!
//! Counts are kept per bucket index in a sparse map, so two sketches merge by
//! adding counts — windows of several source partitions, or all windows into
//! the totals, combine without losing accuracy. A sketch of values up to one
//! hour has at most ~760 buckets; real saga durations occupy a few dozen.
//!
//! Chosen over a serialized HDR histogram because it is plain JSON in the
//! view row (readable with any tool), needs no extra dependency, and its
//! error bound is one number.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Guaranteed relative error of every quantile.
pub const RELATIVE_ERROR: f64 = 0.01;

/// `γ = (1 + α) / (1 - α)`.
const GAMMA: f64 = (1.0 + RELATIVE_ERROR) / (1.0 - RELATIVE_ERROR);

/// Counts of durations in logarithmic buckets; see the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DurationSketch {
    /// Number of recorded values.
    pub count: u64,
    /// Values of exactly 0 ms (no logarithm).
    pub zeros: u64,
    /// Bucket index -> count, for values of at least 1 ms.
    pub buckets: BTreeMap<i32, u64>,
    /// Exact smallest value, when any.
    pub min_ms: Option<u64>,
    /// Exact largest value, when any.
    pub max_ms: Option<u64>,
}

impl DurationSketch {
    /// Records one duration.
    pub fn record(&mut self, value_ms: u64) {
        self.count = self.count.saturating_add(1);
        self.min_ms = Some(self.min_ms.map_or(value_ms, |m| m.min(value_ms)));
        self.max_ms = Some(self.max_ms.map_or(value_ms, |m| m.max(value_ms)));
        if value_ms == 0 {
            self.zeros = self.zeros.saturating_add(1);
        } else {
            let slot = self.buckets.entry(bucket_index(value_ms)).or_insert(0);
            *slot = slot.saturating_add(1);
        }
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &DurationSketch) {
        self.count = self.count.saturating_add(other.count);
        self.zeros = self.zeros.saturating_add(other.zeros);
        for (index, count) in &other.buckets {
            let slot = self.buckets.entry(*index).or_insert(0);
            *slot = slot.saturating_add(*count);
        }
        self.min_ms = match (self.min_ms, other.min_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.max_ms = match (self.max_ms, other.max_ms) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// The `q`-quantile (`0 < q <= 1`, clamped) in milliseconds, by nearest
    /// rank; `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let (min, max) = (self.min_ms?, self.max_ms?);
        // Counted from the buckets so that a hand-edited row cannot make the
        // walk below run past the end.
        let total = self
            .buckets
            .values()
            .fold(self.zeros, |acc, c| acc.saturating_add(*c));
        if total == 0 {
            return None;
        }
        let q = if q.is_nan() { 1.0 } else { q.clamp(0.0, 1.0) };
        // Nearest rank: the smallest value with at least ceil(q * n) values <= it.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let estimate = if rank <= self.zeros {
            0.0
        } else {
            let mut seen = self.zeros;
            let mut found = max as f64;
            for (index, count) in &self.buckets {
                seen = seen.saturating_add(*count);
                if seen >= rank {
                    found = representative(*index);
                    break;
                }
            }
            found
        };
        Some(estimate.clamp(min as f64, max as f64))
    }
}

/// `ceil(log_γ(value))` for `value >= 1`.
fn bucket_index(value_ms: u64) -> i32 {
    // u64 -> f64 loses precision only above 2^53 ms (285,000 years).
    let index = ((value_ms as f64).ln() / GAMMA.ln()).ceil();
    // At most ln(2^64) / ln(γ) ≈ 2219, far inside i32.
    index as i32
}

/// The value every member of bucket `index` is within `α` of.
fn representative(index: i32) -> f64 {
    2.0 * GAMMA.powi(index) / (GAMMA + 1.0)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The exact nearest-rank quantile.
    fn exact(values: &[u64], q: f64) -> u64 {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        sorted[rank - 1]
    }

    fn within_bound(estimate: f64, truth: u64) -> bool {
        let truth = truth as f64;
        (estimate - truth).abs() <= truth * RELATIVE_ERROR * (1.0 + 1e-9) + 1e-9
    }

    #[test]
    fn empty_sketch_has_no_quantiles() {
        let sketch = DurationSketch::default();
        assert_eq!(sketch.quantile(0.5), None);
        assert_eq!(sketch.count, 0);
    }

    #[test]
    fn small_values_come_back_exactly_after_rounding() {
        let mut sketch = DurationSketch::default();
        for v in 0..=40 {
            sketch.record(v);
        }
        for v in 0..=40u64 {
            // Mid-rank, so float rounding of q * n cannot pick a neighbour.
            let q = (v as f64 + 0.5) / 41.0;
            let estimate = sketch.quantile(q).expect("values recorded");
            assert_eq!(estimate.round() as u64, v, "q={q}");
        }
    }

    #[test]
    fn known_distribution() {
        let mut sketch = DurationSketch::default();
        // 1..=1000 ms: p50 = 500, p90 = 900, p99 = 990.
        for v in 1..=1000 {
            sketch.record(v);
        }
        for (q, truth) in [(0.5, 500), (0.9, 900), (0.99, 990), (1.0, 1000)] {
            let estimate = sketch.quantile(q).expect("values recorded");
            assert!(
                within_bound(estimate, truth),
                "q={q}: {estimate} vs {truth}"
            );
        }
        assert_eq!(sketch.min_ms, Some(1));
        assert_eq!(sketch.max_ms, Some(1000));
    }

    #[test]
    fn survives_a_json_round_trip() {
        let mut sketch = DurationSketch::default();
        for v in [0, 3, 250, 250, 10_000, 65_000] {
            sketch.record(v);
        }
        let json = serde_json::to_string(&sketch).expect("serializes");
        let back: DurationSketch = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, sketch);
    }

    proptest! {
        #[test]
        fn quantiles_are_within_the_documented_bound(
            values in prop::collection::vec(0u64..10_000_000, 1..400),
            q in 0.001f64..=1.0,
        ) {
            let mut sketch = DurationSketch::default();
            for v in &values {
                sketch.record(*v);
            }
            let estimate = sketch.quantile(q).expect("values recorded");
            let truth = exact(&values, q);
            prop_assert!(within_bound(estimate, truth), "q={} estimate={} truth={}", q, estimate, truth);
        }

        #[test]
        fn merging_equals_recording_everything(
            a in prop::collection::vec(0u64..1_000_000, 0..100),
            b in prop::collection::vec(0u64..1_000_000, 0..100),
        ) {
            let mut left = DurationSketch::default();
            a.iter().for_each(|v| left.record(*v));
            let mut right = DurationSketch::default();
            b.iter().for_each(|v| right.record(*v));
            let mut all = DurationSketch::default();
            a.iter().chain(&b).for_each(|v| all.record(*v));
            left.merge(&right);
            prop_assert_eq!(left, all);
        }
    }
}
