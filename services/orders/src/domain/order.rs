//! The order aggregate as the orders service stores it.
//!
//! The row is a merge of facts rather than a log of transitions: every field
//! is a function of the *set* of saga events consumed so far plus the one
//! published decision (the order's own `OrderConfirmed` / `OrderCancelled`),
//! never of the order they were processed in. That is what lets a view
//! rebuild — which reads the `orders`, `inventory` and `payments` topics at
//! different speeds than the live service did — arrive at byte-identical rows.

use serde::{Deserialize, Serialize};
use tributary_contracts::events::{CancellationReason, OrderPlaced};
use uuid::Uuid;

/// Where an order's saga stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Placed; no outcome yet.
    Pending,
    /// Payment authorized; terminal.
    Confirmed,
    /// Stock rejected, payment declined or timed out; terminal.
    Cancelled,
}

impl OrderStatus {
    /// Confirmed and cancelled are terminal: the status never changes again.
    pub fn is_terminal(self) -> bool {
        !matches!(self, OrderStatus::Pending)
    }

    /// The wire name (`PENDING`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "PENDING",
            OrderStatus::Confirmed => "CONFIRMED",
            OrderStatus::Cancelled => "CANCELLED",
        }
    }
}

/// One ordered line, priced once the stock was reserved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    /// Stock keeping unit.
    pub sku: String,
    /// Units ordered.
    pub quantity: i32,
    /// Unit price at reservation time; absent until stock was reserved.
    #[serde(default)]
    pub unit_price_cents: Option<i64>,
}

/// One step of the saga: which event, when, and its id (the tie-breaker when
/// two events carry the same time).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Dotted event type, e.g. `payment.authorized`.
    pub event_type: String,
    /// The event's `occurred_at`, unix ms.
    pub occurred_at: i64,
    /// The event's id.
    pub event_id: Uuid,
}

impl Step {
    /// Whether `self` happened after `other` (event time, then id).
    fn is_after(&self, other: &Step) -> bool {
        (self.occurred_at, self.event_id) > (other.occurred_at, other.event_id)
    }
}

/// The stored order: the `orders_by_id` row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order id (also the saga's correlation id).
    pub id: Uuid,
    /// Who placed it.
    pub customer_id: Uuid,
    /// Saga state.
    pub status: OrderStatus,
    /// Why it was cancelled; `None` unless cancelled.
    pub reason: Option<CancellationReason>,
    /// Human-readable detail of the reason (the inventory's or payment
    /// provider's explanation, or the timeout).
    pub detail: Option<String>,
    /// What the reservation priced the order at, once stock was reserved.
    pub reserved_cents: Option<i64>,
    /// What was charged, once confirmed.
    pub charged_cents: Option<i64>,
    /// The ordered lines.
    pub lines: Vec<Line>,
    /// When the order was placed (`OrderPlaced.occurred_at`), unix ms.
    pub placed_at: i64,
    /// The latest saga event seen for this order, by event time.
    pub last_step: Step,
    /// Id of the `OrderPlaced` event.
    pub placed_event_id: Uuid,
    /// Id of the one terminal event (`OrderConfirmed` / `OrderCancelled`)
    /// published for this order; `None` while pending.
    pub terminal_event_id: Option<Uuid>,
    /// When the saga was decided: the terminal event's `occurred_at`.
    pub decided_at: Option<i64>,
}

impl Order {
    /// A new pending order from its placement.
    pub fn placed(event: &OrderPlaced) -> Self {
        Order {
            id: event.order_id,
            customer_id: event.customer_id,
            status: OrderStatus::Pending,
            reason: None,
            detail: None,
            reserved_cents: None,
            charged_cents: None,
            lines: event
                .lines
                .iter()
                .map(|line| Line {
                    sku: line.sku.clone(),
                    quantity: line.quantity,
                    unit_price_cents: None,
                })
                .collect(),
            placed_at: event.envelope.occurred_at,
            last_step: Step {
                event_type: event_type_of::<OrderPlaced>().to_owned(),
                occurred_at: event.envelope.occurred_at,
                event_id: event.envelope.event_id,
            },
            placed_event_id: event.envelope.event_id,
            terminal_event_id: None,
            decided_at: None,
        }
    }

    /// The order's total: the charged amount once confirmed, else the
    /// reservation's price, else unknown.
    pub fn total_cents(&self) -> Option<i64> {
        self.charged_cents.or(self.reserved_cents)
    }

    /// When the order last changed: the time of its latest saga event.
    pub fn updated_at(&self) -> i64 {
        self.last_step.occurred_at
    }

    /// Records `step` if it is later than the latest one seen.
    pub(crate) fn merge_step(&mut self, step: Step) {
        if step.is_after(&self.last_step) {
            self.last_step = step;
        }
    }
}

/// `E::EVENT_TYPE`, without importing the trait at every call site.
pub(crate) fn event_type_of<E: tributary_contracts::Event>() -> &'static str {
    E::EVENT_TYPE
}
