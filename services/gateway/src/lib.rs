//! The public HTTP API of Tributary (ARCHITECTURE section 10).
//!
//! The gateway authenticates (HS256 JWTs from the users service, validated
//! with the same [`tributary_users::token`] module), rate-limits per client,
//! validates input at the edge, and then either
//! - places orders itself: `POST /v1/orders` commits `OrderPlaced` (and the
//!   `Idempotency-Key` record) through its own view store and outbox before
//!   answering 202, so an accepted order is never lost; or
//! - forwards to the owning service's API over HTTP (it reads no other
//!   service's data), balancing over each service's instances with timeouts,
//!   retries of GETs and a circuit breaker per instance ([`upstream`]).
//!
//! Every error is `application/problem+json`; bad input is a 4xx that says
//! what is wrong, upstream failures are 502/503/504 without internals. The
//! OpenAPI document is at `/openapi.json`.

#![recursion_limit = "256"]

mod auth;
mod config;
pub mod domain;
mod handlers;
mod openapi;
mod place_order;
mod rate_limit;
mod routes;
mod state;
pub mod upstream;
pub mod views;

#[cfg(test)]
mod tests;

use futures::FutureExt as _;
use tributary_service::{ServiceContext, ServiceDefinition};

pub use auth::{Authentication, Caller};
pub use config::{BreakerConfig, ConfigError, GatewayConfig, RateLimitConfig, UpstreamConfig};
pub use openapi::document as openapi_document;
pub use place_order::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED};
pub use rate_limit::{ClientId, Decision, RateLimiter};
pub use routes::router;
pub use state::{Gateway, Parts};

/// The gateway's service name (its store, the `producer` of `OrderPlaced`).
pub const SERVICE: &str = "gateway";

/// The gateway for the runtime. It consumes nothing.
///
/// An invalid configuration does not panic: the definition then carries a
/// single task that fails at once with the reason, so the service refuses to
/// start and says why. Call [`GatewayConfig::validate`] first to report it
/// earlier.
pub fn definition(config: GatewayConfig) -> ServiceDefinition {
    let base = ServiceDefinition::new(SERVICE).with_tables(views::TABLES);
    match Parts::new(config) {
        Ok(parts) => base.with_routes(move |ctx: ServiceContext| router(parts.with_context(ctx))),
        Err(error) => base.with_task(move |_, _| async move { Err(error.into()) }.boxed()),
    }
}
