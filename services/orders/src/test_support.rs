//! Builders of saga events for the tests of this crate.

use tributary_contracts::{
    Envelope, derived_event_id,
    events::{
        OrderLine, OrderPlaced, PaymentAuthorized, PaymentDeclined, PaymentRefunded, ReleasedLine,
        ReservedLine, StockRejected, StockReleased, StockReserved, StockShortfall,
    },
};
use uuid::Uuid;

/// One order's saga, with deterministic ids and times relative to `placed_at`.
#[derive(Debug, Clone)]
pub struct Saga {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub placed_at: i64,
}

impl Saga {
    pub fn new(placed_at: i64) -> Self {
        Saga {
            order_id: Uuid::new_v4(),
            customer_id: Uuid::new_v4(),
            placed_at,
        }
    }

    pub fn for_customer(customer_id: Uuid, placed_at: i64) -> Self {
        Saga {
            customer_id,
            ..Saga::new(placed_at)
        }
    }

    /// An envelope for the step `name`, `after_ms` after placement. The id
    /// depends on `name` only, so building the same step twice gives a
    /// redelivery (same id).
    pub fn envelope(&self, name: &str, producer: &str, after_ms: i64) -> Envelope {
        Envelope {
            event_id: derived_event_id(self.order_id, name),
            occurred_at: self.placed_at + after_ms,
            correlation_id: self.order_id.to_string(),
            causation_id: None,
            producer: producer.to_owned(),
        }
    }

    pub fn placed(&self) -> OrderPlaced {
        OrderPlaced {
            envelope: self.envelope("placed", "gateway", 0),
            order_id: self.order_id,
            customer_id: self.customer_id,
            lines: vec![
                OrderLine {
                    sku: "sku-a".into(),
                    quantity: 2,
                },
                OrderLine {
                    sku: "sku-b".into(),
                    quantity: 1,
                },
            ],
            payment_token: "tok".into(),
            idempotency_key: None,
        }
    }

    pub fn reserved(&self) -> StockReserved {
        StockReserved {
            envelope: self.envelope("reserved", "inventory", 5),
            order_id: self.order_id,
            customer_id: self.customer_id,
            lines: vec![
                ReservedLine {
                    sku: "sku-a".into(),
                    quantity: 2,
                    unit_price_cents: 150,
                },
                ReservedLine {
                    sku: "sku-b".into(),
                    quantity: 1,
                    unit_price_cents: 700,
                },
            ],
            total_cents: 1000,
        }
    }

    pub fn rejected(&self) -> StockRejected {
        StockRejected {
            envelope: self.envelope("rejected", "inventory", 6),
            order_id: self.order_id,
            customer_id: self.customer_id,
            reason: "insufficient stock".into(),
            shortfalls: vec![StockShortfall {
                sku: "sku-a".into(),
                requested: 2,
                available: 1,
            }],
        }
    }

    pub fn authorized(&self) -> PaymentAuthorized {
        PaymentAuthorized {
            envelope: self.envelope("authorized", "payments", 10),
            order_id: self.order_id,
            customer_id: self.customer_id,
            payment_id: derived_event_id(self.order_id, "payment"),
            amount_cents: 1000,
            provider_reference: "sim-1".into(),
        }
    }

    pub fn declined(&self) -> PaymentDeclined {
        PaymentDeclined {
            envelope: self.envelope("declined", "payments", 11),
            order_id: self.order_id,
            customer_id: self.customer_id,
            amount_cents: 1000,
            reason: "card declined".into(),
        }
    }

    pub fn released(&self) -> StockReleased {
        StockReleased {
            envelope: self.envelope("released", "inventory", 20),
            order_id: self.order_id,
            lines: vec![ReleasedLine {
                sku: "sku-a".into(),
                quantity: 2,
            }],
            reason: "order cancelled".into(),
        }
    }

    pub fn refunded(&self) -> PaymentRefunded {
        PaymentRefunded {
            envelope: self.envelope("refunded", "payments", 21),
            order_id: self.order_id,
            customer_id: self.customer_id,
            payment_id: derived_event_id(self.order_id, "payment"),
            amount_cents: 1000,
            reason: "order cancelled".into(),
        }
    }
}
