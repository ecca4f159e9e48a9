//! Payments service: authorization through a payment provider behind a
//! circuit breaker, refunds as compensation.
//!
//! Consumes `inventory` and `orders` in group `tributary.payments`, keeps
//! `payments_by_order`, emits on `payments`.
//!
//! | on | does | emits |
//! |---|---|---|
//! | `OrderPlaced` | remembers the payment token (PENDING) | nothing |
//! | `StockReserved` | authorizes `total_cents` (breaker + timeout) | `PaymentAuthorized` / `PaymentDeclined` |
//! | `OrderCancelled` | refunds an authorization; cancels a pending payment | `PaymentRefunded` / nothing |
//! | `GET /payments/{order_id}` | the payment (never the token) | — |
//!
//! Provider errors, timeouts and an open breaker are retryable handler
//! errors: the bus redelivers the event through the retry topic with
//! backoff, and dead-letters it after the retry policy's last attempt (the
//! orders service's saga timeout then cancels the order).
//!
//! # Saga races
//!
//! - **`StockReserved` before `OrderPlaced`**: the token comes only with
//!   `OrderPlaced` (topic `orders`), and nothing orders it before
//!   `StockReserved` (topic `inventory`) in this group. Without a known
//!   token the handler fails retryably; the event comes back through the
//!   retry topic, by which time `OrderPlaced` was normally seen.
//! - **One authorization per order**: the provider is called only from
//!   PENDING, and the outcome is written under the version read; a
//!   concurrent or repeated `StockReserved` finds AUTHORIZED / DECLINED and
//!   does nothing. The provider call itself is idempotent per order id and
//!   the payment id is UUIDv5(order id), so a re-authorization after a crash
//!   reports the same payment.
//! - **`OrderCancelled` before the authorization** (saga timeout, or the
//!   placement not seen yet): the row becomes CANCELLED (a tombstone if none
//!   existed) and a later `StockReserved` is not authorized and emits
//!   nothing; the inventory releases the stock on the same `OrderCancelled`.
//! - **`OrderCancelled` racing an authorization in flight**: if the
//!   authorization commits first, the cancellation conflicts, is re-run,
//!   finds AUTHORIZED and refunds (`PaymentRefunded`). If the cancellation
//!   commits first, the authorization's commit conflicts, is re-run, finds
//!   CANCELLED and *voids* at the provider what the lost attempt held
//!   (refund without a reference), emitting nothing. The same void covers a
//!   crash between the provider's approval and the commit.
//! - **`OrderCancelled` after an authorization** refunds exactly once: the
//!   row moves AUTHORIZED → REFUNDED under its version; redeliveries find
//!   REFUNDED.

pub mod api;
pub mod breaker;
pub mod config;
pub mod domain;
pub mod projector;
pub mod provider;
pub mod views;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use tributary_contracts::{
    Event,
    events::{OrderPlaced, StockReserved},
};
use tributary_service::{Clock, ServiceDefinition, SystemClock};

pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use config::{PaymentsConfig, ProviderConfig, ProviderKind};
pub use projector::PaymentsProjector;
pub use provider::{
    Authorization, AuthorizationRequest, GuardedProvider, PaymentProvider, ProviderError, Refund,
    RefundRequest, SimulatedProvider,
};

/// The service's name: view store `payments`, group `tributary.payments`.
pub const SERVICE: &str = "payments";

/// The topics the payments service consumes.
pub const CONSUMES: [&str; 2] = [StockReserved::TOPIC, OrderPlaced::TOPIC];

/// The payments service for the runtime, with the provider `config` selects.
pub fn definition(config: PaymentsConfig) -> ServiceDefinition {
    let provider = build_provider(&config.provider);
    definition_with(config, provider, Arc::new(SystemClock))
}

/// The provider `config` selects.
pub fn build_provider(config: &ProviderConfig) -> Arc<dyn PaymentProvider> {
    match config.kind {
        ProviderKind::Simulated => Arc::new(SimulatedProvider::new(config)),
    }
}

/// [`definition`] with another provider (a real one, or a test double) and clock.
pub fn definition_with(
    config: PaymentsConfig,
    provider: Arc<dyn PaymentProvider>,
    clock: Arc<dyn Clock>,
) -> ServiceDefinition {
    let guarded = Arc::new(GuardedProvider::new(
        provider,
        &config.breaker,
        config.call_timeout(),
    ));
    ServiceDefinition::new(SERVICE)
        .with_tables(views::TABLES)
        .consuming(CONSUMES, Arc::new(PaymentsProjector::new(guarded, clock)))
        .with_routes(api::routes)
}
