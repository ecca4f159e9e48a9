//! The no-op handler the consumer benchmarks run, the progress it keeps,
//! and how a benchmark stops the consumer group it ran.

use std::{
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use async_trait::async_trait;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_bus::{Handler, HandlerError, Received};

/// How long a stopping consumer group may take to drain, commit and leave.
const GROUP_STOP_TIMEOUT: Duration = Duration::from_secs(60);

/// Stops a consumer group the benchmark ran as the task `running`: cancels
/// `shutdown`, waits up to [`GROUP_STOP_TIMEOUT`] for the task to end and
/// aborts it after that, so a group stuck in shutdown cannot hang the run.
/// The task's result is not looked at: the caller has decided the outcome.
pub(crate) async fn stop_group<T>(shutdown: &CancellationToken, running: JoinHandle<T>) {
    shutdown.cancel();
    if !running.is_finished() {
        let abort = running.abort_handle();
        if tokio::time::timeout(GROUP_STOP_TIMEOUT, running)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

/// A pause between two consecutive events at least this long counts as a
/// stall (a rebalance, a fetch that came back empty).
pub(crate) const STALL: Duration = Duration::from_millis(50);

/// Counts handled events and fires `done` once `target` were seen.
///
/// Throughput is taken from the first event to the `target`-th, so the
/// group join (several seconds on tansu) and the shutdown are not in it, for
/// our runner and the raw consumer alike. Pauses between consecutive events
/// are tracked too, to tell a slow consumer from one that waited.
#[derive(Debug)]
pub(crate) struct Progress {
    target: u64,
    count: AtomicU64,
    first: OnceLock<Instant>,
    last: OnceLock<Instant>,
    done: CancellationToken,
    origin: Instant,
    /// Nanoseconds since `origin` of the latest event.
    latest_ns: AtomicU64,
    max_gap_ns: AtomicU64,
    stalled_ns: AtomicU64,
}

/// Pauses seen between consecutive events.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Stalls {
    /// The longest pause between two consecutive events.
    pub max_gap_ms: f64,
    /// Time spent in pauses of at least 50 ms.
    pub stalled_ms: f64,
}

impl Progress {
    pub(crate) fn new(target: u64) -> Arc<Progress> {
        Arc::new(Progress {
            target,
            count: AtomicU64::new(0),
            first: OnceLock::new(),
            last: OnceLock::new(),
            done: CancellationToken::new(),
            origin: Instant::now(),
            latest_ns: AtomicU64::new(0),
            max_gap_ns: AtomicU64::new(0),
            stalled_ns: AtomicU64::new(0),
        })
    }

    /// Records one event; true when it was the `target`-th.
    pub(crate) fn record(&self) -> bool {
        let now = Instant::now();
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        let now_ns = u64::try_from(now.duration_since(self.origin).as_nanos()).unwrap_or(u64::MAX);
        let previous_ns = self.latest_ns.fetch_max(now_ns, Ordering::Relaxed);
        if n == 1 {
            let _ = self.first.set(now);
        } else if now_ns > previous_ns {
            let gap = now_ns - previous_ns;
            self.max_gap_ns.fetch_max(gap, Ordering::Relaxed);
            if gap >= STALL.as_nanos() as u64 {
                self.stalled_ns.fetch_add(gap, Ordering::Relaxed);
            }
        }
        if n == self.target {
            let _ = self.last.set(now);
            self.done.cancel();
            return true;
        }
        false
    }

    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Cancelled once `target` events were recorded.
    pub(crate) fn done(&self) -> &CancellationToken {
        &self.done
    }

    pub(crate) fn stalls(&self) -> Stalls {
        let ms = |ns: &AtomicU64| ns.load(Ordering::Relaxed) as f64 / 1e6;
        Stalls {
            max_gap_ms: ms(&self.max_gap_ns),
            stalled_ms: ms(&self.stalled_ns),
        }
    }

    /// Time from the first event to the `target`-th (`None` before that).
    pub(crate) fn elapsed(&self) -> Option<Duration> {
        Some(self.last.get()?.duration_since(*self.first.get()?))
    }
}

/// Does nothing with the event but count it: the typed decode before it is
/// what is being measured.
#[derive(Debug)]
pub(crate) struct CountingHandler(pub Arc<Progress>);

#[async_trait]
impl Handler for CountingHandler {
    async fn handle(&self, event: Received) -> Result<(), HandlerError> {
        std::hint::black_box(&event);
        self.0.record();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_once_at_the_target() {
        let progress = Progress::new(3);
        assert!(!progress.record());
        assert!(progress.elapsed().is_none());
        assert!(!progress.record());
        assert!(!progress.done().is_cancelled());
        assert!(progress.record());
        assert!(progress.done().is_cancelled());
        assert!(!progress.record(), "only the target-th event fires");
        assert_eq!(progress.count(), 4);
        assert!(progress.elapsed().is_some());
    }

    #[test]
    fn tracks_pauses_between_events() {
        let progress = Progress::new(10);
        progress.record();
        std::thread::sleep(STALL + Duration::from_millis(10));
        progress.record();
        progress.record();
        let stalls = progress.stalls();
        assert!(stalls.max_gap_ms >= STALL.as_millis() as f64, "{stalls:?}");
        assert!(stalls.stalled_ms >= STALL.as_millis() as f64, "{stalls:?}");
        assert!(stalls.stalled_ms < 10_000.0, "{stalls:?}");
    }
}
