//! Events with realistic field values, so byte counts and codec times are
//! those of real traffic: uuids as text, an order with three lines, a
//! payment-provider reference, an e-mail address.

use tributary_contracts::{
    Envelope,
    events::{
        AnyEvent, CancellationReason, NotificationKind, NotificationSent, OrderCancelled,
        OrderConfirmed, OrderLine, OrderPlaced, PaymentAuthorized, PaymentDeclined,
        PaymentRefunded, ReleasedLine, ReservedLine, StockAdded, StockRejected, StockReleased,
        StockReserved, StockShortfall, UserRegistered,
    },
};
use uuid::Uuid;

/// A fixed event time (2026-01-15T09:30:00Z), so encoded sizes never depend
/// on when the benchmark ran.
const OCCURRED_AT: i64 = 1_768_469_400_000;

/// How much an order carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Payload {
    /// One line, a short token, no idempotency key: stresses per-message
    /// overhead.
    Minimal,
    /// Three lines, a full-length payment token and an idempotency key: what
    /// the gateway actually publishes.
    Realistic,
}

const SKUS: [&str; 5] = [
    "SKU-KEYBOARD-MX-0042",
    "SKU-MONITOR-27IN-0117",
    "SKU-USB-C-CABLE-2M-0008",
    "SKU-DESK-LAMP-LED-0311",
    "SKU-NOTEBOOK-A5-DOT-1024",
];

/// The `seq`-th order of a benchmark, with fresh ids (so keys spread over
/// partitions like real order ids do).
pub(crate) fn order_placed(seq: u64, payload: Payload) -> OrderPlaced {
    let order_id = Uuid::new_v4();
    let envelope = Envelope::originating("gateway", order_id.to_string(), OCCURRED_AT);
    let sku = |i: u64| SKUS[((seq + i) % SKUS.len() as u64) as usize].to_owned();
    match payload {
        Payload::Minimal => OrderPlaced {
            envelope,
            order_id,
            customer_id: Uuid::new_v4(),
            lines: vec![OrderLine {
                sku: sku(0),
                quantity: 1,
            }],
            payment_token: "tok_ok".to_owned(),
            idempotency_key: None,
        },
        Payload::Realistic => OrderPlaced {
            envelope,
            order_id,
            customer_id: Uuid::new_v4(),
            lines: (0..3)
                .map(|i| OrderLine {
                    sku: sku(i),
                    quantity: 1 + ((seq + i) % 4) as i32,
                })
                .collect(),
            payment_token: format!("tok_visa_4242_{:016x}", seq.wrapping_mul(0x9e37_79b9)),
            idempotency_key: Some(Uuid::new_v4().to_string()),
        },
    }
}

/// Every line of `placed` as released stock, as inventory releases a whole
/// reservation.
pub(crate) fn released_lines(placed: &OrderPlaced) -> Vec<ReleasedLine> {
    placed
        .lines
        .iter()
        .map(|l| ReleasedLine {
            sku: l.sku.clone(),
            quantity: l.quantity,
        })
        .collect()
}

