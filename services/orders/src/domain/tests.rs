use tributary_contracts::{
    derived_event_id,
    events::{AnyEvent, CancellationReason},
};

use super::*;
use crate::test_support::Saga;

const NOW: i64 = 1_700_000_000_000;

fn apply(order: Option<&Order>, event: &AnyEvent) -> Decision {
    decide(order, SagaEvent::from_any(event).expect("saga event"), NOW).expect("decides")
}

fn placed_order(saga: &Saga) -> Order {
    apply(None, &saga.placed().into()).next.expect("created")
}

#[test]
fn placement_creates_a_pending_order() {
    let saga = Saga::new(NOW - 100);
    let decision = apply(None, &saga.placed().into());
    assert_eq!(decision.transition, Transition::Created);
    assert!(decision.emit.is_none());
    let order = decision.next.expect("created");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.customer_id, saga.customer_id);
    assert_eq!(order.placed_at, saga.placed_at);
    assert_eq!(order.lines.len(), 2);
    assert_eq!(order.total_cents(), None);
    assert_eq!(order.last_step.event_type, "order.placed");
}

#[test]
fn events_before_the_placement_are_unknown_orders() {
    let saga = Saga::new(NOW);
    let event: AnyEvent = saga.authorized().into();
    let error =
        decide(None, SagaEvent::from_any(&event).expect("saga"), NOW).expect_err("unknown order");
    assert!(matches!(
        error,
        DomainError::UnknownOrder { order_id, event_type: "payment.authorized", .. } if order_id == saga.order_id
    ));
}

#[test]
fn reservation_prices_the_order() {
    let saga = Saga::new(NOW);
    let order = placed_order(&saga);
    let decision = apply(Some(&order), &saga.reserved().into());
    assert_eq!(decision.transition, Transition::Updated);
    let order = decision.next.expect("changed");
    assert_eq!(order.status, OrderStatus::Pending);
    assert_eq!(order.total_cents(), Some(1000));
    assert_eq!(order.lines[0].unit_price_cents, Some(150));
    assert_eq!(order.lines[1].unit_price_cents, Some(700));
    assert_eq!(order.last_step.event_type, "stock.reserved");
}

#[test]
fn authorization_confirms_and_emits_a_derived_event() {
    let saga = Saga::new(NOW - 1_000);
    let order = placed_order(&saga);
    let authorized = saga.authorized();
    let decision = apply(Some(&order), &authorized.clone().into());
    assert_eq!(
        decision.transition,
        Transition::Decided(OrderStatus::Confirmed)
    );
    let Some(AnyEvent::OrderConfirmed(confirmed)) = decision.emit else {
        panic!("expected OrderConfirmed, got {:?}", decision.emit);
    };
    assert_eq!(
        confirmed.envelope.event_id,
        derived_event_id(authorized.envelope.event_id, STEP_CONFIRM)
    );
    assert_eq!(
        confirmed.envelope.causation_id,
        Some(authorized.envelope.event_id)
    );
    assert_eq!(confirmed.envelope.producer, "orders");
    assert_eq!(confirmed.envelope.occurred_at, NOW);
    assert_eq!(confirmed.total_cents, 1000);
    let order = decision.next.expect("changed");
    assert_eq!(order.status, OrderStatus::Confirmed);
    assert_eq!(order.reason, None);
    assert_eq!(order.terminal_event_id, Some(confirmed.envelope.event_id));
    assert_eq!(order.decided_at, Some(NOW));
}

#[test]
fn rejection_and_decline_cancel_with_their_reasons() {
    let saga = Saga::new(NOW);
    for (event, reason, detail) in [
        (
            AnyEvent::from(saga.rejected()),
            CancellationReason::StockRejected,
            "insufficient stock",
        ),
        (
            AnyEvent::from(saga.declined()),
            CancellationReason::PaymentDeclined,
            "card declined",
        ),
    ] {
        let decision = apply(Some(&placed_order(&saga)), &event);
        let Some(AnyEvent::OrderCancelled(cancelled)) = &decision.emit else {
            panic!("expected OrderCancelled");
        };
        assert_eq!(cancelled.reason, reason);
        assert_eq!(cancelled.detail.as_deref(), Some(detail));
        assert_eq!(
            cancelled.envelope.event_id,
            derived_event_id(event.envelope().event_id, STEP_CANCEL)
        );
        let order = decision.next.expect("changed");
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(order.reason, Some(reason));
    }
}

#[test]
fn a_terminal_order_ignores_late_outcomes() {
    let saga = Saga::new(NOW);
    let confirmed = apply(Some(&placed_order(&saga)), &saga.authorized().into())
        .next
        .expect("confirmed");
    for late in [
        AnyEvent::from(saga.declined()),
        AnyEvent::from(saga.rejected()),
    ] {
        let decision = apply(Some(&confirmed), &late);
        assert_eq!(decision.transition, Transition::Late);
        assert!(decision.emit.is_none());
        if let Some(next) = decision.next {
            assert_eq!(next.status, OrderStatus::Confirmed);
            assert_eq!(next.terminal_event_id, confirmed.terminal_event_id);
        }
    }
}

#[test]
fn a_redelivered_deciding_event_re_emits_the_same_event() {
    let saga = Saga::new(NOW);
    let first = apply(Some(&placed_order(&saga)), &saga.declined().into());
    let cancelled = first.next.expect("cancelled");
    let again = decide(
        Some(&cancelled),
        SagaEvent::from_any(&saga.declined().into()).expect("saga"),
        NOW + 5_000,
    )
    .expect("decides");
    assert_eq!(again.transition, Transition::Resumed);
    assert!(again.next.is_none(), "the row does not change");
    assert_eq!(again.emit, first.emit, "same id, same time, same content");
}

