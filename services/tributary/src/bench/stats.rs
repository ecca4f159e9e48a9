//! Summaries of repeated measurements.
//!
//! Rounds on a shared machine are noisy in both directions (a neighbour's
//! build slows one round, a cache warms the next), so reports use the median
//! of per-round figures rather than the mean, which one outlier can drag.

use std::time::Duration;

/// The median of `values`; `None` when there are none. An even count
/// averages the two middle values.
pub fn median(values: &[f64]) -> Option<f64> {
    let sorted = sorted(values);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// The `p`-th percentile (0–100) of `values` by the nearest-rank method: the
/// smallest value with at least `p` % of the values at or below it. `None`
/// when there are no values; `p` is clamped to 0–100.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let sorted = sorted(values);
    if sorted.is_empty() {
        return None;
    }
    let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 100.0) };
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `ours / theirs`, or 0 when `theirs` is not a positive number (a side
/// that measured nothing must not produce an infinite ratio).
pub fn ratio(ours: f64, theirs: f64) -> f64 {
    if theirs > 0.0 && theirs.is_finite() && ours.is_finite() {
        ours / theirs
    } else {
        0.0
    }
}

/// Events per second for `events` handled in `elapsed` (0 for no time).
pub fn rate(events: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        events as f64 / secs
    } else {
        0.0
    }
}

/// Finite values only, in ascending order.
fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    sorted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty_sets() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0]), Some(3.0));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        // One wild round does not move it.
        assert_eq!(median(&[10.0, 11.0, 12.0, 1e9, 9.0]), Some(11.0));
    }

    #[test]
    fn median_ignores_non_finite_values() {
        assert_eq!(median(&[f64::NAN, 2.0, f64::INFINITY, 4.0]), Some(3.0));
        assert_eq!(median(&[f64::NAN]), None);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&values, 50.0), Some(50.0));
        assert_eq!(percentile(&values, 99.0), Some(99.0));
        assert_eq!(percentile(&values, 100.0), Some(100.0));
        assert_eq!(percentile(&values, 0.0), Some(1.0));
        assert_eq!(percentile(&values, 250.0), Some(100.0));
        assert_eq!(percentile(&[7.0, 1.0], 50.0), Some(1.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn ratio_and_rate_guard_against_zero() {
        assert_eq!(ratio(9.0, 10.0), 0.9);
        assert_eq!(ratio(1.0, 0.0), 0.0);
        assert_eq!(ratio(f64::NAN, 1.0), 0.0);
        assert_eq!(rate(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(rate(5, Duration::ZERO), 0.0);
    }
}
