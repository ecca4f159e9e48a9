//! Orders service: order saga state, confirmation, cancellation and the saga
//! timeout; owns orders and saga timelines.
//!
//! Consumes `orders`, `inventory` and `payments` in the group
//! `tributary.orders` (ARCHITECTURE section 6):
//!
//! | on | does | emits |
//! |---|---|---|
//! | OrderPlaced | creates the order, PENDING | — |
//! | StockReserved | records the prices and total | — |
//! | StockRejected / PaymentDeclined | cancels with the reason | OrderCancelled |
//! | PaymentAuthorized | confirms | OrderConfirmed |
//! | no outcome within `saga_timeout` | cancels, reason TIMEOUT (the sweeper) | OrderCancelled |
//! | every saga event | appends to the order's timeline | — |
//!
//! An order has exactly one terminal state (invariant 1): decisions are only
//! taken while it is PENDING, under an optimistic-concurrency check on the
//! order row, with deterministic event ids; late or duplicate outcomes only
//! reach the timeline. See [`domain`] for the rules and their proofs,
//! [`projector`] for cross-topic reordering (retried), [`sweeper`] for the
//! timeout race, and [`api`] for the query API.

pub mod api;
mod config;
pub mod domain;
pub mod projector;
pub mod sweeper;
mod telemetry;
pub mod views;

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;

use std::{sync::Arc, time::Duration};

pub use config::{ConfigError, OrdersConfig, defaults};
use futures::FutureExt as _;
use tributary_service::{ServiceDefinition, SystemClock};

use crate::{projector::OrdersProjector, sweeper::SweepSettings, telemetry::MetricsSlot};

/// The service's name: its view store, its consumer group `tributary.orders`.
pub const SERVICE: &str = "orders";

/// The topics the service consumes.
pub const CONSUMES: [&str; 3] = ["orders", "inventory", "payments"];

/// The orders service for the runtime.
///
/// Values [`OrdersConfig::validate`] would reject are clamped to the
/// smallest workable value here rather than panicking; the binary should
/// validate first to report them.
pub fn definition(config: OrdersConfig) -> ServiceDefinition {
    let metrics = MetricsSlot::default();
    let projector = OrdersProjector::new(Arc::new(SystemClock), metrics.clone());
    let settings = SweepSettings {
        timeout: config.saga_timeout,
        batch: config.sweep_batch.max(1),
    };
    let interval = config.sweep_interval.max(Duration::from_millis(1));
    let sweeper_enabled = config.sweeper_enabled;
    let routes_metrics = metrics.clone();
    let mut definition = ServiceDefinition::new(SERVICE)
        .with_tables(views::TABLES)
        .consuming(CONSUMES, Arc::new(projector))
        .with_routes(move |context| {
            routes_metrics.fill(context.metrics());
            api::router(context, &config)
        });
    if sweeper_enabled {
        definition = definition.with_task(move |context, shutdown| {
            metrics.fill(context.metrics());
            async move {
                sweeper::run(context, settings, interval, shutdown).await;
                Ok(())
            }
            .boxed()
        });
    }
    definition
}
