//! The runtime every Tributary service is built on.
//!
//! A service is mostly a [`Projector`]: a function from (current view, event)
//! to [`Effects`] — the view rows it changes and the events it emits. The
//! runtime applies those effects together with the processed-event record and
//! the consumed position in one view-store transaction, and a relay publishes
//! the emitted events from the store's outbox afterwards. A crash anywhere
//! leaves either everything or nothing, and a redelivered event is recognised
//! by its id and changes nothing.
//!
//! A service crate provides a [`ServiceDefinition`] (tables, consumed
//! topics, projector, routes, background tasks); the binary turns it into a
//! running process:
//!
//! ```ignore
//! let app = Application::build(tributary_orders::definition(cfg.orders), cfg.service).await?;
//! app.run_until(tributary_service::shutdown_signal()).await?;
//! ```
//!
//! Consumption goes through a [`SourceFactory`]: Kafka by default
//! ([`KafkaSources`]), another transport with
//! [`Application::build_with_source`] (RabbitMQ: `tributary-bridge`).
//!
//! Every service then serves its routes plus `/health/live`,
//! `/health/ready` and `/metrics`, with problem+json errors ([`ApiError`],
//! [`ApiJson`]).

mod application;
mod clock;
mod config;
mod context;
mod definition;
mod effects;
mod encode;
mod error;
pub mod http;
mod internal_events;
mod projector;
mod readiness;
mod relay;
mod runner;
mod signal;
mod source;
mod supervise;
mod table;
#[cfg(feature = "testing")]
pub mod testing;

pub use application::Application;
pub use clock::{Clock, SystemClock};
pub use config::{OutboxSettings, ServiceConfig, defaults};
pub use context::ServiceContext;
pub use definition::{BoxError, RoutesFn, ServiceDefinition, TaskFn, group_id};
pub use effects::Effects;
pub use error::{CommitError, RunError, StartError};
pub use http::{ApiError, ApiJson, FieldError};
pub use projector::Projector;
pub use runner::ProjectionError;
pub use signal::shutdown_signal;
pub use source::{
    EventSource, KafkaSources, SourceFactory, SourceParts, SourceStatus, StatusProbe,
};
pub use table::{JsonTable, Versioned};
