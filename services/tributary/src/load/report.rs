//! The result of a run: outcomes, latency percentiles, the invariant
//! verdicts, as a human-readable table or JSON.

use std::{collections::BTreeMap, fmt::Write as _, time::Duration};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{
    client::OrderStatus,
    invariants::{InvariantResult, Observed, RunRecord},
};

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

/// Records latencies in microseconds, from 1 µs to an hour, 3 significant
/// digits.
#[derive(Debug, Clone)]
pub struct LatencyRecorder(Option<Histogram<u64>>);

impl Default for LatencyRecorder {
    fn default() -> Self {
        LatencyRecorder(Histogram::new_with_bounds(1, 3_600_000_000, 3).ok())
    }
}

impl LatencyRecorder {
    pub fn record_micros(&mut self, micros: i64) {
        if let Some(histogram) = &mut self.0 {
            let value = u64::try_from(micros).unwrap_or(0).max(1);
            // Values above the bound are clamped, never dropped.
            histogram.saturating_record(value);
        }
    }

    pub fn record(&mut self, duration: Duration) {
        self.record_micros(i64::try_from(duration.as_micros()).unwrap_or(i64::MAX));
    }

    /// `None` when nothing was recorded.
    pub fn percentiles(&self) -> Option<Percentiles> {
        let histogram = self.0.as_ref().filter(|h| !h.is_empty())?;
        let ms = |micros: u64| micros as f64 / 1_000.0;
        Some(Percentiles {
            count: histogram.len(),
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            p999: ms(histogram.value_at_quantile(0.999)),
            max: ms(histogram.max()),
            mean: histogram.mean() / 1_000.0,
        })
    }
}

/// How the sending phase went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SendSummary {
    /// Orders the schedule held.
    pub planned: usize,
    pub sent: usize,
    /// Answered 202.
    pub accepted: usize,
    /// Answered another status, by status code.
    pub refused: BTreeMap<u16, usize>,
    /// No answer within the request timeout.
    pub no_answer: usize,
    /// Orders per second offered, as asked.
    pub offered_rate: f64,
    /// Orders sent per second of the sending phase.
    pub achieved_rate: f64,
    /// Largest delay of a send behind its schedule, in milliseconds.
    pub max_send_lag_ms: f64,
    /// Why sending stopped early (the platform did not keep up).
    pub overload: Option<String>,
}

/// Terminal states of the run's orders.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    pub confirmed: usize,
    /// Cancelled orders by reason (STOCK_REJECTED, PAYMENT_DECLINED, TIMEOUT…).
    pub cancelled: BTreeMap<String, usize>,
    /// Not terminal when the run gave up waiting.
    pub pending: usize,
    /// Orders whose outcome differs from what the mix meant them to get
    /// (for example a normal order cancelled by the saga timeout).
    pub unexpected: usize,
    /// Orders found in customers' lists whose placement answer was lost.
    pub untracked: usize,
}

/// Everything a run found.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Prefix of the run's customers and SKUs.
    pub run_id: String,
    pub seed: u64,
    pub duration_s: f64,
    pub customers: usize,
    pub skus: usize,
    pub send: SendSummary,
    pub outcomes: Outcomes,
    /// Scheduled send time to `decided_at`, for confirmed orders.
    pub saga_latency_ms: Option<Percentiles>,
    /// Scheduled send time to `decided_at`, for cancelled orders (these
    /// include the stock-release compensation of declined payments).
    pub cancelled_latency_ms: Option<Percentiles>,
    /// Scheduled send time to the 202 answer.
    pub post_latency_ms: Option<Percentiles>,
    pub invariants: Vec<InvariantResult>,
    /// Every invariant holds and the platform kept up with the offered rate.
    pub passed: bool,
    /// What the check covered, to check again later (not in the JSON).
    #[serde(skip)]
    pub record: RunRecord,
    /// The state the check saw (not in the JSON).
    #[serde(skip)]
    pub observed: Observed,
}

impl LoadReport {
    pub fn invariants_hold(&self) -> bool {
        self.invariants.iter().all(|i| i.holds)
    }

