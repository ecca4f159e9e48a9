//! Export failures, told to the operator without flooding the log: a
//! collector that is down fails every batch, every few seconds, in every
//! process.

use std::{
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{SpanData, SpanExporter},
};

/// At most one failure line per process in this long.
pub(crate) const FAILURE_LOG_INTERVAL: Duration = Duration::from_secs(60);

/// Error texts can carry a collector's whole response body.
const MAX_ERROR_CHARS: usize = 300;

/// What to log after an export, if anything.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Report {
    /// Exports are failing: this many batches and spans were lost since the
    /// last line about it.
    Failing { batches: u64, spans: u64 },
    /// An export went through after failures that were reported; the counts
    /// are the losses not reported yet.
    Recovered { batches: u64, spans: u64 },
}

/// Counts lost batches and decides when a line is due: the first failure at
/// once, then at most one line per interval with the losses in between, and
/// one line when exports work again after a reported failure (so a
/// flapping collector gives at most two lines per interval).
#[derive(Debug)]
pub(crate) struct FailureLog {
    interval: Duration,
    last_failure_report: Option<Instant>,
    failure_reported: bool,
    unreported_batches: u64,
    unreported_spans: u64,
}

impl FailureLog {
    pub(crate) fn new(interval: Duration) -> Self {
        FailureLog {
            interval,
            last_failure_report: None,
            failure_reported: false,
            unreported_batches: 0,
            unreported_spans: 0,
        }
    }

    pub(crate) fn failed(&mut self, now: Instant, spans: usize) -> Option<Report> {
        self.unreported_batches += 1;
        self.unreported_spans += spans as u64;
        let due = self
            .last_failure_report
            .is_none_or(|last| now.saturating_duration_since(last) >= self.interval);
        if !due {
            return None;
        }
        self.last_failure_report = Some(now);
        self.failure_reported = true;
        Some(Report::Failing {
            batches: std::mem::take(&mut self.unreported_batches),
            spans: std::mem::take(&mut self.unreported_spans),
        })
    }

    pub(crate) fn succeeded(&mut self) -> Option<Report> {
        if !std::mem::take(&mut self.failure_reported) {
            return None;
        }
        Some(Report::Recovered {
            batches: std::mem::take(&mut self.unreported_batches),
            spans: std::mem::take(&mut self.unreported_spans),
        })
    }

    /// Losses no line has mentioned yet, for the last word at shutdown.
    pub(crate) fn take_unreported(&mut self) -> Option<Report> {
        let batches = std::mem::take(&mut self.unreported_batches);
        let spans = std::mem::take(&mut self.unreported_spans);
        (batches > 0).then_some(Report::Failing { batches, spans })
    }
}

/// Wraps the OTLP exporter and logs its failures through [`FailureLog`].
/// Runs on the batch processor's thread only, so the lock is never
/// contended and no application thread ever waits for it.
#[derive(Debug)]
pub(crate) struct ReportingExporter<E> {
    inner: E,
    endpoint: String,
    log: Mutex<FailureLog>,
}

impl<E> ReportingExporter<E> {
    pub(crate) fn new(inner: E, endpoint: String) -> Self {
        ReportingExporter {
            inner,
            endpoint,
            log: Mutex::new(FailureLog::new(FAILURE_LOG_INTERVAL)),
        }
    }

    fn emit(&self, report: Option<Report>, error: Option<&str>) {
        let endpoint = self.endpoint.as_str();
        match report {
            Some(Report::Failing { batches, spans }) => tracing::warn!(
                endpoint,
                error = error.unwrap_or("earlier exports failed"),
                lost_batches = batches,
                lost_spans = spans,
                "OTLP trace export failing; spans are dropped until the collector answers \
                 (at most one such line a minute)"
            ),
            Some(Report::Recovered { batches, spans }) => tracing::info!(
                endpoint,
                lost_batches = batches,
                lost_spans = spans,
                "OTLP trace export working again"
            ),
            None => {}
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, FailureLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<E: SpanExporter> SpanExporter for ReportingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        let result = self.inner.export(batch).await;
        match &result {
            Ok(()) => {
                let report = self.log().succeeded();
                self.emit(report, None);
            }
            Err(error) => {
                let report = self.log().failed(Instant::now(), spans);
                if report.is_some() {
                    let text: String = error.to_string().chars().take(MAX_ERROR_CHARS).collect();
                    self.emit(report, Some(&text));
                }
            }
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        let report = self.log().take_unreported();
        self.emit(report, None);
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        let report = self.log().take_unreported();
        self.emit(report, None);
        self.inner.shutdown()
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INTERVAL: Duration = Duration::from_secs(60);

    #[test]
    fn the_first_failure_is_reported_then_at_most_one_line_per_interval() {
        let start = Instant::now();
        let mut log = FailureLog::new(INTERVAL);
        assert_eq!(
            log.failed(start, 10),
            Some(Report::Failing {
                batches: 1,
                spans: 10
            })
        );
        for second in 1..60 {
            let now = start + Duration::from_secs(second);
            assert_eq!(log.failed(now, 2), None, "second {second}");
        }
        assert_eq!(
            log.failed(start + INTERVAL, 2),
            Some(Report::Failing {
                batches: 60,
                spans: 120
            }),
            "the next line counts everything lost in between"
        );
    }

    #[test]
    fn recovery_is_reported_once_and_only_after_a_reported_failure() {
        let start = Instant::now();
        let mut log = FailureLog::new(INTERVAL);
        assert_eq!(log.succeeded(), None, "nothing failed");
        assert!(log.failed(start, 5).is_some());
        assert_eq!(
            log.succeeded(),
            Some(Report::Recovered {
                batches: 0,
                spans: 0
            })
        );
        assert_eq!(log.succeeded(), None, "said once");

        // Flapping inside one interval: the failure is counted, not logged,
        // and so is the recovery after it.
        assert_eq!(log.failed(start + Duration::from_secs(1), 3), None);
        assert_eq!(log.succeeded(), None);
        assert_eq!(
            log.failed(start + INTERVAL, 1),
            Some(Report::Failing {
                batches: 2,
                spans: 4
            })
        );
    }

    #[test]
    fn shutdown_reports_losses_no_line_mentioned() {
        let start = Instant::now();
        let mut log = FailureLog::new(INTERVAL);
        assert_eq!(log.take_unreported(), None);
        assert!(log.failed(start, 1).is_some());
        assert_eq!(log.take_unreported(), None, "already reported");
        assert_eq!(log.failed(start + Duration::from_secs(1), 7), None);
        assert_eq!(
            log.take_unreported(),
            Some(Report::Failing {
                batches: 1,
                spans: 7
            })
        );
    }
}
