//! The invariant verdicts on hand-made facts: each invariant passes on a
//! consistent run and fails on the breach it exists to catch.

use super::*;
use crate::load::client::OrderLineView;

fn order(id: Uuid, status: OrderStatus, qty: i64) -> OrderView {
    OrderView {
        id,
        status,
        reason: (status == OrderStatus::Cancelled).then(|| "PAYMENT_DECLINED".to_owned()),
        total_cents: Some(100 * qty),
        lines: vec![OrderLineView {
            sku: "s1".to_owned(),
            quantity: qty,
        }],
        customer_id: Uuid::nil(),
        placed_at: 1,
        decided_at: Some(2),
    }
}

fn entry(kind: &str) -> TimelineEntry {
    TimelineEntry {
        event_type: kind.to_owned(),
        event_id: Uuid::new_v4(),
    }
}

fn notification(subject: Uuid, kind: &str) -> NotificationView {
    NotificationView {
        id: Uuid::new_v4(),
        kind: kind.to_owned(),
        subject_id: subject,
    }
}

fn stock(available: i64, reserved: i64, committed: i64) -> StockView {
    StockView {
        sku: "s1".to_owned(),
        available,
        reserved,
        added: 10,
        committed,
    }
}

/// One confirmed (2 units) and one cancelled order, all consistent.
fn healthy() -> (RunRecord, Facts, Uuid, Uuid) {
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let record = RunRecord {
        orders: [a, b]
            .map(|id| TrackedOrder {
                id,
                customer: 0,
                kind: None,
                scheduled_us: None,
            })
            .to_vec(),
        customers: vec![CustomerRef {
            id: Uuid::nil(),
            email: "c@x".to_owned(),
        }],
        stocked: BTreeMap::from([("s1".to_owned(), 10)]),
    };
    let facts = Facts {
        orders: BTreeMap::from([
            (
                a,
                OrderFacts {
                    order: Ok(Some(order(a, OrderStatus::Confirmed, 2))),
                    payment: Ok(Some(PaymentView {
                        state: PaymentState::Authorized,
                        amount_cents: Some(200),
                    })),
                    reservation: Ok(Some(ReservationView {
                        state: ReservationState::Committed,
                    })),
                    timeline: Ok(vec![
                        entry("order.placed"),
                        entry("payment.authorized"),
                        entry("order.confirmed"),
                    ]),
                },
            ),
            (
                b,
                OrderFacts {
                    order: Ok(Some(order(b, OrderStatus::Cancelled, 3))),
                    payment: Ok(Some(PaymentView {
                        state: PaymentState::Declined,
                        amount_cents: Some(300),
                    })),
                    reservation: Ok(Some(ReservationView {
                        state: ReservationState::Released,
                    })),
                    timeline: Ok(vec![entry("order.placed"), entry("order.cancelled")]),
                },
            ),
        ]),
        notifications: BTreeMap::from([(
            0,
            Ok(vec![
                notification(a, "ORDER_CONFIRMED"),
                notification(b, "ORDER_CANCELLED"),
            ]),
        )]),
        stock: Ok(BTreeMap::from([("s1".to_owned(), stock(8, 0, 2))])),
    };
    (record, facts, a, b)
}

fn failed(evaluation: &Evaluation) -> Vec<u8> {
    evaluation
        .results
        .iter()
        .filter(|r| !r.holds)
        .map(|r| r.number)
        .collect()
}

#[test]
fn a_consistent_run_passes() {
    let (record, facts, _, _) = healthy();
    let evaluation = evaluate(&record, &facts);
    assert_eq!(failed(&evaluation), Vec::<u8>::new(), "{evaluation:?}");
    assert!(evaluation.failing_orders.is_empty());
    assert_eq!(evaluation.results[0].checked, 2);
    assert_eq!(evaluation.results[2].checked, 1);
}

