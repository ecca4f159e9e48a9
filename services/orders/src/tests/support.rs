//! The orders service over the shared test store
//! (`tributary_service::testing`): a settable clock, the orders projector,
//! and the runtime's projection loop without a broker.

use std::sync::Arc;

use tributary_bus::{HandlerError, Received};
use tributary_contracts::{events::AnyEvent, unframe};
use tributary_service::{
    Effects, ServiceContext,
    testing::{ManualClock, TestStore},
};
use tributary_views::{ClusteringOrder, OutboxEntry, Outcome};

use crate::{
    projector::OrdersProjector,
    telemetry::MetricsSlot,
    views::{TABLES, TIMELINE, TimelineEntry},
};

/// The orders service's store with its context and projector.
#[derive(Debug)]
pub struct TestView {
    /// The store, and a context on it with [`TestView::clock`].
    pub base: TestStore,
    pub clock: Arc<ManualClock>,
    pub projector: OrdersProjector,
}

impl TestView {
    pub async fn open(now_ms: i64) -> TestView {
        let clock = ManualClock::at(now_ms);
        let base = TestStore::open(crate::SERVICE, &TABLES)
            .await
            .with_clock(clock.clone());
        let projector = OrdersProjector::new(clock.clone(), MetricsSlot::default());
        TestView {
            base,
            clock,
            projector,
        }
    }

    /// The timeline of `order_id`, oldest first.
    pub async fn timeline(&self, order_id: uuid::Uuid) -> Vec<TimelineEntry> {
        TIMELINE
            .partition(
                self.base.store(),
                &order_id.to_string(),
                ClusteringOrder::Ascending,
                100,
            )
            .await
            .expect("reads the timeline")
            .into_iter()
            .map(|row| row.value)
            .collect()
    }

    /// Another replica's context on the same store.
    pub fn replica(&self) -> ServiceContext {
        ServiceContext::standalone(crate::SERVICE, self.base.store_handle())
            .with_clock(self.clock.clone())
    }

    /// What the runtime does with one delivery: project, apply with the
    /// event id, and re-project on a conflict.
    pub async fn consume(&self, event: impl Into<AnyEvent>) -> Result<Outcome, HandlerError> {
        self.base.consume(&self.projector, event).await
    }

    pub async fn consume_received(&self, received: &Received) -> Result<Outcome, HandlerError> {
        self.base.consume_received(&self.projector, received).await
    }

    pub async fn apply(&self, event_id: uuid::Uuid, effects: Effects) -> Outcome {
        self.base
            .context
            .commit(Some(event_id), effects)
            .await
            .expect("commit")
    }

    /// Every message in the outbox.
    pub async fn outbox(&self) -> Vec<OutboxEntry> {
        self.base
            .store()
            .outbox_pending(1_000)
            .await
            .expect("outbox")
    }

    /// The outbox messages decoded (they are framed with schema id 0).
    pub async fn emitted(&self) -> Vec<AnyEvent> {
        self.outbox()
            .await
            .into_iter()
            .map(|entry| {
                let (_, body) = unframe(&entry.message.payload).expect("framed");
                let ce_type = entry
                    .message
                    .headers
                    .iter()
                    .find(|(name, _)| name == "ce_type")
                    .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
                    .expect("ce_type header");
                let full_name = tributary_contracts::CATALOG
                    .iter()
                    .find(|d| ce_type == format!("io.tributary.{}", d.event_type))
                    .expect("known type")
                    .full_name;
                AnyEvent::decode(full_name, body, None).expect("decodes")
            })
            .collect()
    }
}
