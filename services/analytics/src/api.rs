//! The analytics query API.
//!
//! - `GET /analytics/windows?from=&to=`: every window overlapping `[from,
//!   to)` (RFC 3339 or unix milliseconds; default the last 60 minutes up to
//!   now), oldest first, empty windows included, each with `final`.
//! - `GET /analytics/summary`: all-time totals, the watermark, the newest
//!   final window and every source partition's watermark state.
//!
//! The gateway exposes both as `/v1/analytics/*`.

use std::collections::BTreeMap;

use axum::{
    Json, Router,
    extract::{Query, State, rejection::QueryRejection},
    routing::get,
};
use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};
use tributary_contracts::{TOPICS, events::CancellationReason};
use tributary_service::{ApiError, ServiceContext};

use crate::domain::{Aggregates, DurationSketch, MAX_EVENT_TIME_MS, Rules};
use crate::query::{AnalyticsQueries, QueryError, Totals, WindowSnapshot};

/// Range of `GET /analytics/windows` when the caller gives none.
pub const DEFAULT_RANGE_MS: i64 = 60 * 60_000;

#[derive(Clone, Debug)]
struct ApiState {
    ctx: ServiceContext,
    rules: Rules,
}

/// The analytics routes.
pub fn router(ctx: ServiceContext, rules: Rules) -> Router {
    Router::new()
        .route("/analytics/windows", get(windows))
        .route("/analytics/summary", get(summary))
        .with_state(ApiState { ctx, rules })
}

/// Query string of `GET /analytics/windows`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RangeParams {
    from: Option<String>,
    to: Option<String>,
}

/// Answer of `GET /analytics/windows`.
#[derive(Debug, Serialize)]
struct WindowsJson {
    window_ms: i64,
    from: Option<String>,
    to: Option<String>,
    from_ms: i64,
    to_ms: i64,
    watermark: Option<String>,
    watermark_ms: Option<i64>,
    windows: Vec<WindowJson>,
}

/// One window.
#[derive(Debug, Serialize)]
struct WindowJson {
    start: Option<String>,
    end: Option<String>,
    start_ms: i64,
    end_ms: i64,
    /// The window's end is at or before the watermark: its counts are
    /// complete and will not change (only `late_events` may still grow).
    #[serde(rename = "final")]
    is_final: bool,
    #[serde(flatten)]
    counts: CountsJson,
}

/// The aggregates of a window or of all time.
#[derive(Debug, Serialize)]
struct CountsJson {
    orders_placed: u64,
    orders_confirmed: u64,
    orders_cancelled: u64,
    revenue_cents: i64,
    /// Every `CancellationReason` symbol, zero when absent.
    cancellation_reasons: BTreeMap<String, u64>,
    saga_duration_ms: DurationJson,
    /// Every contract topic, zero when absent.
    events_by_topic: BTreeMap<String, u64>,
    late_events: u64,
}

/// Saga duration statistics, in milliseconds. Percentiles are within 1 %
/// (plus rounding to whole milliseconds) of the exact nearest-rank values;
/// `min` and `max` are exact. `null` without any saga.
#[derive(Debug, Serialize)]
struct DurationJson {
    count: u64,
    p50: Option<u64>,
    p90: Option<u64>,
    p99: Option<u64>,
    min: Option<u64>,
    max: Option<u64>,
}

/// Answer of `GET /analytics/summary`.
#[derive(Debug, Serialize)]
struct SummaryJson {
    window_ms: i64,
    allowed_lateness_ms: i64,
    idle_partition_timeout_ms: i64,
    watermark: Option<String>,
    watermark_ms: Option<i64>,
    /// Now minus the watermark.
    watermark_lag_ms: Option<i64>,
    totals: CountsJson,
    /// Events whose event time could not be windowed.
    refused_events: u64,
    latest_final_window: Option<WindowJson>,
    partitions: Vec<PartitionJson>,
}

/// One source partition's watermark state.
#[derive(Debug, Serialize)]
struct PartitionJson {
    topic: String,
    partition: i32,
    max_event_time: Option<String>,
    max_event_time_ms: i64,
    partition_watermark_ms: i64,
    last_event_at_ms: i64,
    /// Silent for longer than the idle timeout: not holding the watermark back.
    idle: bool,
}

async fn windows(
    State(state): State<ApiState>,
    params: Result<Query<RangeParams>, QueryRejection>,
) -> Result<Json<WindowsJson>, ApiError> {
    let Query(params) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let now = state.ctx.now_ms();
    let to_ms = match params.to.as_deref() {
        Some(text) => parse_instant("to", text)?,
        None => now,
    };
    let from_ms = match params.from.as_deref() {
        Some(text) => parse_instant("from", text)?,
        None => to_ms.saturating_sub(DEFAULT_RANGE_MS).max(0),
    };
    let queries = AnalyticsQueries {
        store: state.ctx.store(),
        rules: state.rules,
    };
    let watermark = queries.watermark(now).await?.watermark_ms;
    let windows = queries
        .windows(from_ms, to_ms, watermark)
        .await
        .map_err(query_error)?;
    Ok(Json(WindowsJson {
        window_ms: state.rules.window.size_ms(),
        from: rfc3339(from_ms),
        to: rfc3339(to_ms),
        from_ms,
        to_ms,
        watermark: watermark.and_then(rfc3339),
        watermark_ms: watermark,
        windows: windows.iter().map(window_json).collect(),
    }))
}

