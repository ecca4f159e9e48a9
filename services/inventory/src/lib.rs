//! Inventory service: stock administration and all-or-nothing reservations
//! with compensation.
//!
//! Consumes `orders` and `payments` in group `tributary.inventory`, keeps
//! `stock_by_sku` and `reservations_by_order`, emits on `inventory`.
//!
//! | on | does | emits |
//! |---|---|---|
//! | `PUT /stock/{sku}` | adds units, sets the price | `StockAdded` |
//! | `OrderPlaced` | holds every line or none (duplicate SKUs merged) | `StockReserved` (priced) / `StockRejected` |
//! | `PaymentDeclined` | releases a HELD reservation | `StockReleased` (`payment_declined`) |
//! | `OrderCancelled` | releases a HELD reservation; records a tombstone if none yet | `StockReleased` (the cancellation reason) / nothing |
//! | `OrderConfirmed` | commits a HELD reservation: the units leave stock | nothing |
//!
//! # Saga races
//!
//! Events of one order arrive on two topics (`orders`, `payments`) and a
//! retried event comes back through the retry topic after later ones, so no
//! order between them is guaranteed. The reservation row's state machine
//! ([`domain::Reservation`]) makes every arrival order safe:
//!
//! - **`PaymentDeclined` and `OrderCancelled(PAYMENT_DECLINED)` both
//!   arrive** (always, in either order): the first releases, the second finds
//!   RELEASED and does nothing — one `StockReleased`.
//! - **Saga timeout while the payment is in flight**: `OrderCancelled`
//!   releases the HELD reservation; a later `PaymentDeclined` finds RELEASED.
//!   (Payments refunds a later authorization on the same `OrderCancelled`.)
//! - **`OrderCancelled` before `OrderPlaced` was handled** (the placement
//!   failed transiently and went through the retry topic while the orders
//!   service timed the saga out): a CANCELLED tombstone is written, and the
//!   late `OrderPlaced` is answered with `StockRejected` (`order_cancelled`)
//!   instead of holding stock that no compensation would ever release.
//! - **Redelivery** of any event is dropped by the runtime's processed-event
//!   record; even without it, HELD is left at most once (to RELEASED or
//!   COMMITTED), so stock moves exactly once per reservation.
//! - **Replicas racing for the last units** of a SKU (different orders on
//!   different partitions): every stock row is written under the version it
//!   was read at, so the loser conflicts, the runtime re-runs it on fresh
//!   rows, and it is rejected with a shortfall. Stock admin (`PUT`) takes
//!   part in the same protocol and retries a bounded number of times.
//! - Combinations the saga never produces (a confirmation without a HELD
//!   reservation, a decline for an unknown order) change nothing and are
//!   logged as warnings.

pub mod api;
pub mod config;
pub mod domain;
pub mod projector;
pub mod views;

#[cfg(test)]
mod testing;

use std::sync::Arc;

use tributary_contracts::{
    Event,
    events::{OrderPlaced, PaymentDeclined},
};
use tributary_service::{Clock, ServiceDefinition, SystemClock};

pub use config::InventoryConfig;
pub use projector::InventoryProjector;

/// The service's name: view store `inventory`, group `tributary.inventory`.
pub const SERVICE: &str = "inventory";

/// The topics the inventory consumes.
pub const CONSUMES: [&str; 2] = [OrderPlaced::TOPIC, PaymentDeclined::TOPIC];

/// The inventory service for the runtime.
pub fn definition(config: InventoryConfig) -> ServiceDefinition {
    definition_with_clock(config, Arc::new(SystemClock))
}

/// [`definition`] with the projector's clock replaced (tests).
pub fn definition_with_clock(config: InventoryConfig, clock: Arc<dyn Clock>) -> ServiceDefinition {
    let projector = Arc::new(InventoryProjector::new(&config, clock));
    ServiceDefinition::new(SERVICE)
        .with_tables(views::TABLES)
        .consuming(CONSUMES, projector)
        .with_routes(move |context| api::routes(context, &config))
}
