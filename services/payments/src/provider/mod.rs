//! The payment-provider interface, the built-in simulated provider, and the
//! guard (circuit breaker + timeout) every call goes through.

mod guarded;
mod simulated;

use async_trait::async_trait;
use uuid::Uuid;

pub use guarded::{CallError, GuardedProvider};
pub use simulated::{
    DECLINE_AMOUNT_LIMIT, DECLINE_CARD, DECLINE_INVALID_AMOUNT, DECLINE_INVALID_TOKEN,
    SimulatedProvider,
};

/// A request to authorize (hold) an amount on a payment token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The order being paid; also the idempotency key: authorizing the same
    /// order again returns the first answer and never holds twice.
    pub order_id: Uuid,
    /// Amount to hold, in cents.
    pub amount_cents: i64,
    /// The opaque token the customer gave at checkout.
    pub token: String,
}

/// The provider's answer to an authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authorization {
    /// The amount is held; `reference` identifies the authorization at the provider.
    Approved { reference: String },
    /// The provider refused; `reason` is a short code (`card_declined`, ...).
    Declined { reason: String },
}

/// A request to refund (or void) the authorization of an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The order; idempotency key of the refund.
    pub order_id: Uuid,
    /// Amount to give back, in cents.
    pub amount_cents: i64,
    /// The authorization's reference when known; `None` when voiding an
    /// authorization whose answer was lost (see the crate docs).
    pub authorization_reference: Option<String>,
}

/// A completed refund. Refunding an order with nothing to refund succeeds
/// too (a void of nothing), so refunds are safe to repeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub reference: String,
}

/// The provider could not give an answer; worth trying again later.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    #[error("payment provider {provider} is unavailable: {detail}")]
    Unavailable {
        provider: &'static str,
        detail: String,
    },
}

/// A payment provider (a card processor, a wallet, the simulator).
///
/// Both calls must be idempotent per order id: the saga may repeat them after
/// a crash, a timeout or an optimistic-concurrency conflict.
#[async_trait]
pub trait PaymentProvider: Send + Sync + std::fmt::Debug + 'static {
    /// Short name for logs and errors.
    fn name(&self) -> &'static str;

    /// Authorizes `request.amount_cents` on `request.token`.
    async fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> Result<Authorization, ProviderError>;

    /// Refunds the order's authorization (voids it if not captured).
    async fn refund(&self, request: RefundRequest) -> Result<Refund, ProviderError>;
}
