//! The projector against a real embedded store, fed `Received` values.

use std::sync::Arc;

use tributary_bus::HandlerError;
use tributary_contracts::{
    Envelope, derived_event_id,
    events::{
        AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced,
        PaymentAuthorized, PaymentDeclined, ReservedLine,
    },
};
use tributary_service::Effects;
use tributary_views::{Expect, Outcome};
use uuid::Uuid;

use super::*;
use crate::{
    domain::ReservationState,
    testing::{ManualClock, TestStore, test_store},
};

const NOW: i64 = 1_700_000_000_000;

fn projector() -> InventoryProjector {
    let config = InventoryConfig {
        max_order_skus: 5,
        ..InventoryConfig::default()
    };
    InventoryProjector::new(&config, ManualClock::at(NOW))
}

fn order(n: u128) -> Uuid {
    Uuid::from_u128(0xA000 + n)
}

fn customer() -> Uuid {
    Uuid::from_u128(0xC)
}

fn envelope(order_id: Uuid, producer: &str) -> Envelope {
    Envelope::originating(producer, order_id.to_string(), NOW - 1)
}

fn placed(n: u128, lines: &[(&str, i32)]) -> OrderPlaced {
    OrderPlaced {
        envelope: envelope(order(n), "gateway"),
        order_id: order(n),
        customer_id: customer(),
        lines: lines
            .iter()
            .map(|&(sku, quantity)| OrderLine {
                sku: sku.into(),
                quantity,
            })
            .collect(),
        payment_token: "tok_ok".into(),
        idempotency_key: None,
    }
}

fn cancelled(n: u128, reason: CancellationReason) -> OrderCancelled {
    OrderCancelled {
        envelope: envelope(order(n), "orders"),
        order_id: order(n),
        customer_id: customer(),
        reason,
        detail: None,
    }
}

fn declined(n: u128) -> PaymentDeclined {
    PaymentDeclined {
        envelope: envelope(order(n), "payments"),
        order_id: order(n),
        customer_id: customer(),
        amount_cents: 1,
        reason: "card_declined".into(),
    }
}

fn confirmed(n: u128) -> OrderConfirmed {
    OrderConfirmed {
        envelope: envelope(order(n), "orders"),
        order_id: order(n),
        customer_id: customer(),
        total_cents: 1,
    }
}

async fn seed(t: &TestStore, sku: &str, available: i64, price_cents: i64) {
    let level = StockLevel {
        sku: sku.into(),
        available,
        reserved: 0,
        price_cents,
        added: available,
        committed: 0,
    };
    let write = STOCK.put(sku, "", &level, Expect::Any).expect("encodes");
    let outcome = t
        .context
        .commit(None, Effects::none().write(write))
        .await
        .expect("commit");
    assert_eq!(outcome, Outcome::Applied);
}

async fn level(t: &TestStore, sku: &str) -> StockLevel {
    views::stock(t.store(), sku)
        .await
        .expect("reads")
        .expect("stocked")
        .value
}

async fn levels(t: &TestStore, sku: &str) -> (i64, i64, i64) {
    let l = level(t, sku).await;
    assert!(l.is_consistent(), "{l:?}");
    (l.available, l.reserved, l.committed)
}

async fn state(t: &TestStore, n: u128) -> Option<ReservationState> {
    views::reservation(t.store(), order(n))
        .await
        .expect("reads")
        .map(|r| r.value.state)
}

fn only(events: Vec<AnyEvent>) -> AnyEvent {
    assert_eq!(events.len(), 1, "expected exactly one event: {events:?}");
    events.into_iter().next().expect("one event")
}

#[tokio::test]
async fn reserves_every_line_with_merged_skus_and_prices() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    seed(&t, "b", 1, 250).await;
    let p = projector();
    let event = placed(1, &[("a", 2), ("b", 1), ("a", 1)]);

    let AnyEvent::StockReserved(reserved) = only(t.deliver(&p, event.clone()).await.expect("ok"))
    else {
        panic!("expected StockReserved");
    };
    assert_eq!(reserved.total_cents, 3 * 100 + 250);
    assert_eq!(
        reserved.lines,
        [
            ReservedLine {
                sku: "a".into(),
                quantity: 3,
                unit_price_cents: 100
            },
            ReservedLine {
                sku: "b".into(),
                quantity: 1,
                unit_price_cents: 250
            },
        ]
    );
    assert_eq!(
        reserved.envelope.event_id,
        derived_event_id(event.envelope.event_id, STEP_RESERVE)
    );
    assert_eq!(
        reserved.envelope.causation_id,
        Some(event.envelope.event_id)
    );
    assert_eq!(reserved.envelope.correlation_id, order(1).to_string());
    assert_eq!(reserved.envelope.producer, "inventory");
    assert_eq!(reserved.envelope.occurred_at, NOW);
    assert_eq!(levels(&t, "a").await, (2, 3, 0));
    assert_eq!(levels(&t, "b").await, (0, 1, 0));
    let row = views::reservation(t.store(), order(1))
        .await
        .expect("reads")
        .expect("row");
    assert_eq!(row.value.state, ReservationState::Held);
    assert_eq!(row.value.total_cents, 550);
}

