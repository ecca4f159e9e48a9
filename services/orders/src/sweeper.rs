//! The saga-timeout sweeper: cancels orders that stayed PENDING longer than
//! the saga timeout.
//!
//! Every replica may run it. Two sweepers (or a sweeper and a projector
//! confirming the same order) cannot both decide one order: the decision is
//! written with `Expect::Version` of the order row that was read, so exactly
//! one write wins and the loser changes nothing — a sweeper that loses sees
//! a terminal order on its next pass and only tidies the index. The timeout's
//! `OrderCancelled` has an id derived from the order id alone, and the commit
//! records that id as processed, so even a repeated sweep publishes it once.

use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tributary_contracts::events::AnyEvent;
use tributary_service::{CommitError, Effects, ServiceContext, Versioned};
use tributary_views::{ClusteringOrder, Expect, Outcome, ViewError};

use crate::{
    domain::{SagaEvent, TimeoutAction, decide_timeout},
    views::{ORDERS, PENDING, PendingOrder, TimelineEntry, pending_buckets},
};

/// Why one sweep stopped early. The sweeper logs it and tries again at the
/// next interval.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("cannot read the pending orders: {0}")]
    Read(#[from] ViewError),
    #[error("cannot commit the timeout of order {order_id}: {source}")]
    Commit {
        order_id: uuid::Uuid,
        #[source]
        source: CommitError,
    },
    #[error("cannot serialize order {order_id}: {source}")]
    Serialize {
        order_id: uuid::Uuid,
        #[source]
        source: serde_json::Error,
    },
}

/// The sweeper's settings, taken from [`OrdersConfig`](crate::OrdersConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepSettings {
    /// A PENDING order older than this is cancelled.
    pub timeout: Duration,
    /// How many due orders one pass handles at most.
    pub batch: usize,
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Orders cancelled for timeout by this sweep.
    pub cancelled: usize,
    /// Timeout events published again (an earlier cancellation's event may
    /// have been lost by a partially applied write).
    pub reemitted: usize,
    /// Stale index entries of already-terminal orders removed.
    pub cleared: usize,
    /// Orders another writer decided first (a confirmation, another sweeper).
    pub lost_races: usize,
}

impl SweepReport {
    fn is_empty(&self) -> bool {
        *self == SweepReport::default()
    }
}

/// Runs sweeps every `interval` until `shutdown` is cancelled. A failed
/// sweep is logged and retried at the next interval: a store that is busy
/// now must not stop the service.
pub async fn run(
    context: ServiceContext,
    settings: SweepSettings,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match sweep_once(&context, settings).await {
            Ok(report) if !report.is_empty() => tracing::info!(
                cancelled = report.cancelled,
                reemitted = report.reemitted,
                cleared = report.cleared,
                lost_races = report.lost_races,
                "saga timeout sweep"
            ),
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "saga timeout sweep failed; retrying at the next interval")
            }
        }
    }
}

/// One pass over the pending index: every bucket, oldest first, up to
/// `settings.batch` due orders.
pub async fn sweep_once(
    context: &ServiceContext,
    settings: SweepSettings,
) -> Result<SweepReport, SweepError> {
    let now = context.now_ms();
    let timeout_ms = i64::try_from(settings.timeout.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now.saturating_sub(timeout_ms);
    let mut report = SweepReport::default();
    let mut handled = 0;
    for bucket in pending_buckets() {
        let remaining = settings.batch.saturating_sub(handled);
        if remaining == 0 {
            break;
        }
        let entries = PENDING
            .partition(
                context.store(),
                &bucket,
                ClusteringOrder::Ascending,
                remaining,
            )
            .await?;
        for entry in entries {
            // Oldest first: the first entry that is not due ends the bucket.
            if entry.value.placed_at > cutoff {
                break;
            }
            handled += 1;
            sweep_entry(context, &entry.value, now, timeout_ms, &mut report).await?;
        }
    }
    Ok(report)
}

async fn sweep_entry(
    context: &ServiceContext,
    entry: &PendingOrder,
    now: i64,
    timeout_ms: i64,
    report: &mut SweepReport,
) -> Result<(), SweepError> {
    let order_id = entry.order_id;
    let key = order_id.to_string();
    let clear = || PENDING.delete(&entry.bucket(), &entry.clustering(), Expect::Any);
    let commit = |event_id, effects| async move {
        context
            .commit(event_id, effects)
            .await
            .map_err(|source| SweepError::Commit { order_id, source })
    };

    let Some(Versioned {
        value: order,
        version,
    }) = ORDERS.get(context.store(), &key, "").await?
    else {
        // An index entry without its order cannot be swept; drop it.
        commit(None, Effects::none().write(clear())).await?;
        report.cleared += 1;
        return Ok(());
    };
    match decide_timeout(&order, now, timeout_ms) {
        TimeoutAction::NotDue => {}
        TimeoutAction::Cancel { next, event } => {
            let event_id = event.envelope.event_id;
            let row = ORDERS
                .put(&key, "", &next, Expect::Version(version))
                .map_err(|source| SweepError::Serialize { order_id, source })?;
            // The commit marks the event processed, so when it comes back
            // from the topic the projector skips it: its timeline entry is
            // written here, the same entry the projector would write.
            let timeline = TimelineEntry::of(&SagaEvent::Cancelled(&event))
                .append(order_id)
                .map_err(|source| SweepError::Serialize { order_id, source })?;
            let effects = Effects::none()
                .write(row)
                .write(timeline)
                .write(clear())
                .emit(AnyEvent::OrderCancelled(event));
            match commit(Some(event_id), effects).await? {
                Outcome::Applied => {
                    tracing::info!(%order_id, placed_at = order.placed_at, "order saga timed out; cancelled");
                    report.cancelled += 1;
                }
                Outcome::Duplicate | Outcome::Conflict { .. } => report.lost_races += 1,
            }
        }
        TimeoutAction::Reemit(event) => {
            let event_id = event.envelope.event_id;
            let timeline = TimelineEntry::of(&SagaEvent::Cancelled(&event))
                .append(order_id)
                .map_err(|source| SweepError::Serialize { order_id, source })?;
            let effects = Effects::none()
                .write(timeline)
                .write(clear())
                .emit(AnyEvent::OrderCancelled(event));
            match commit(Some(event_id), effects).await? {
                Outcome::Applied => report.reemitted += 1,
                // Published before; only the index entry was left behind.
                Outcome::Duplicate | Outcome::Conflict { .. } => {
                    commit(None, Effects::none().write(clear())).await?;
                    report.cleared += 1;
                }
            }
        }
        TimeoutAction::Clear => {
            commit(None, Effects::none().write(clear())).await?;
            report.cleared += 1;
        }
    }
    Ok(())
}
