//! The consumed events that belong to an order's saga.

use tributary_contracts::{
    Envelope, Event,
    events::{
        AnyEvent, OrderCancelled, OrderConfirmed, OrderPlaced, PaymentAuthorized, PaymentDeclined,
        PaymentRefunded, StockRejected, StockReleased, StockReserved,
    },
};
use uuid::Uuid;

use super::order::Step;

/// A saga event, borrowed from the consumed [`AnyEvent`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SagaEvent<'a> {
    Placed(&'a OrderPlaced),
    Reserved(&'a StockReserved),
    Rejected(&'a StockRejected),
    Released(&'a StockReleased),
    Authorized(&'a PaymentAuthorized),
    Declined(&'a PaymentDeclined),
    Refunded(&'a PaymentRefunded),
    Confirmed(&'a OrderConfirmed),
    Cancelled(&'a OrderCancelled),
}

impl<'a> SagaEvent<'a> {
    /// The saga event inside `event`; `None` for events that are not about
    /// an order (stock administration, users, notifications).
    pub fn from_any(event: &'a AnyEvent) -> Option<Self> {
        Some(match event {
            AnyEvent::OrderPlaced(e) => SagaEvent::Placed(e),
            AnyEvent::StockReserved(e) => SagaEvent::Reserved(e),
            AnyEvent::StockRejected(e) => SagaEvent::Rejected(e),
            AnyEvent::StockReleased(e) => SagaEvent::Released(e),
            AnyEvent::PaymentAuthorized(e) => SagaEvent::Authorized(e),
            AnyEvent::PaymentDeclined(e) => SagaEvent::Declined(e),
            AnyEvent::PaymentRefunded(e) => SagaEvent::Refunded(e),
            AnyEvent::OrderConfirmed(e) => SagaEvent::Confirmed(e),
            AnyEvent::OrderCancelled(e) => SagaEvent::Cancelled(e),
            AnyEvent::UserRegistered(_)
            | AnyEvent::StockAdded(_)
            | AnyEvent::NotificationSent(_) => return None,
        })
    }

    /// The order the event is about.
    pub fn order_id(&self) -> Uuid {
        match self {
            SagaEvent::Placed(e) => e.order_id,
            SagaEvent::Reserved(e) => e.order_id,
            SagaEvent::Rejected(e) => e.order_id,
            SagaEvent::Released(e) => e.order_id,
            SagaEvent::Authorized(e) => e.order_id,
            SagaEvent::Declined(e) => e.order_id,
            SagaEvent::Refunded(e) => e.order_id,
            SagaEvent::Confirmed(e) => e.order_id,
            SagaEvent::Cancelled(e) => e.order_id,
        }
    }

    pub fn envelope(&self) -> &'a Envelope {
        match self {
            SagaEvent::Placed(e) => &e.envelope,
            SagaEvent::Reserved(e) => &e.envelope,
            SagaEvent::Rejected(e) => &e.envelope,
            SagaEvent::Released(e) => &e.envelope,
            SagaEvent::Authorized(e) => &e.envelope,
            SagaEvent::Declined(e) => &e.envelope,
            SagaEvent::Refunded(e) => &e.envelope,
            SagaEvent::Confirmed(e) => &e.envelope,
            SagaEvent::Cancelled(e) => &e.envelope,
        }
    }

    /// Dotted event type (`stock.reserved`).
    pub fn event_type(&self) -> &'static str {
        match self {
            SagaEvent::Placed(_) => OrderPlaced::EVENT_TYPE,
            SagaEvent::Reserved(_) => StockReserved::EVENT_TYPE,
            SagaEvent::Rejected(_) => StockRejected::EVENT_TYPE,
            SagaEvent::Released(_) => StockReleased::EVENT_TYPE,
            SagaEvent::Authorized(_) => PaymentAuthorized::EVENT_TYPE,
            SagaEvent::Declined(_) => PaymentDeclined::EVENT_TYPE,
            SagaEvent::Refunded(_) => PaymentRefunded::EVENT_TYPE,
            SagaEvent::Confirmed(_) => OrderConfirmed::EVENT_TYPE,
            SagaEvent::Cancelled(_) => OrderCancelled::EVENT_TYPE,
        }
    }

    /// This event as a saga step.
    pub fn step(&self) -> Step {
        let envelope = self.envelope();
        Step {
            event_type: self.event_type().to_owned(),
            occurred_at: envelope.occurred_at,
            event_id: envelope.event_id,
        }
    }

    /// A one-line human summary for the saga timeline.
    ///
    /// A pure function of the event, so a rebuilt timeline equals the live one.
    pub fn detail(&self) -> String {
        match self {
            SagaEvent::Placed(e) => {
                let units: i64 = e.lines.iter().map(|l| i64::from(l.quantity)).sum();
                format!("placed {} line(s), {units} unit(s)", e.lines.len())
            }
            SagaEvent::Reserved(e) => format!(
                "reserved {} line(s), total {} cents",
                e.lines.len(),
                e.total_cents
            ),
            SagaEvent::Rejected(e) => {
                let skus: Vec<&str> = e.shortfalls.iter().map(|s| s.sku.as_str()).collect();
                if skus.is_empty() {
                    format!("rejected: {}", e.reason)
                } else {
                    format!("rejected: {} (short: {})", e.reason, skus.join(", "))
                }
            }
            SagaEvent::Released(e) => {
                format!("released {} line(s): {}", e.lines.len(), e.reason)
            }
            SagaEvent::Authorized(e) => format!(
                "authorized {} cents, payment {}, provider reference {}",
                e.amount_cents, e.payment_id, e.provider_reference
            ),
            SagaEvent::Declined(e) => {
                format!("declined {} cents: {}", e.amount_cents, e.reason)
            }
            SagaEvent::Refunded(e) => format!(
                "refunded {} cents of payment {}: {}",
                e.amount_cents, e.payment_id, e.reason
            ),
            SagaEvent::Confirmed(e) => format!("confirmed, total {} cents", e.total_cents),
            SagaEvent::Cancelled(e) => match &e.detail {
                Some(detail) => format!("cancelled ({}): {detail}", e.reason),
                None => format!("cancelled ({})", e.reason),
            },
        }
    }
}