#[tokio::test]
async fn one_short_line_reserves_nothing() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    seed(&t, "b", 1, 250).await;
    let p = projector();

    let AnyEvent::StockRejected(rejected) = only(
        t.deliver(&p, placed(1, &[("a", 2), ("b", 2)]))
            .await
            .expect("ok"),
    ) else {
        panic!("expected StockRejected");
    };
    assert_eq!(rejected.reason, "insufficient_stock");
    assert_eq!(rejected.shortfalls.len(), 1);
    assert_eq!(
        (
            rejected.shortfalls[0].sku.as_str(),
            rejected.shortfalls[0].requested,
            rejected.shortfalls[0].available
        ),
        ("b", 2, 1)
    );
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
    assert_eq!(levels(&t, "b").await, (1, 0, 0));
    assert_eq!(state(&t, 1).await, Some(ReservationState::Rejected));
}

#[tokio::test]
async fn bad_orders_are_rejected_never_panic() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();
    let cases: [(&[(&str, i32)], &str); 6] = [
        (&[], "no_lines"),
        (&[("a", 0)], "invalid_quantity"),
        (&[("a", -4)], "invalid_quantity"),
        (&[("zzz", 1)], "unknown_sku"),
        (&[("bad sku", 1)], "unknown_sku"),
        (
            &[("a", 1), ("b", 1), ("c", 1), ("d", 1), ("e", 1), ("f", 1)],
            "too_many_lines",
        ),
    ];
    for (n, (lines, reason)) in cases.into_iter().enumerate() {
        let event = placed(n as u128, lines);
        let AnyEvent::StockRejected(rejected) = only(t.deliver(&p, event).await.expect("ok"))
        else {
            panic!("expected StockRejected for {lines:?}");
        };
        assert_eq!(rejected.reason, reason, "{lines:?}");
    }
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
}

#[tokio::test]
async fn payment_declined_releases_once_and_the_cancellation_changes_nothing() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();
    t.deliver(&p, placed(1, &[("a", 4)])).await.expect("ok");
    assert_eq!(levels(&t, "a").await, (1, 4, 0));

    let decline = declined(1);
    let AnyEvent::StockReleased(released) = only(t.deliver(&p, decline.clone()).await.expect("ok"))
    else {
        panic!("expected StockReleased");
    };
    assert_eq!(released.reason, RELEASE_PAYMENT_DECLINED);
    assert_eq!(released.lines.len(), 1);
    assert_eq!(
        released.envelope.event_id,
        derived_event_id(decline.envelope.event_id, STEP_RELEASE)
    );
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
    assert_eq!(state(&t, 1).await, Some(ReservationState::Released));

    let follow_up = cancelled(1, CancellationReason::PaymentDeclined);
    assert!(t.deliver(&p, follow_up).await.expect("ok").is_empty());
    // A copy of the decline with a fresh id (not caught by the event-id record).
    let mut copy = declined(1);
    copy.envelope.event_id = Uuid::from_u128(77);
    assert!(t.deliver(&p, copy).await.expect("ok").is_empty());
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
}

#[tokio::test]
async fn saga_timeout_releases_with_its_reason_and_a_late_decline_changes_nothing() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();
    t.deliver(&p, placed(1, &[("a", 2)])).await.expect("ok");

    let AnyEvent::StockReleased(released) = only(
        t.deliver(&p, cancelled(1, CancellationReason::Timeout))
            .await
            .expect("ok"),
    ) else {
        panic!("expected StockReleased");
    };
    assert_eq!(released.reason, "timeout");
    assert!(t.deliver(&p, declined(1)).await.expect("ok").is_empty());
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
}

#[tokio::test]
async fn confirmation_commits_the_held_units_once() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();
    t.deliver(&p, placed(1, &[("a", 2)])).await.expect("ok");

    assert!(t.deliver(&p, confirmed(1)).await.expect("ok").is_empty());
    assert_eq!(levels(&t, "a").await, (3, 0, 2));
    assert_eq!(state(&t, 1).await, Some(ReservationState::Committed));

    let mut again = confirmed(1);
    again.envelope.event_id = Uuid::from_u128(78);
    t.deliver(&p, again).await.expect("ok");
    t.deliver(&p, cancelled(1, CancellationReason::Other))
        .await
        .expect("ok");
    t.deliver(&p, declined(1)).await.expect("ok");
    assert_eq!(levels(&t, "a").await, (3, 0, 2));
}

