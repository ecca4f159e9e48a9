//! Totals of one bridge run, for tests and logs (Prometheus counters are
//! reported alongside through tributary-telemetry's families).

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters; read with [`BridgeStats::snapshot`].
#[derive(Debug, Default)]
pub struct BridgeStats {
    pub(crate) published: AtomicU64,
    pub(crate) returned: AtomicU64,
    pub(crate) republished: AtomicU64,
    pub(crate) ingested: AtomicU64,
    pub(crate) ingress_dead_lettered: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Kafka → RabbitMQ messages confirmed by the broker (routed).
    pub published: u64,
    /// Returned as unroutable and dead-lettered to the unroutable queue.
    pub returned: u64,
    /// Publishes retried after a failure or a lost confirm (possible duplicates).
    pub republished: u64,
    /// RabbitMQ → Kafka messages produced and acknowledged.
    pub ingested: u64,
    /// Invalid ingress messages dead-lettered with a reason.
    pub ingress_dead_lettered: u64,
}

impl BridgeStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            published: self.published.load(Ordering::Relaxed),
            returned: self.returned.load(Ordering::Relaxed),
            republished: self.republished.load(Ordering::Relaxed),
            ingested: self.ingested.load(Ordering::Relaxed),
            ingress_dead_lettered: self.ingress_dead_lettered.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