async fn summary(State(state): State<ApiState>) -> Result<Json<SummaryJson>, ApiError> {
    let now = state.ctx.now_ms();
    let rules = state.rules;
    let queries = AnalyticsQueries {
        store: state.ctx.store(),
        rules,
    };
    let status = queries.watermark(now).await?;
    let Totals {
        aggregates,
        refused_events,
    } = queries.totals().await?;
    let latest = queries
        .latest_final_window(status.watermark_ms)
        .await
        .map_err(query_error)?;
    let partitions = status
        .partitions
        .iter()
        .map(|c| PartitionJson {
            topic: c.topic.clone(),
            partition: c.partition,
            max_event_time: rfc3339(c.max_event_time_ms),
            max_event_time_ms: c.max_event_time_ms,
            partition_watermark_ms: rules.watermark.partition_watermark(c),
            last_event_at_ms: c.updated_at_ms,
            idle: rules.watermark.is_idle(c, now),
        })
        .collect();
    Ok(Json(SummaryJson {
        window_ms: rules.window.size_ms(),
        allowed_lateness_ms: rules.watermark.allowed_lateness_ms,
        idle_partition_timeout_ms: rules.watermark.idle_timeout_ms,
        watermark: status.watermark_ms.and_then(rfc3339),
        watermark_ms: status.watermark_ms,
        watermark_lag_ms: status.watermark_ms.map(|w| now.saturating_sub(w)),
        totals: counts_json(&aggregates),
        refused_events,
        latest_final_window: latest.as_ref().map(window_json),
        partitions,
    }))
}

fn query_error(error: QueryError) -> ApiError {
    match error {
        QueryError::View(e) => e.into(),
        e @ (QueryError::EmptyRange { .. } | QueryError::TooManyWindows { .. }) => {
            ApiError::bad_request(e.to_string())
        }
    }
}

/// An instant as unix milliseconds (`1732215600000`) or RFC 3339
/// (`2024-11-21T19:00:00Z`), between 1970 and 9999.
fn parse_instant(name: &str, text: &str) -> Result<i64, ApiError> {
    let ms = match text.parse::<i64>() {
        Ok(ms) => Some(ms),
        Err(_) => OffsetDateTime::parse(text, &Rfc3339)
            .ok()
            .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()),
    };
    match ms {
        Some(ms) if (0..=MAX_EVENT_TIME_MS).contains(&ms) => Ok(ms),
        _ => Err(ApiError::bad_request(format!(
            "`{name}` must be an RFC 3339 timestamp or unix milliseconds between 1970 and 9999, \
             got {text:?}"
        ))),
    }
}

/// RFC 3339 text of unix milliseconds, `None` outside what RFC 3339 can write.
fn rfc3339(ms: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
}

fn window_json(window: &WindowSnapshot) -> WindowJson {
    WindowJson {
        start: rfc3339(window.start_ms),
        end: rfc3339(window.end_ms),
        start_ms: window.start_ms,
        end_ms: window.end_ms,
        is_final: window.is_final,
        counts: counts_json(&window.aggregates),
    }
}

fn counts_json(aggregates: &Aggregates) -> CountsJson {
    let mut cancellation_reasons: BTreeMap<String, u64> = CancellationReason::ALL
        .iter()
        .map(|r| (r.as_str().to_owned(), 0))
        .collect();
    cancellation_reasons.extend(aggregates.cancellation_reasons.clone());
    let mut events_by_topic: BTreeMap<String, u64> =
        TOPICS.iter().map(|t| (t.name.to_owned(), 0)).collect();
    events_by_topic.extend(aggregates.events_by_topic.clone());
    CountsJson {
        orders_placed: aggregates.orders_placed,
        orders_confirmed: aggregates.orders_confirmed,
        orders_cancelled: aggregates.orders_cancelled,
        revenue_cents: aggregates.revenue_cents,
        cancellation_reasons,
        saga_duration_ms: duration_json(&aggregates.saga_duration),
        events_by_topic,
        late_events: aggregates.late_events,
    }
}

fn duration_json(sketch: &DurationSketch) -> DurationJson {
    // Quantiles are clamped to [min, max] of u64 values, so the cast is exact.
    let quantile = |q: f64| sketch.quantile(q).map(|v| v.round() as u64);
    DurationJson {
        count: sketch.count,
        p50: quantile(0.5),
        p90: quantile(0.9),
        p99: quantile(0.99),
        min: sketch.min_ms,
        max: sketch.max_ms,
    }
}
