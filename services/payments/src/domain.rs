//! The payment of one order and its state machine, free of I/O.
//!
//! ```text
//!            OrderPlaced              StockReserved: approved          OrderCancelled
//!   (none) ─────────────▶ PENDING ──────────────────────▶ AUTHORIZED ───────────────▶ REFUNDED
//!     │                     │  │  StockReserved: declined
//!     │ OrderCancelled      │  └─────────────────────────▶ DECLINED
//!     ▼                     │ OrderCancelled
//!  CANCELLED ◀──────────────┘
//! ```
//!
//! The provider is called only from PENDING (authorize) and AUTHORIZED
//! (refund), and the row is written under the version it was read at, so
//! at most one authorization and one refund per order become effective
//! whatever the order and number of deliveries. A `StockReserved` that finds
//! CANCELLED voids any authorization an interrupted attempt may have made
//! (see [`Step::Void`]) and emits nothing.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Seeds payment ids; fixed forever so a payment keeps its id across retries.
const PAYMENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x3c9e_71d4_0b8a_4f25_a6d2_9e14_c5b7_08f1);

/// The payment id of an order: UUIDv5 of the order id, so an authorization
/// repeated after a crash reports the same payment.
pub fn payment_id(order_id: Uuid) -> Uuid {
    Uuid::new_v5(&PAYMENT_ID_NAMESPACE, order_id.as_bytes())
}

/// Where an order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentState {
    /// The order was placed; its token is kept until the stock is reserved.
    Pending,
    /// The amount is held at the provider.
    Authorized,
    /// The provider refused; nothing is held.
    Declined,
    /// The authorization was given back (compensation).
    Refunded,
    /// The order was cancelled before any authorization; none will happen.
    Cancelled,
}

/// The payment of one order, as stored in `payments_by_order`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payment {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub state: PaymentState,
    /// The payment token, kept only while PENDING: once no charge can happen
    /// any more the row forgets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Set when authorized.
    pub payment_id: Option<Uuid>,
    /// The amount authorized or declined, in cents.
    pub amount_cents: Option<i64>,
    /// The provider's reference of the authorization.
    pub provider_reference: Option<String>,
    /// The provider's reference of the refund.
    pub refund_reference: Option<String>,
    /// Why the payment was declined, refunded or cancelled.
    pub reason: Option<String>,
    /// True once the provider was asked to void what an interrupted
    /// authorization attempt may have held for a cancelled order.
    #[serde(default)]
    pub voided: bool,
    /// When the row was created, unix ms.
    pub created_at: i64,
    /// When the state last changed, unix ms.
    pub updated_at: i64,
}

impl Payment {
    /// The PENDING payment of a just-placed order.
    pub fn pending(order_id: Uuid, customer_id: Uuid, token: &str, now_ms: i64) -> Self {
        Payment {
            order_id,
            customer_id,
            state: PaymentState::Pending,
            token: Some(token.to_owned()),
            payment_id: None,
            amount_cents: None,
            provider_reference: None,
            refund_reference: None,
            reason: None,
            voided: false,
            created_at: now_ms,
            updated_at: now_ms,
        }
    }

    /// The CANCELLED tombstone of an order cancelled before it was seen.
    pub fn cancelled_unseen(order_id: Uuid, customer_id: Uuid, reason: &str, now_ms: i64) -> Self {
        Payment {
            state: PaymentState::Cancelled,
            token: None,
            reason: Some(reason.to_owned()),
            ..Payment::pending(order_id, customer_id, "", now_ms)
        }
    }

    /// Approved by the provider.
    pub fn authorized(&self, amount_cents: i64, reference: &str, now_ms: i64) -> Self {
        Payment {
            state: PaymentState::Authorized,
            token: None,
            payment_id: Some(payment_id(self.order_id)),
            amount_cents: Some(amount_cents),
            provider_reference: Some(reference.to_owned()),
            updated_at: now_ms,
            ..self.clone()
        }
    }

    /// Refused by the provider.
    pub fn declined(&self, amount_cents: i64, reason: &str, now_ms: i64) -> Self {
        Payment {
            state: PaymentState::Declined,
            token: None,
            amount_cents: Some(amount_cents),
            reason: Some(reason.to_owned()),
            updated_at: now_ms,
            ..self.clone()
        }
    }

    /// Given back after the order was cancelled.
    pub fn refunded(&self, reference: &str, reason: &str, now_ms: i64) -> Self {
        Payment {
            state: PaymentState::Refunded,
            refund_reference: Some(reference.to_owned()),
            reason: Some(reason.to_owned()),
            updated_at: now_ms,
            ..self.clone()
        }
    }

    /// Cancelled while PENDING: no authorization will happen.
    pub fn cancelled(&self, reason: &str, now_ms: i64) -> Self {
        Payment {
            state: PaymentState::Cancelled,
            token: None,
            reason: Some(reason.to_owned()),
            updated_at: now_ms,
            ..self.clone()
        }
    }

    /// Any authorization an interrupted attempt made was voided.
    pub fn with_void(&self, now_ms: i64) -> Self {
        Payment {
            voided: true,
            updated_at: now_ms,
            ..self.clone()
        }
    }
}

