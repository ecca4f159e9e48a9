//! Every metric name Tributary exports, in one place.
//!
//! Prometheus naming: `<namespace>_<name>_<unit>[_total]`. Counters are
//! registered without the `_total` suffix because `prometheus-client` appends
//! it when encoding; the constants here hold the registered name and the doc
//! comment the exported one.

/// Prefix of every metric.
pub const NAMESPACE: &str = "tributary";

/// `tributary_events_consumed_total{topic,group}`: events a handler finished
/// (successfully or by routing them to retry/DLQ).
pub const EVENTS_CONSUMED: &str = "events_consumed";
/// `tributary_events_produced_total{topic}`: events whose delivery report
/// said they are durably written.
pub const EVENTS_PRODUCED: &str = "events_produced";
/// `tributary_events_failed_total{topic,group,reason}`: consumed events a
/// handler or decoder failed on (each failure counts, retries included).
pub const EVENTS_FAILED: &str = "events_failed";
/// `tributary_events_retried_total{topic,group}`: events sent to a retry topic.
pub const EVENTS_RETRIED: &str = "events_retried";
/// `tributary_events_retried_in_place_total{topic,group}`: handler calls
/// repeated in place, before any retry topic (each repeat counts).
pub const EVENTS_RETRIED_IN_PLACE: &str = "events_retried_in_place";
/// `tributary_dlq_events_total{topic,group,reason}`: events sent to a DLQ.
pub const DLQ_EVENTS: &str = "dlq_events";
/// `tributary_handler_duration_seconds{topic,group}`: handler latency.
pub const HANDLER_DURATION: &str = "handler_duration_seconds";
/// `tributary_consumer_lag{topic,partition,group}`: messages between the
/// consumer's position and the partition's high watermark.
pub const CONSUMER_LAG: &str = "consumer_lag";
/// `tributary_consumer_assigned_partitions{group}`: partitions this process owns.
pub const CONSUMER_ASSIGNED_PARTITIONS: &str = "consumer_assigned_partitions";
/// `tributary_consumer_rebalances_total{group,kind}`: assign/revoke callbacks.
pub const CONSUMER_REBALANCES: &str = "consumer_rebalances";
/// `tributary_produce_errors_total{topic,reason}`: sends that failed for good.
pub const PRODUCE_ERRORS: &str = "produce_errors";
/// `tributary_producer_queue_full_total{topic}`: times a send waited because
/// librdkafka's local queue was full (backpressure, not an error).
pub const PRODUCER_QUEUE_FULL: &str = "producer_queue_full";
/// `tributary_produce_duration_seconds{topic}`: enqueue to delivery report.
pub const PRODUCE_DURATION: &str = "produce_duration_seconds";
/// `tributary_saga_outcomes_total{outcome}`: finished order sagas.
pub const SAGA_OUTCOMES: &str = "saga_outcomes";
/// `tributary_saga_duration_seconds{outcome}`: order placed to outcome.
pub const SAGA_DURATION: &str = "saga_duration_seconds";
/// `tributary_http_requests_total{method,route,status}`: by matched route.
pub const HTTP_REQUESTS: &str = "http_requests";
/// `tributary_http_request_duration_seconds{method,route}`: by matched route.
pub const HTTP_REQUEST_DURATION: &str = "http_request_duration_seconds";
/// `tributary_events_duplicate_total{topic,group}`: consumed events already
/// recorded as processed (redeliveries), skipped without effect.
pub const EVENTS_DUPLICATE: &str = "events_duplicate";
/// `tributary_view_conflicts_total{topic,group}`: optimistic-concurrency
/// conflicts that made a projection run again.
pub const VIEW_CONFLICTS: &str = "view_conflicts";
/// `tributary_outbox_backlog{service}`: outbox messages read but not yet
/// acknowledged by the relay in its last round.
pub const OUTBOX_BACKLOG: &str = "outbox_backlog";
/// `tributary_analytics_window_orders{service,status}`: orders placed,
/// confirmed and cancelled in the analytics service's newest final window.
pub const ANALYTICS_WINDOW_ORDERS: &str = "analytics_window_orders";
/// `tributary_analytics_window_revenue_cents{service}`: revenue (confirmed
/// totals) of the newest final window.
pub const ANALYTICS_WINDOW_REVENUE: &str = "analytics_window_revenue_cents";
/// `tributary_analytics_window_saga_duration_p99_seconds{service}`: p99 saga
/// duration of the newest final window (1 % relative error).
pub const ANALYTICS_WINDOW_SAGA_DURATION_P99: &str = "analytics_window_saga_duration_p99_seconds";
/// `tributary_analytics_watermark_lag_seconds{service}`: now minus the
/// analytics event-time watermark.
pub const ANALYTICS_WATERMARK_LAG: &str = "analytics_watermark_lag_seconds";
/// `tributary_analytics_late_events{service}`: events counted as late (after
/// their window was final) since the view began; a gauge because the count
/// lives in the view, shared by every replica.
pub const ANALYTICS_LATE_EVENTS: &str = "analytics_late_events";