#[test]
fn a_pending_order_or_two_decisions_break_invariant_one() {
    let (record, mut facts, a, b) = healthy();
    if let Some(f) = facts.orders.get_mut(&a)
        && let Ok(timeline) = &mut f.timeline
    {
        timeline.push(entry("order.cancelled"));
    }
    if let Some(f) = facts.orders.get_mut(&b) {
        f.order = Ok(Some(order(b, OrderStatus::Pending, 3)));
    }
    let evaluation = evaluate(&record, &facts);
    assert!(failed(&evaluation).contains(&1));
    assert_eq!(evaluation.results[0].violations, 2);
    assert_eq!(evaluation.failing_orders, BTreeSet::from([a, b]));
}

#[test]
fn a_decision_missing_from_the_timeline_is_not_a_second_one() {
    let (record, mut facts, _, b) = healthy();
    if let Some(f) = facts.orders.get_mut(&b) {
        f.timeline = Ok(vec![entry("order.placed")]);
    }
    assert_eq!(failed(&evaluate(&record, &facts)), Vec::<u8>::new());
    if let Some(f) = facts.orders.get_mut(&b) {
        f.timeline = Ok(vec![entry("order.placed"), entry("order.confirmed")]);
    }
    assert_eq!(failed(&evaluate(&record, &facts)), vec![1]);
}

#[test]
fn a_leaked_charge_or_reservation_breaks_invariant_two() {
    let (record, mut facts, _, b) = healthy();
    if let Some(f) = facts.orders.get_mut(&b) {
        f.payment = Ok(Some(PaymentView {
            state: PaymentState::Authorized,
            amount_cents: Some(300),
        }));
        f.reservation = Ok(Some(ReservationView {
            state: ReservationState::Held,
        }));
    }
    let evaluation = evaluate(&record, &facts);
    assert_eq!(failed(&evaluation), vec![2]);
    assert_eq!(evaluation.results[1].violations, 2);
}

#[test]
fn stock_arithmetic_breaks_invariant_three() {
    for bad in [stock(7, 1, 2), stock(9, 0, 1), stock(-1, 0, 11)] {
        let (record, mut facts, _, _) = healthy();
        facts.stock = Ok(BTreeMap::from([("s1".to_owned(), bad.clone())]));
        let evaluation = evaluate(&record, &facts);
        assert_eq!(failed(&evaluation), vec![3], "{bad:?}");
        assert!(evaluation.stock_failed);
    }
}

#[test]
fn a_second_authorization_breaks_invariant_four() {
    let (record, mut facts, a, _) = healthy();
    if let Some(f) = facts.orders.get_mut(&a)
        && let Ok(timeline) = &mut f.timeline
    {
        timeline.push(entry("payment.authorized"));
    }
    assert_eq!(failed(&evaluate(&record, &facts)), vec![4]);
}

#[test]
fn missing_duplicate_or_wrong_notifications_break_invariant_five() {
    let (record, mut facts, a, b) = healthy();
    facts.notifications = BTreeMap::from([(
        0,
        Ok(vec![
            notification(a, "ORDER_CONFIRMED"),
            notification(a, "ORDER_CONFIRMED"),
            notification(b, "ORDER_CONFIRMED"),
        ]),
    )]);
    let evaluation = evaluate(&record, &facts);
    assert_eq!(failed(&evaluation), vec![5]);
    assert_eq!(evaluation.results[4].violations, 2);
    facts.notifications = BTreeMap::from([(0, Ok(vec![]))]);
    assert_eq!(evaluate(&record, &facts).results[4].violations, 2);
}

#[test]
fn unreadable_services_fail_rather_than_pass() {
    let (record, mut facts, a, _) = healthy();
    if let Some(f) = facts.orders.get_mut(&a) {
        f.payment = Err("connection refused".to_owned());
    }
    facts.stock = Err("connection refused".to_owned());
    facts.notifications = BTreeMap::from([(0, Err("timeout".to_owned()))]);
    let failed = failed(&evaluate(&record, &facts));
    assert_eq!(failed, vec![2, 3, 5]);
}
