//! Analytics service: event-time tumbling windows with a watermark over every
//! topic.
//!
//! The service consumes every contract topic in its own group
//! (`tributary.analytics`) and keeps, per window of event time (one minute
//! by default): orders placed, confirmed and cancelled, revenue (sum of the
//! confirmed totals), cancellations per reason, saga duration percentiles
//! (terminal event time minus placement time, from a mergeable sketch with a
//! 1 % relative error bound, see [`domain::DurationSketch`]) and events per
//! topic.
//!
//! **Watermark.** Each source partition's watermark is its newest event time
//! minus `allowed_lateness`; the global watermark is the minimum over the
//! partitions that delivered data within `idle_partition_timeout`, never
//! goes backwards, and is stored in the view (table `watermarks`). Windows
//! ending at or before it are **final**; an event arriving for a final
//! window is counted in that window's `late_events` and applied nowhere
//! else. The exact rules and the idle-partition caveat are documented in
//! [`domain::watermark`].
//!
//! **State.** Everything lives in the view store and changes only through
//! the projector's effects, atomically with the processed-event id, so a
//! redelivered event changes nothing. Window rows are sharded per source
//! partition (see [`views`]) so that partitions never contend for a row;
//! `Expect::Version` on every row settles the rare overlap of two replicas
//! during a rebalance.
//!
//! **Outputs.** `GET /analytics/windows?from=&to=` and
//! `GET /analytics/summary` ([`api`]), and Prometheus gauges for the newest
//! final window and the watermark lag ([`metrics`]).

pub mod api;
mod config;
pub mod domain;
pub mod metrics;
mod projector;
pub mod query;
pub mod views;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use futures::FutureExt as _;
use tributary_contracts::TOPICS;
use tributary_service::{ServiceContext, ServiceDefinition, SystemClock};

pub use config::{AnalyticsConfig, ConfigError, defaults};
pub use projector::{AnalyticsProjector, ProjectError};

/// The service's name: view store `analytics`, consumer group
/// `tributary.analytics`.
pub const SERVICE: &str = "analytics";

/// The analytics service for the runtime.
///
/// An invalid configuration yields a definition whose only task fails at
/// once with the offending key, so the process stops with a clear error.
pub fn definition(config: AnalyticsConfig) -> ServiceDefinition {
    let base = ServiceDefinition::new(SERVICE).with_tables(views::TABLES);
    let rules = match config.rules() {
        Ok(rules) => rules,
        Err(error) => {
            return base.with_task(move |_, _| async move { Err(error.into()) }.boxed());
        }
    };
    let projector = Arc::new(AnalyticsProjector::new(rules, Arc::new(SystemClock)));
    let refresh = config.metrics_refresh;
    base.consuming(TOPICS.iter().map(|topic| topic.name), projector)
        .with_routes(move |ctx: ServiceContext| api::router(ctx, rules))
        .with_task(move |ctx, cancel| metrics::refresh_gauges(ctx, rules, refresh, cancel).boxed())
}