#[tokio::test]
async fn a_cancellation_before_the_placement_leaves_a_tombstone() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();

    assert!(
        t.deliver(&p, cancelled(1, CancellationReason::Timeout))
            .await
            .expect("ok")
            .is_empty()
    );
    assert_eq!(state(&t, 1).await, Some(ReservationState::Cancelled));

    let AnyEvent::StockRejected(rejected) =
        only(t.deliver(&p, placed(1, &[("a", 1)])).await.expect("ok"))
    else {
        panic!("expected StockRejected");
    };
    assert_eq!(rejected.reason, "order_cancelled");
    assert_eq!(levels(&t, "a").await, (5, 0, 0));
    assert_eq!(state(&t, 1).await, Some(ReservationState::Rejected));
}

#[tokio::test]
async fn redelivery_changes_nothing() {
    let t = test_store().await;
    seed(&t, "a", 5, 100).await;
    let p = projector();
    let event = placed(1, &[("a", 2)]);
    assert_eq!(t.deliver(&p, event.clone()).await.expect("ok").len(), 1);
    assert!(t.deliver(&p, event.clone()).await.expect("ok").is_empty());
    let mut copy = event;
    copy.envelope.event_id = Uuid::from_u128(79);
    assert!(t.deliver(&p, copy).await.expect("ok").is_empty());
    assert_eq!(levels(&t, "a").await, (3, 2, 0));
}

#[tokio::test]
async fn a_decision_on_a_stale_view_conflicts_and_is_made_again() {
    let t = test_store().await;
    seed(&t, "a", 1, 100).await;
    let p = projector();
    let first = crate::testing::received(placed(1, &[("a", 1)]));
    let second = crate::testing::received(placed(2, &[("a", 1)]));

    // Both replicas read the same last unit.
    let first_effects = p.project(t.store(), &first).await.expect("ok");
    let second_effects = p.project(t.store(), &second).await.expect("ok");
    let id = |r: &tributary_bus::Received| Some(r.event.envelope().event_id);
    assert_eq!(
        t.context
            .commit(id(&first), first_effects)
            .await
            .expect("commit"),
        Outcome::Applied
    );
    assert!(matches!(
        t.context
            .commit(id(&second), second_effects)
            .await
            .expect("commit"),
        Outcome::Conflict { .. }
    ));
    // The runtime projects again on the fresh view: rejected.
    let events = t.deliver_received(&p, second).await.expect("ok");
    assert!(matches!(only(events), AnyEvent::StockRejected(_)));
    assert_eq!(levels(&t, "a").await, (0, 1, 0));
}

#[tokio::test]
async fn concurrent_orders_never_oversell() {
    let t = Arc::new(test_store().await);
    seed(&t, "a", 10, 100).await;
    let p = Arc::new(projector());
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24u128 {
        let (t, p) = (t.clone(), p.clone());
        tasks.spawn(async move { t.deliver(p.as_ref(), placed(n, &[("a", 1)])).await });
    }
    let (mut reserved, mut rejected) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        match only(result.expect("task").expect("handled")) {
            AnyEvent::StockReserved(_) => reserved += 1,
            AnyEvent::StockRejected(_) => rejected += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((reserved, rejected), (10, 14));
    assert_eq!(levels(&t, "a").await, (0, 10, 0));
}

#[tokio::test]
async fn other_events_are_ignored() {
    let t = test_store().await;
    let p = projector();
    let authorized = PaymentAuthorized {
        envelope: envelope(order(1), "payments"),
        order_id: order(1),
        customer_id: customer(),
        payment_id: Uuid::from_u128(5),
        amount_cents: 10,
        provider_reference: "ref".into(),
    };
    assert!(t.deliver(&p, authorized).await.expect("ok").is_empty());
    assert!(t.deliver(&p, confirmed(9)).await.expect("ok").is_empty());
    assert_eq!(state(&t, 9).await, None);
}

#[tokio::test]
async fn a_reservation_without_its_stock_row_is_dead_lettered() {
    let t = test_store().await;
    let p = projector();
    let lines = [ReservedLine {
        sku: "gone".into(),
        quantity: 1,
        unit_price_cents: 1,
    }];
    let row = Reservation::held(order(1), customer(), &lines, 1, NOW);
    let write = RESERVATIONS
        .put(&order(1).to_string(), "", &row, Expect::Absent)
        .expect("encodes");
    t.context
        .commit(None, Effects::none().write(write))
        .await
        .expect("commit");
    let error = t.deliver(&p, declined(1)).await.expect_err("inconsistent");
    assert!(matches!(error, HandlerError::Permanent(_)), "{error:?}");
    assert_eq!(state(&t, 1).await, Some(ReservationState::Held));
}
