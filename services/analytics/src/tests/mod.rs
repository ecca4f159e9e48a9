//! Projector and HTTP tests against a real embedded store (no broker: the
//! projector is fed `Received` values directly, and each projection is
//! applied the way the runtime does — one transaction with the event id).

mod api;
mod projector;

use std::{path::Path, sync::Arc};

use tributary_bus::Received;
use tributary_contracts::{
    Envelope,
    events::{
        AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced,
        UserRegistered,
    },
};
use tributary_service::{
    Clock, Projector,
    testing::{ManualClock, ReceivedBuilder, TestStore},
};
use tributary_views::{Outcome, Transaction, ViewStore, ViewsConfig, open_store};
use uuid::Uuid;

use crate::domain::Rules;
use crate::query::{AnalyticsQueries, WindowSnapshot};
use crate::{AnalyticsConfig, AnalyticsProjector, views};

pub const MINUTE: i64 = 60_000;

/// A fresh embedded store, a projector with default rules and a clock.
pub struct Harness {
    /// The store's directory and a context on it with [`Harness::clock`].
    pub base: TestStore,
    pub store: Arc<dyn ViewStore>,
    pub projector: AnalyticsProjector,
    pub clock: Arc<ManualClock>,
    pub rules: Rules,
}

impl Harness {
    pub async fn new(now_ms: i64) -> Harness {
        let rules = AnalyticsConfig::default().rules().expect("valid defaults");
        let clock = ManualClock::at(now_ms);
        let base = TestStore::open(crate::SERVICE, &views::TABLES)
            .await
            .with_clock(clock.clone());
        let projector = AnalyticsProjector::new(rules, clock.clone());
        Harness {
            store: base.store_handle(),
            base,
            projector,
            clock,
            rules,
        }
    }

    pub fn queries(&self) -> AnalyticsQueries<'_> {
        AnalyticsQueries {
            store: self.store.as_ref(),
            rules: self.rules,
        }
    }

    /// Projects and applies like the runtime: skip recorded ids, retry
    /// conflicts a few times.
    pub async fn deliver(&self, received: &Received) -> Outcome {
        let id = received.event.envelope().event_id;
        if self.store.was_processed(id).await.expect("store readable") {
            return Outcome::Duplicate;
        }
        let mut last = None;
        for _ in 0..4 {
            let effects = self
                .projector
                .project(self.store.as_ref(), received)
                .await
                .expect("projects");
            assert!(effects.emit.is_empty(), "analytics emits nothing");
            let tx = Transaction {
                event_id: Some(id),
                writes: effects.writes,
                ..Transaction::default()
            };
            let outcome = self.store.apply(tx).await.expect("applies");
            if !matches!(outcome, Outcome::Conflict { .. }) {
                return outcome;
            }
            last = Some(outcome);
        }
        last.expect("at least one attempt")
    }

    /// The window starting at `start_ms`, shards merged, at the clock's now.
    pub async fn window(&self, start_ms: i64) -> WindowSnapshot {
        let queries = self.queries();
        let watermark = queries
            .watermark(self.clock.now_ms())
            .await
            .expect("watermark")
            .watermark_ms;
        queries
            .windows(start_ms, start_ms + 1, watermark)
            .await
            .expect("windows")
            .remove(0)
    }
}

/// The store in `dir` opened a second time, as after a restart.
pub async fn open(dir: &Path) -> Arc<dyn ViewStore> {
    open_store(&ViewsConfig::embedded(dir), crate::SERVICE, &views::TABLES)
        .await
        .expect("store opens")
}

/// `event` as delivered, without a key, from `partition` of its topic.
pub fn received(event: AnyEvent, partition: i32, offset: i64) -> Received {
    ReceivedBuilder::new(event)
        .partition(partition)
        .offset(offset)
        .without_key()
        .build()
}

fn envelope(order: Uuid, at_ms: i64) -> Envelope {
    Envelope::originating("test", order.to_string(), at_ms)
}

pub fn placed(order: Uuid, at_ms: i64) -> AnyEvent {
    AnyEvent::OrderPlaced(OrderPlaced {
        envelope: envelope(order, at_ms),
        order_id: order,
        customer_id: Uuid::from_u128(1),
        lines: vec![OrderLine {
            sku: "sku-1".into(),
            quantity: 1,
        }],
        payment_token: "tok".into(),
        idempotency_key: None,
    })
}

pub fn confirmed(order: Uuid, at_ms: i64, total_cents: i64) -> AnyEvent {
    AnyEvent::OrderConfirmed(OrderConfirmed {
        envelope: envelope(order, at_ms),
        order_id: order,
        customer_id: Uuid::from_u128(1),
        total_cents,
    })
}

pub fn cancelled(order: Uuid, at_ms: i64, reason: CancellationReason) -> AnyEvent {
    AnyEvent::OrderCancelled(OrderCancelled {
        envelope: envelope(order, at_ms),
        order_id: order,
        customer_id: Uuid::from_u128(1),
        reason,
        detail: None,
    })
}

pub fn registered(at_ms: i64) -> AnyEvent {
    let user = Uuid::new_v4();
    AnyEvent::UserRegistered(UserRegistered {
        envelope: envelope(user, at_ms),
        user_id: user,
        email: "a@example.com".into(),
        name: "A".into(),
        role: "customer".into(),
    })
}
