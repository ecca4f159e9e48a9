use tributary_bus::HandlerError;
use tributary_contracts::{
    derived_event_id,
    events::{AnyEvent, CancellationReason},
};
use tributary_service::{Effects, Projector, testing::received};
use tributary_views::{ClusteringOrder, Outcome};

use super::support::TestView;
use crate::{
    domain::{OrderStatus, STEP_CANCEL, STEP_CONFIRM, timeout_event_id},
    sweeper::{SweepSettings, sweep_once},
    test_support::Saga,
    views::{CUSTOMER_ORDERS, ORDERS, PENDING, PendingOrder},
};

const NOW: i64 = 1_700_000_000_000;

async fn order(view: &TestView, saga: &Saga) -> crate::domain::Order {
    ORDERS
        .get(view.base.store(), &saga.order_id.to_string(), "")
        .await
        .expect("reads")
        .expect("order exists")
        .value
}

async fn timeline_types(view: &TestView, saga: &Saga) -> Vec<String> {
    view.timeline(saga.order_id)
        .await
        .into_iter()
        .map(|entry| entry.event_type)
        .collect()
}

async fn is_pending_indexed(view: &TestView, saga: &Saga) -> bool {
    let entry = PendingOrder {
        order_id: saga.order_id,
        customer_id: saga.customer_id,
        placed_at: saga.placed_at,
    };
    PENDING
        .get(view.base.store(), &entry.bucket(), &entry.clustering())
        .await
        .expect("reads")
        .is_some()
}

#[tokio::test]
async fn a_confirmed_saga_end_to_end() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);

    assert_eq!(
        view.consume(saga.placed()).await.expect("placed"),
        Outcome::Applied
    );
    assert_eq!(order(&view, &saga).await.status, OrderStatus::Pending);
    assert!(is_pending_indexed(&view, &saga).await);
    let listed = CUSTOMER_ORDERS
        .partition(
            view.base.store(),
            &saga.customer_id.to_string(),
            ClusteringOrder::Descending,
            10,
        )
        .await
        .expect("reads");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].value.order_id, saga.order_id);

    view.consume(saga.reserved()).await.expect("reserved");
    assert_eq!(order(&view, &saga).await.total_cents(), Some(1000));
    view.consume(saga.authorized()).await.expect("authorized");

    let confirmed = order(&view, &saga).await;
    assert_eq!(confirmed.status, OrderStatus::Confirmed);
    assert!(
        !is_pending_indexed(&view, &saga).await,
        "left the pending index"
    );
    let emitted = view.emitted().await;
    assert_eq!(emitted.len(), 1);
    let AnyEvent::OrderConfirmed(event) = &emitted[0] else {
        panic!("expected OrderConfirmed, got {emitted:?}");
    };
    assert_eq!(
        event.envelope.event_id,
        derived_event_id(saga.authorized().envelope.event_id, STEP_CONFIRM)
    );
    assert_eq!(event.total_cents, 1000);
    assert_eq!(
        view.outbox().await[0].message.key,
        saga.order_id.to_string()
    );

    // The service consumes its own event back: timeline only, nothing emitted.
    view.consume(event.clone()).await.expect("echo");
    assert_eq!(view.outbox().await.len(), 1);
    assert_eq!(
        timeline_types(&view, &saga).await,
        [
            "order.placed",
            "stock.reserved",
            "payment.authorized",
            "order.confirmed"
        ]
    );
    assert_eq!(
        order(&view, &saga).await.last_step.event_type,
        "order.confirmed"
    );
}

#[tokio::test]
async fn cancellations_carry_their_reason() {
    let view = TestView::open(NOW).await;
    let rejected = Saga::new(NOW - 1_000);
    view.consume(rejected.placed()).await.expect("placed");
    view.consume(rejected.rejected()).await.expect("rejected");
    let declined = Saga::new(NOW - 1_000);
    view.consume(declined.placed()).await.expect("placed");
    view.consume(declined.reserved()).await.expect("reserved");
    view.consume(declined.declined()).await.expect("declined");

    let a = order(&view, &rejected).await;
    assert_eq!(
        (a.status, a.reason),
        (
            OrderStatus::Cancelled,
            Some(CancellationReason::StockRejected)
        )
    );
    let b = order(&view, &declined).await;
    assert_eq!(
        (b.status, b.reason),
        (
            OrderStatus::Cancelled,
            Some(CancellationReason::PaymentDeclined)
        )
    );
    assert_eq!(b.total_cents(), Some(1000));

    let ids: Vec<_> = view
        .outbox()
        .await
        .iter()
        .map(|e| e.message.event_id)
        .collect();
    assert_eq!(
        ids,
        [
            derived_event_id(rejected.rejected().envelope.event_id, STEP_CANCEL),
            derived_event_id(declined.declined().envelope.event_id, STEP_CANCEL),
        ]
    );
}

#[tokio::test]
async fn an_event_before_its_placement_is_retried() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);
    let error = view
        .consume(saga.authorized())
        .await
        .expect_err("retryable");
    assert!(matches!(error, HandlerError::Retryable(_)), "{error}");
    assert!(view.outbox().await.is_empty());

    view.consume(saga.placed()).await.expect("placed");
    // The retry (same event, attempt 2) now succeeds.
    let mut retry = received(saga.authorized());
    retry.attempt = 2;
    assert_eq!(
        view.consume_received(&retry).await.expect("retried"),
        Outcome::Applied
    );
    assert_eq!(order(&view, &saga).await.status, OrderStatus::Confirmed);
}

