//! Throughput and latency: the same plan of points run on one rig after
//! the other. A point sends its events (paced or saturating), waits until
//! every group processed every event (or the drain timeout), and summarises
//! the arrivals.

use std::time::Duration;

use serde::Serialize;

use super::{
    collector::{Arrival, Collector},
    pace::{Pace, Pool, Publisher, drive},
};
use crate::bench::{BenchError, percentile};

/// A point keeps up when the sender stayed this close to its schedule…
const KEPT_UP_BEHIND: Duration = Duration::from_secs(1);
/// …and the p99 stayed under this.
const KEPT_UP_P99_MS: f64 = 1_000.0;

/// One measured point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointResult {
    /// Offered events/s; `None` for the saturation point.
    pub offered_per_sec: Option<f64>,
    /// Events published (and confirmed).
    pub sent: u64,
    /// Deliveries expected: sent × groups.
    pub expected: u64,
    /// Deliveries processed within the drain timeout.
    pub delivered: u64,
    /// Confirmed publishes per second (first due time to last confirm).
    pub sent_per_sec: f64,
    /// Deliveries per second, from the start of the point to the last
    /// arrival.
    pub delivered_per_sec: f64,
    /// End-to-end latency from scheduled send to processed, over the
    /// deliveries that arrived; `None` when none did.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
    /// How far behind schedule the sender handed over its last event.
    pub sender_behind_ms: f64,
}

impl PointResult {
    pub fn complete(&self) -> bool {
        self.delivered >= self.expected
    }

    /// Everything delivered, the sender on schedule, p99 ≤ 1 s.
    pub fn kept_up(&self) -> bool {
        self.complete()
            && self.sender_behind_ms <= KEPT_UP_BEHIND.as_secs_f64() * 1_000.0
            && self.p99_ms.is_some_and(|p| p <= KEPT_UP_P99_MS)
    }

    /// Summarises a point from what was sent and what arrived.
    pub(crate) fn summarise(
        pace: Pace,
        groups: usize,
        sent_events: u64,
        send_elapsed: Duration,
        behind: Duration,
        start_us: u64,
        arrivals: &[Arrival],
    ) -> PointResult {
        let latencies: Vec<f64> = arrivals
            .iter()
            .map(|a| a.latency_us as f64 / 1_000.0)
            .collect();
        let last_us = arrivals.iter().map(|a| a.at_us).max().unwrap_or(start_us);
        let span = Duration::from_micros(last_us.saturating_sub(start_us));
        PointResult {
            offered_per_sec: match pace {
                Pace::Rate { per_sec, .. } => Some(per_sec),
                Pace::Saturate { .. } => None,
            },
            sent: sent_events,
            expected: sent_events * groups as u64,
            delivered: arrivals.len() as u64,
            sent_per_sec: crate::bench::stats::rate(sent_events, send_elapsed),
            delivered_per_sec: crate::bench::stats::rate(arrivals.len() as u64, span),
            p50_ms: percentile(&latencies, 50.0),
            p99_ms: percentile(&latencies, 99.0),
            max_ms: percentile(&latencies, 100.0),
            sender_behind_ms: behind.as_secs_f64() * 1_000.0,
        }
    }
}

/// Runs one point on a rig and returns its summary and raw arrivals.
pub(crate) async fn point<P: Publisher>(
    rig: &P,
    pace: Pace,
    point: u32,
    groups: usize,
    pool: &Pool,
    collector: &Collector,
    drain: Duration,
) -> Result<(PointResult, Vec<Arrival>), BenchError> {
    collector.begin(point, pace.events() * groups as u64);
    let start_us = collector.now_us();
    let sent = match drive(rig, pace, point, pool, collector).await {
        Ok(sent) => sent,
        Err(error) => {
            collector.finish();
            return Err(error);
        }
    };
    let complete = collector.wait(tokio::time::Instant::now() + drain).await;
    let (arrivals, foreign) = collector.finish();
    if !complete || foreign > 0 {
        tracing::warn!(
            point,
            delivered = arrivals.len(),
            expected = pace.events() * groups as u64,
            foreign,
            "point did not drain completely"
        );
    }
    let result = PointResult::summarise(
        pace,
        groups,
        sent.events,
        sent.elapsed,
        sent.behind,
        start_us,
        &arrivals,
    );
    tracing::info!(
        point,
        offered = ?result.offered_per_sec,
        delivered = result.delivered,
        p50_ms = ?result.p50_ms,
        p99_ms = ?result.p99_ms,
        "point measured"
    );
    Ok((result, arrivals))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::stamp::Stamp;

    fn arrival(seq: u64, at_us: u64, latency_us: u64) -> Arrival {
        Arrival {
            stamp: Stamp {
                point: 1,
                seq,
                key: 0,
                key_seq: seq,
                scheduled_us: at_us - latency_us,
            },
            at_us,
            latency_us,
        }
    }

    #[test]
    fn summarises_latency_and_rates() {
        let arrivals: Vec<Arrival> = (0..100)
            .map(|i| arrival(i, 1_000_000 + i * 10_000, (i + 1) * 1_000))
            .collect();
        let pace = Pace::Rate {
            per_sec: 100.0,
            duration: Duration::from_secs(1),
        };
        let result = PointResult::summarise(
            pace,
            1,
            100,
            Duration::from_secs(1),
            Duration::from_millis(3),
            1_000_000,
            &arrivals,
        );
        assert_eq!(result.offered_per_sec, Some(100.0));
        assert_eq!(result.p50_ms, Some(50.0));
        assert_eq!(result.p99_ms, Some(99.0));
        assert_eq!(result.max_ms, Some(100.0));
        assert!(result.complete());
        assert!(result.kept_up());
        // 100 arrivals over 0.99 s.
        assert!((result.delivered_per_sec - 101.0).abs() < 0.1);
    }

    #[test]
    fn missing_deliveries_do_not_keep_up() {
        let pace = Pace::Saturate {
            events: 10,
            in_flight: 4,
        };
        let result = PointResult::summarise(
            pace,
            2,
            10,
            Duration::from_millis(10),
            Duration::ZERO,
            0,
            &[arrival(0, 5_000, 1_000)],
        );
        assert_eq!(result.offered_per_sec, None);
        assert_eq!(result.expected, 20);
        assert!(!result.complete());
        assert!(!result.kept_up());
    }
}
