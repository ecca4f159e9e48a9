//! Telemetry as types: each notable saga event logs and counts in one place.

use std::sync::{Arc, OnceLock};

use tributary_contracts::events::CancellationReason;
use tributary_telemetry::{InternalEvent, Metrics, labels::SagaLabels};
use uuid::Uuid;

use crate::domain::{Order, OrderStatus};

/// The process's metrics, once the runtime has handed them over.
///
/// The runtime gives its [`Metrics`] to routes and tasks (through the
/// `ServiceContext`) but not to projectors, which are built before the
/// application; the service's route builder and sweeper fill this in, and
/// until then (or in tests without either) saga events are only logged.
#[derive(Debug, Clone, Default)]
pub struct MetricsSlot(Arc<OnceLock<Metrics>>);

impl MetricsSlot {
    /// Keeps `metrics` (the first call wins; every caller passes the same).
    pub fn fill(&self, metrics: &Metrics) {
        let _ = self.0.set(metrics.clone());
    }

    pub fn get(&self) -> Option<&Metrics> {
        self.0.get()
    }
}

/// An order's saga ended: its own terminal event was consumed back from the
/// `orders` topic, which happens once per order whatever decided it (a
/// consumed outcome or the timeout sweeper).
#[derive(Debug)]
pub struct SagaFinished<'a> {
    pub order: &'a Order,
}

impl SagaFinished<'_> {
    /// The bounded `outcome` label.
    pub fn outcome(order: &Order) -> &'static str {
        match (order.status, order.reason) {
            (OrderStatus::Confirmed, _) => "confirmed",
            (OrderStatus::Cancelled, Some(CancellationReason::StockRejected)) => "stock_rejected",
            (OrderStatus::Cancelled, Some(CancellationReason::PaymentDeclined)) => {
                "payment_declined"
            }
            (OrderStatus::Cancelled, Some(CancellationReason::Timeout)) => "timed_out",
            (OrderStatus::Cancelled, _) => "cancelled",
            (OrderStatus::Pending, _) => "pending",
        }
    }

    /// Placement to decision, in ms (0 when unknown or negative).
    fn duration_ms(order: &Order) -> i64 {
        order
            .decided_at
            .map_or(0, |at| at.saturating_sub(order.placed_at).max(0))
    }

    /// Logs, and counts when the metrics are known.
    pub fn emit_to(self, slot: &MetricsSlot) {
        let outcome = Self::outcome(self.order);
        let duration_ms = Self::duration_ms(self.order);
        tracing::info!(
            order_id = %self.order.id,
            outcome,
            duration_ms,
            "order saga finished"
        );
        if let Some(metrics) = slot.get() {
            self.emit(metrics);
        }
    }
}

impl InternalEvent for SagaFinished<'_> {
    fn emit(self, metrics: &Metrics) {
        let labels = SagaLabels {
            outcome: Self::outcome(self.order).to_owned(),
        };
        let duration_ms = Self::duration_ms(self.order);
        metrics.saga_outcomes().get_or_create(&labels).inc();
        // Milliseconds to seconds; precision loss is irrelevant at this scale.
        #[allow(clippy::cast_precision_loss)]
        let seconds = duration_ms as f64 / 1000.0;
        metrics
            .saga_duration()
            .get_or_create(&labels)
            .observe(seconds);
    }
}

/// A consumed terminal event overrode a different decision in this view.
/// Expected only while rebuilding a view (the published event is the truth);
/// in a live view it means two terminal events exist for one order.
#[derive(Debug)]
pub struct DecisionOverridden {
    pub order_id: Uuid,
    pub previous: OrderStatus,
    pub adopted: OrderStatus,
    pub event_id: Uuid,
}

impl DecisionOverridden {
    pub fn log(&self) {
        tracing::warn!(
            order_id = %self.order_id,
            previous = self.previous.as_str(),
            adopted = self.adopted.as_str(),
            event_id = %self.event_id,
            "published terminal event overrides this view's decision"
        );
    }
}