/// What an event does to an order's payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `OrderPlaced`: remember the token (PENDING).
    Remember,
    /// `StockReserved`: authorize with this token.
    Authorize { token: String },
    /// `StockReserved` before `OrderPlaced` was seen here: the token is
    /// unknown yet, retry later (the events travel on different topics).
    AwaitToken,
    /// `StockReserved` after the order was cancelled: do not authorize, but
    /// void whatever an earlier attempt (interrupted by a crash or beaten by
    /// the cancellation in a write conflict) may have held.
    Void,
    /// `OrderCancelled` after an authorization: refund it.
    Refund,
    /// `OrderCancelled` while PENDING: cancel, no authorization will follow.
    Cancel,
    /// `OrderCancelled` before `OrderPlaced` was seen: record the tombstone.
    Tombstone,
    /// Nothing changes.
    Ignore(&'static str),
}

/// `OrderPlaced`.
pub fn on_order_placed(current: Option<&Payment>) -> Step {
    match current {
        None => Step::Remember,
        Some(_) => Step::Ignore("the order's payment is already known"),
    }
}

/// `StockReserved`.
pub fn on_stock_reserved(current: Option<&Payment>) -> Step {
    let Some(payment) = current else {
        return Step::AwaitToken;
    };
    match payment.state {
        PaymentState::Pending => Step::Authorize {
            token: payment.token.clone().unwrap_or_default(),
        },
        PaymentState::Cancelled if !payment.voided => Step::Void,
        PaymentState::Cancelled => Step::Ignore("the order was cancelled"),
        PaymentState::Authorized | PaymentState::Declined | PaymentState::Refunded => {
            Step::Ignore("the payment was already decided")
        }
    }
}

/// `OrderCancelled`.
pub fn on_order_cancelled(current: Option<&Payment>) -> Step {
    match current.map(|p| p.state) {
        None => Step::Tombstone,
        Some(PaymentState::Pending) => Step::Cancel,
        Some(PaymentState::Authorized) => Step::Refund,
        Some(PaymentState::Declined) => Step::Ignore("nothing was charged"),
        Some(PaymentState::Refunded) => Step::Ignore("the payment was already refunded"),
        Some(PaymentState::Cancelled) => Step::Ignore("the order was already cancelled"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentState::*;

    fn payment(state: PaymentState) -> Payment {
        let pending = Payment::pending(Uuid::from_u128(1), Uuid::from_u128(2), "tok", 1);
        match state {
            Pending => pending,
            Authorized => pending.authorized(100, "ref", 2),
            Declined => pending.declined(100, "card_declined", 2),
            Refunded => pending
                .authorized(100, "ref", 2)
                .refunded("rf", "timeout", 3),
            Cancelled => pending.cancelled("timeout", 2),
        }
    }

    #[test]
    fn payment_ids_are_deterministic_per_order() {
        assert_eq!(
            payment_id(Uuid::from_u128(1)),
            payment_id(Uuid::from_u128(1))
        );
        assert_ne!(
            payment_id(Uuid::from_u128(1)),
            payment_id(Uuid::from_u128(2))
        );
        assert_eq!(
            payment(Authorized).payment_id,
            Some(payment_id(Uuid::from_u128(1)))
        );
    }

    #[test]
    fn the_provider_is_called_only_from_pending_and_authorized() {
        let all = [Pending, Authorized, Declined, Refunded, Cancelled];
        for state in all {
            let p = payment(state);
            let reserved = on_stock_reserved(Some(&p));
            assert_eq!(
                matches!(reserved, Step::Authorize { .. }),
                state == Pending,
                "{state:?}: {reserved:?}"
            );
            let cancelled = on_order_cancelled(Some(&p));
            assert_eq!(cancelled == Step::Refund, state == Authorized, "{state:?}");
            assert!(matches!(on_order_placed(Some(&p)), Step::Ignore(_)));
        }
    }

    #[test]
    fn unseen_orders() {
        assert_eq!(on_order_placed(None), Step::Remember);
        assert_eq!(on_stock_reserved(None), Step::AwaitToken);
        assert_eq!(on_order_cancelled(None), Step::Tombstone);
    }

    #[test]
    fn the_token_is_used_then_forgotten() {
        assert_eq!(
            on_stock_reserved(Some(&payment(Pending))),
            Step::Authorize {
                token: "tok".into()
            }
        );
        for state in [Authorized, Declined, Refunded, Cancelled] {
            assert_eq!(payment(state).token, None, "{state:?}");
        }
        let json = serde_json::to_value(payment(Authorized)).expect("encodes");
        assert!(json.get("token").is_none());
        assert_eq!(json["state"], "AUTHORIZED");
    }

    #[test]
    fn a_cancelled_order_is_voided_once_and_never_authorized() {
        let cancelled = payment(Cancelled);
        assert_eq!(on_stock_reserved(Some(&cancelled)), Step::Void);
        let voided = cancelled.with_void(5);
        assert!(matches!(on_stock_reserved(Some(&voided)), Step::Ignore(_)));
        let tombstone =
            Payment::cancelled_unseen(Uuid::from_u128(1), Uuid::from_u128(2), "timeout", 1);
        assert_eq!(tombstone.state, Cancelled);
        assert_eq!(on_stock_reserved(Some(&tombstone)), Step::Void);
        assert!(matches!(on_order_placed(Some(&tombstone)), Step::Ignore(_)));
    }

    #[test]
    fn refund_happens_at_most_once() {
        let refunded = payment(Refunded);
        assert!(matches!(
            on_order_cancelled(Some(&refunded)),
            Step::Ignore(_)
        ));
        assert_eq!(refunded.payment_id, payment(Authorized).payment_id);
        assert_eq!(refunded.amount_cents, Some(100));
    }
}