#[tokio::test]
async fn redelivery_changes_nothing() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);
    view.consume(saga.placed()).await.expect("placed");
    view.consume(saga.declined()).await.expect("declined");
    let before = order(&view, &saga).await;
    assert_eq!(
        view.consume(saga.declined()).await.expect("again"),
        Outcome::Duplicate
    );
    assert_eq!(
        view.consume(saga.placed()).await.expect("again"),
        Outcome::Duplicate
    );
    assert_eq!(order(&view, &saga).await, before);
    assert_eq!(view.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_late_outcome_after_the_timeout_only_reaches_the_timeline() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 60_000);
    view.consume(saga.placed()).await.expect("placed");
    let settings = SweepSettings {
        timeout: std::time::Duration::from_secs(30),
        batch: 10,
    };
    assert_eq!(
        sweep_once(&view.base.context, settings)
            .await
            .expect("sweeps")
            .cancelled,
        1
    );

    view.consume(saga.authorized())
        .await
        .expect("late authorization");
    let cancelled = order(&view, &saga).await;
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
    assert_eq!(cancelled.reason, Some(CancellationReason::Timeout));
    let ids: Vec<_> = view
        .outbox()
        .await
        .iter()
        .map(|e| e.message.event_id)
        .collect();
    assert_eq!(ids, [timeout_event_id(saga.order_id)], "no confirmation");
    assert!(
        timeline_types(&view, &saga)
            .await
            .contains(&"payment.authorized".to_owned())
    );
}

/// A confirmation and a timeout decided on the same PENDING version: the
/// first write wins, the second conflicts, is re-projected on the terminal
/// order and emits nothing. Never both.
#[tokio::test]
async fn a_confirmation_racing_the_timeout_loses_cleanly() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 60_000);
    view.consume(saga.placed()).await.expect("placed");

    // The projector decides on the PENDING order...
    let authorized = received(saga.authorized());
    let stale: Effects = view
        .projector
        .project(view.base.store(), &authorized)
        .await
        .expect("projects");
    assert_eq!(stale.emit.len(), 1);
    // ...the sweeper of another replica commits first...
    let settings = SweepSettings {
        timeout: std::time::Duration::from_secs(30),
        batch: 10,
    };
    assert_eq!(
        sweep_once(&view.replica(), settings)
            .await
            .expect("sweeps")
            .cancelled,
        1
    );
    // ...so the stale decision conflicts and applies nothing.
    let outcome = view
        .apply(authorized.event.envelope().event_id, stale)
        .await;
    assert!(
        matches!(
            outcome,
            Outcome::Conflict {
                table: "orders_by_id",
                ..
            }
        ),
        "{outcome:?}"
    );
    // The runtime re-projects: now a late outcome.
    assert_eq!(
        view.consume_received(&authorized)
            .await
            .expect("re-projected"),
        Outcome::Applied
    );

    let final_order = order(&view, &saga).await;
    assert_eq!(final_order.status, OrderStatus::Cancelled);
    assert_eq!(view.outbox().await.len(), 1, "exactly one terminal event");
}

#[tokio::test]
async fn the_timeout_racing_a_confirmation_loses_cleanly() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 60_000);
    view.consume(saga.placed()).await.expect("placed");
    view.consume(saga.authorized())
        .await
        .expect("confirmed first");
    let settings = SweepSettings {
        timeout: std::time::Duration::from_secs(30),
        batch: 10,
    };
    let report = sweep_once(&view.base.context, settings)
        .await
        .expect("sweeps");
    assert_eq!(report.cancelled, 0);
    assert_eq!(order(&view, &saga).await.status, OrderStatus::Confirmed);
    assert_eq!(view.outbox().await.len(), 1);
}

#[tokio::test]
async fn events_of_other_aggregates_are_ignored() {
    use tributary_contracts::{Envelope, events::StockAdded};
    let view = TestView::open(NOW).await;
    let added = StockAdded {
        envelope: Envelope::originating("inventory", "sku-a", NOW),
        sku: "sku-a".into(),
        quantity: 5,
        price_cents: 100,
    };
    let effects = view
        .projector
        .project(view.base.store(), &received(added))
        .await
        .expect("projects");
    assert!(effects.is_empty());
}

/// On ScyllaDB a crash can leave the order row without its index rows; the
/// redelivered placement (not yet recorded as processed) completes them.
#[tokio::test]
async fn a_replayed_placement_restores_missing_index_rows() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);
    let placed = received(saga.placed());
    let effects = view
        .projector
        .project(view.base.store(), &placed)
        .await
        .expect("projects");
    // Apply only the order row, as a partial apply would, without the event id.
    let order_row: Vec<_> = effects
        .writes
        .into_iter()
        .filter(|w| w.table() == "orders_by_id")
        .collect();
    let partial = Effects {
        writes: order_row,
        emit: vec![],
    };
    assert_eq!(
        view.base
            .context
            .commit(None, partial)
            .await
            .expect("commit"),
        Outcome::Applied
    );
    assert!(!is_pending_indexed(&view, &saga).await);

    assert_eq!(
        view.consume_received(&placed).await.expect("replayed"),
        Outcome::Applied
    );
    assert!(is_pending_indexed(&view, &saga).await);
    let listed = CUSTOMER_ORDERS
        .partition(
            view.base.store(),
            &saga.customer_id.to_string(),
            ClusteringOrder::Descending,
            10,
        )
        .await
        .expect("reads");
    assert_eq!(listed.len(), 1);
}