#[test]
fn the_published_terminal_event_is_adopted() {
    let saga = Saga::new(NOW);
    // A rebuild that saw the late authorization before the published timeout.
    let order = placed_order(&saga);
    let TimeoutAction::Cancel { event, .. } = decide_timeout(&order, NOW + 60_000, 30_000) else {
        panic!("due");
    };
    let rebuilt = apply(Some(&order), &saga.authorized().into())
        .next
        .expect("confirmed");
    let decision = apply(Some(&rebuilt), &event.clone().into());
    assert_eq!(
        decision.transition,
        Transition::Adopted {
            previous: OrderStatus::Confirmed
        }
    );
    assert!(decision.emit.is_none());
    let adopted = decision.next.expect("changed");
    assert_eq!(adopted.status, OrderStatus::Cancelled);
    assert_eq!(adopted.reason, Some(CancellationReason::Timeout));
    assert_eq!(adopted.charged_cents, None);
    assert_eq!(adopted.terminal_event_id, Some(event.envelope.event_id));
    assert_eq!(adopted.decided_at, Some(event.envelope.occurred_at));
}

#[test]
fn consuming_its_own_terminal_event_only_moves_the_last_step() {
    let saga = Saga::new(NOW - 1_000);
    let decision = apply(Some(&placed_order(&saga)), &saga.authorized().into());
    let confirmed = decision.next.expect("confirmed");
    let own = decision.emit.expect("emitted");
    let echo = apply(Some(&confirmed), &own);
    assert_eq!(echo.transition, Transition::Updated);
    assert!(echo.emit.is_none());
    let next = echo.next.expect("step moved");
    assert_eq!(next.last_step.event_type, "order.confirmed");
    assert_eq!(
        Order {
            last_step: confirmed.last_step.clone(),
            ..next
        },
        confirmed
    );
    // And a second echo changes nothing at all.
    let moved = apply(Some(&confirmed), &own).next.expect("moved");
    assert_eq!(apply(Some(&moved), &own).transition, Transition::Unchanged);
}

#[test]
fn duplicates_change_nothing() {
    let saga = Saga::new(NOW);
    let order = placed_order(&saga);
    let decision = apply(Some(&order), &saga.placed().into());
    assert_eq!(decision.transition, Transition::Unchanged);
    assert!(decision.next.is_none());
    let reserved = apply(Some(&order), &saga.reserved().into())
        .next
        .expect("reserved");
    assert_eq!(
        apply(Some(&reserved), &saga.reserved().into()).transition,
        Transition::Unchanged
    );
}

#[test]
fn last_step_is_the_latest_by_event_time_not_by_arrival() {
    let saga = Saga::new(NOW);
    let order = placed_order(&saga);
    let refunded = apply(Some(&order), &saga.refunded().into())
        .next
        .expect("step");
    let then_reserved = apply(Some(&refunded), &saga.reserved().into())
        .next
        .expect("priced");
    assert_eq!(then_reserved.last_step.event_type, "payment.refunded");
    assert_eq!(then_reserved.total_cents(), Some(1000));
}

#[test]
fn timeout_is_due_only_after_the_timeout() {
    let saga = Saga::new(NOW);
    let order = placed_order(&saga);
    assert_eq!(
        decide_timeout(&order, NOW + 29_999, 30_000),
        TimeoutAction::NotDue
    );
    let TimeoutAction::Cancel { next, event } = decide_timeout(&order, NOW + 30_000, 30_000) else {
        panic!("due");
    };
    assert_eq!(event.envelope.event_id, timeout_event_id(saga.order_id));
    assert_eq!(event.envelope.causation_id, Some(order.placed_event_id));
    assert_eq!(event.envelope.correlation_id, saga.order_id.to_string());
    assert_eq!(event.reason, CancellationReason::Timeout);
    assert_eq!(next.status, OrderStatus::Cancelled);
    assert_eq!(next.reason, Some(CancellationReason::Timeout));
    assert_eq!(next.terminal_event_id, Some(event.envelope.event_id));

    // Once cancelled by the timeout, a later sweep re-emits the same event.
    let TimeoutAction::Reemit(again) = decide_timeout(&next, NOW + 90_000, 30_000) else {
        panic!("re-emit");
    };
    assert_eq!(again, event);

    // A confirmed order is only removed from the index.
    let confirmed = apply(Some(&order), &saga.authorized().into())
        .next
        .expect("confirmed");
    assert_eq!(
        decide_timeout(&confirmed, NOW + 90_000, 30_000),
        TimeoutAction::Clear
    );
}

#[test]
fn non_saga_events_are_not_saga_events() {
    use tributary_contracts::{Envelope, events::StockAdded};
    let added = AnyEvent::StockAdded(StockAdded {
        envelope: Envelope::originating("inventory", "sku-a", NOW),
        sku: "sku-a".into(),
        quantity: 3,
        price_cents: 100,
    });
    assert!(SagaEvent::from_any(&added).is_none());
}

#[test]
fn details_summarise_each_event() {
    let saga = Saga::new(NOW);
    let detail = |e: AnyEvent| SagaEvent::from_any(&e).expect("saga").detail();
    assert_eq!(detail(saga.placed().into()), "placed 2 line(s), 3 unit(s)");
    assert_eq!(
        detail(saga.reserved().into()),
        "reserved 2 line(s), total 1000 cents"
    );
    assert_eq!(
        detail(saga.rejected().into()),
        "rejected: insufficient stock (short: sku-a)"
    );
    assert!(detail(saga.declined().into()).contains("card declined"));
}
