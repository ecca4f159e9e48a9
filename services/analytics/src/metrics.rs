//! Prometheus gauges of the analytics view, refreshed from the store.
//!
//! The aggregates live in the shared view store, not in this process, so
//! the gauges are set by a background task that re-reads the view every
//! `metrics_refresh`: every replica exports the same numbers, whichever
//! partitions it consumes. Families and names come from
//! `tributary-telemetry` (`tributary_analytics_*`).

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tributary_service::{BoxError, ServiceContext};
use tributary_telemetry::{
    Metrics,
    labels::{OrderStatusLabels, ServiceLabels},
};
use tributary_views::ViewError;

use crate::SERVICE;
use crate::domain::Rules;
use crate::query::{AnalyticsQueries, QueryError};

/// What the gauges show, computed from the view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GaugeValues {
    pub orders_placed: u64,
    pub orders_confirmed: u64,
    pub orders_cancelled: u64,
    pub revenue_cents: i64,
    /// p99 saga duration of the newest final window, seconds.
    pub saga_duration_p99_seconds: Option<f64>,
    /// Now minus the watermark, seconds.
    pub watermark_lag_seconds: Option<f64>,
    pub late_events: u64,
}

/// Reads the values the gauges show at `now_ms`.
pub async fn read_gauge_values(
    queries: AnalyticsQueries<'_>,
    now_ms: i64,
) -> Result<GaugeValues, QueryError> {
    let watermark = queries.watermark(now_ms).await?.watermark_ms;
    let totals = queries.totals().await?;
    let mut values = GaugeValues {
        watermark_lag_seconds: watermark.map(|w| now_ms.saturating_sub(w) as f64 / 1000.0),
        late_events: totals.aggregates.late_events,
        ..GaugeValues::default()
    };
    if let Some(window) = queries.latest_final_window(watermark).await? {
        let a = &window.aggregates;
        values.orders_placed = a.orders_placed;
        values.orders_confirmed = a.orders_confirmed;
        values.orders_cancelled = a.orders_cancelled;
        values.revenue_cents = a.revenue_cents;
        values.saga_duration_p99_seconds = a.saga_duration.quantile(0.99).map(|ms| ms / 1000.0);
    }
    Ok(values)
}

/// Sets the gauges to `values`. Absent values (no watermark yet, no saga in
/// the window) are shown as 0 for counts and left untouched otherwise.
pub fn publish(metrics: &Metrics, values: &GaugeValues) {
    let service = ServiceLabels {
        service: SERVICE.to_owned(),
    };
    for (status, count) in [
        ("placed", values.orders_placed),
        ("confirmed", values.orders_confirmed),
        ("cancelled", values.orders_cancelled),
    ] {
        metrics
            .analytics_window_orders()
            .get_or_create(&OrderStatusLabels {
                service: SERVICE.to_owned(),
                status: status.to_owned(),
            })
            .set(saturating_i64(count));
    }
    metrics
        .analytics_window_revenue()
        .get_or_create(&service)
        .set(values.revenue_cents);
    metrics
        .analytics_window_saga_p99()
        .get_or_create(&service)
        .set(values.saga_duration_p99_seconds.unwrap_or(0.0));
    if let Some(lag) = values.watermark_lag_seconds {
        metrics
            .analytics_watermark_lag()
            .get_or_create(&service)
            .set(lag);
    }
    metrics
        .analytics_late_events()
        .get_or_create(&service)
        .set(saturating_i64(values.late_events));
}

/// The background task: refreshes the gauges every `every` until cancelled.
/// A failed read is logged and retried at the next tick; metrics never stop
/// the service.
pub async fn refresh_gauges(
    ctx: ServiceContext,
    rules: Rules,
    every: Duration,
    cancel: CancellationToken,
) -> Result<(), BoxError> {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let queries = AnalyticsQueries {
            store: ctx.store(),
            rules,
        };
        match read_gauge_values(queries, ctx.now_ms()).await {
            Ok(values) => publish(ctx.metrics(), &values),
            Err(QueryError::View(error)) => log_failure(&error),
            Err(error) => tracing::warn!(%error, "cannot refresh the analytics gauges"),
        }
    }
}

fn log_failure(error: &ViewError) {
    tracing::warn!(
        reason = error.reason(),
        %error,
        "cannot refresh the analytics gauges; retrying at the next tick"
    );
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