    /// The report as JSON (pretty-printed).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The report as a human-readable table.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let s = &self.send;
        let _ = writeln!(
            out,
            "Load run {} (seed {}): {} customers, {} SKUs, {:.1} orders/s offered for {:.1}s",
            self.run_id, self.seed, self.customers, self.skus, s.offered_rate, self.duration_s
        );
        let refused: Vec<String> = s
            .refused
            .iter()
            .map(|(status, n)| format!("{n}×{status}"))
            .collect();
        let _ = writeln!(
            out,
            "  sent       {}/{} at {:.1}/s (max send lag {:.1} ms): accepted {}, refused {}, no answer {}",
            s.sent,
            s.planned,
            s.achieved_rate,
            s.max_send_lag_ms,
            s.accepted,
            if refused.is_empty() {
                "0".to_owned()
            } else {
                refused.join(" ")
            },
            s.no_answer
        );
        let o = &self.outcomes;
        let cancelled: usize = o.cancelled.values().sum();
        let reasons: Vec<String> = o
            .cancelled
            .iter()
            .map(|(reason, n)| format!("{reason} {n}"))
            .collect();
        let _ = writeln!(
            out,
            "  outcomes   confirmed {}, cancelled {} ({}), pending {}, unexpected {}, untracked {}",
            o.confirmed,
            cancelled,
            reasons.join(", "),
            o.pending,
            o.unexpected,
            o.untracked
        );
        let _ = writeln!(
            out,
            "  latency (ms)        {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for (label, p) in [
            ("saga, confirmed", &self.saga_latency_ms),
            ("saga, cancelled", &self.cancelled_latency_ms),
            ("POST /v1/orders", &self.post_latency_ms),
        ] {
            match p {
                Some(p) => {
                    let _ = writeln!(
                        out,
                        "    {label:<17} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
                        p.count, p.p50, p.p90, p.p99, p.p999, p.max
                    );
                }
                None => {
                    let _ = writeln!(out, "    {label:<17} {:>8}", 0);
                }
            }
        }
        let _ = writeln!(out, "  invariants");
        for invariant in &self.invariants {
            let _ = writeln!(
                out,
                "    {} {}. {} ({} checked{})",
                if invariant.holds { "ok  " } else { "FAIL" },
                invariant.number,
                invariant.name,
                invariant.checked,
                if invariant.holds {
                    String::new()
                } else {
                    format!(", {} violations", invariant.violations)
                }
            );
            for example in &invariant.examples {
                let _ = writeln!(out, "           - {example}");
            }
        }
        if let Some(overload) = &s.overload {
            let _ = writeln!(out, "  OVERLOAD: {overload}");
        }
        if o.pending > 0 {
            let _ = writeln!(
                out,
                "  BACKLOG: {} sagas had not ended when the run stopped waiting; the platform \
                 did not keep up, and violations above may be sagas still in flight \
                 (a longer --settle-timeout tells them apart)",
                o.pending
            );
        }
        let _ = writeln!(
            out,
            "  result     {}",
            if self.passed {
                "PASS: every invariant holds"
            } else if !self.invariants_hold() {
                "FAIL: invariants violated"
            } else {
                "FAIL: the platform did not keep up with the offered rate"
            }
        );
        out
    }
}

/// Counts terminal states and pending orders.
pub fn count_outcomes<'a>(
    statuses: impl Iterator<Item = (OrderStatus, Option<&'a str>)>,
) -> Outcomes {
    let mut outcomes = Outcomes::default();
    for (status, reason) in statuses {
        match status {
            OrderStatus::Confirmed => outcomes.confirmed += 1,
            OrderStatus::Cancelled => {
                *outcomes
                    .cancelled
                    .entry(reason.unwrap_or("UNKNOWN").to_owned())
                    .or_default() += 1;
            }
            OrderStatus::Pending | OrderStatus::Unknown => outcomes.pending += 1,
        }
    }
    outcomes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut recorder = LatencyRecorder::default();
        assert!(recorder.percentiles().is_none());
        for ms in 1..=1_000 {
            recorder.record(Duration::from_millis(ms));
        }
        recorder.record_micros(-5);
        let p = recorder.percentiles().expect("recorded");
        assert_eq!(p.count, 1_001);
        assert!((p.p50 - 500.0).abs() < 1.0, "{p:?}");
        assert!((p.p99 - 990.0).abs() < 1.0, "{p:?}");
        assert!((p.max - 1_000.0).abs() < 1.0, "{p:?}");
    }

    #[test]
    fn outcomes_are_counted_by_reason() {
        let outcomes = count_outcomes(
            [
                (OrderStatus::Confirmed, None),
                (OrderStatus::Cancelled, Some("TIMEOUT")),
                (OrderStatus::Cancelled, Some("TIMEOUT")),
                (OrderStatus::Pending, None),
            ]
            .into_iter(),
        );
        assert_eq!(outcomes.confirmed, 1);
        assert_eq!(outcomes.cancelled.get("TIMEOUT"), Some(&2));
        assert_eq!(outcomes.pending, 1);
    }
}