/// One realistic event of every type in the contract catalogue, in catalogue
/// order.
pub fn sample_events() -> Vec<AnyEvent> {
    let order_id = Uuid::new_v4();
    let customer_id = Uuid::new_v4();
    let payment_id = Uuid::new_v4();
    let placed = order_placed(7, Payload::Realistic);
    let origin = Envelope::originating("gateway", order_id.to_string(), OCCURRED_AT);
    let reaction =
        |step: &str, producer: &str| Envelope::caused_by(&origin, step, producer, OCCURRED_AT + 40);
    let reserved: Vec<ReservedLine> = placed
        .lines
        .iter()
        .zip([4_999_i64, 27_900, 1_299])
        .map(|(line, unit_price_cents)| ReservedLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_cents,
        })
        .collect();
    let total_cents: i64 = reserved
        .iter()
        .map(|l| l.unit_price_cents * i64::from(l.quantity))
        .sum();
    vec![
        AnyEvent::UserRegistered(UserRegistered {
            envelope: Envelope::originating("users", customer_id.to_string(), OCCURRED_AT),
            user_id: customer_id,
            email: "ada.lovelace@example.com".to_owned(),
            name: "Ada Lovelace".to_owned(),
            role: "customer".to_owned(),
        }),
        AnyEvent::OrderPlaced(placed.clone()),
        AnyEvent::OrderConfirmed(OrderConfirmed {
            envelope: reaction("confirm", "orders"),
            order_id,
            customer_id,
            total_cents,
        }),
        AnyEvent::OrderCancelled(OrderCancelled {
            envelope: reaction("cancel", "orders"),
            order_id,
            customer_id,
            reason: CancellationReason::PaymentDeclined,
            detail: Some("card declined by issuer: insufficient funds".to_owned()),
        }),
        AnyEvent::StockAdded(StockAdded {
            envelope: Envelope::originating("inventory", SKUS[0], OCCURRED_AT),
            sku: SKUS[0].to_owned(),
            quantity: 250,
            price_cents: 4_999,
        }),
        AnyEvent::StockReserved(StockReserved {
            envelope: reaction("reserve", "inventory"),
            order_id,
            customer_id,
            lines: reserved,
            total_cents,
        }),
        AnyEvent::StockRejected(StockRejected {
            envelope: reaction("reserve", "inventory"),
            order_id,
            customer_id,
            reason: "insufficient stock".to_owned(),
            shortfalls: vec![StockShortfall {
                sku: SKUS[1].to_owned(),
                requested: 3,
                available: 1,
            }],
        }),
        AnyEvent::StockReleased(StockReleased {
            envelope: reaction("release", "inventory"),
            order_id,
            lines: released_lines(&placed),
            reason: "payment declined".to_owned(),
        }),
        AnyEvent::PaymentAuthorized(PaymentAuthorized {
            envelope: reaction("authorize", "payments"),
            order_id,
            customer_id,
            payment_id,
            amount_cents: total_cents,
            provider_reference: "ch_3PzL8v2eZvKYlo2C1x9qTz4B".to_owned(),
        }),
        AnyEvent::PaymentDeclined(PaymentDeclined {
            envelope: reaction("authorize", "payments"),
            order_id,
            customer_id,
            amount_cents: total_cents,
            reason: "insufficient_funds".to_owned(),
        }),
        AnyEvent::PaymentRefunded(PaymentRefunded {
            envelope: reaction("refund", "payments"),
            order_id,
            customer_id,
            payment_id,
            amount_cents: total_cents,
            reason: "order cancelled after payment".to_owned(),
        }),
        AnyEvent::NotificationSent(NotificationSent {
            envelope: reaction("notify", "notifications"),
            notification_id: Uuid::new_v4(),
            recipient: "ada.lovelace@example.com".to_owned(),
            channel: "email".to_owned(),
            kind: NotificationKind::OrderConfirmed,
            subject_id: order_id.to_string(),
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sample_per_catalogue_entry_in_order() {
        let samples = sample_events();
        let names: Vec<&str> = samples.iter().map(AnyEvent::full_name).collect();
        let catalogue: Vec<&str> = tributary_contracts::CATALOG
            .iter()
            .map(|d| d.full_name)
            .collect();
        assert_eq!(names, catalogue);
        for event in &samples {
            event.encode_body().expect("every sample fits its schema");
        }
    }

    #[test]
    fn realistic_orders_are_bigger_than_minimal_ones() {
        let minimal =
            tributary_contracts::encode_body(&order_placed(1, Payload::Minimal)).expect("encodes");
        let realistic = tributary_contracts::encode_body(&order_placed(1, Payload::Realistic))
            .expect("encodes");
        assert_eq!(order_placed(1, Payload::Realistic).lines.len(), 3);
        assert!(
            realistic.len() > minimal.len() + 50,
            "{} vs {}",
            realistic.len(),
            minimal.len()
        );
    }
}
