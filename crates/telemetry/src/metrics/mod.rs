//! The Prometheus registry and every metric family Tributary exports.

pub mod labels;
pub mod names;
mod router;

use std::sync::{Arc, atomic::AtomicU64};

use prometheus_client::{
    encoding::text::encode,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use labels::{
    FailureLabels, GroupLabels, HttpLabels, HttpRouteLabels, OrderStatusLabels, PartitionLabels,
    ProduceFailureLabels, RebalanceLabels, SagaLabels, ServiceLabels, TopicGroupLabels,
    TopicLabels,
};
pub use router::{OPENMETRICS_CONTENT_TYPE, metrics_router};

/// Handler latency buckets (seconds): sub-millisecond no-op handlers up to
/// handlers that call slow external services.
pub const HANDLER_DURATION_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Produce latency buckets (seconds): enqueue to delivery report with `acks=all`.
pub const PRODUCE_DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Saga duration buckets (seconds): a healthy saga finishes in well under a
/// second; the timeout path lands in the top buckets.
pub const SAGA_DURATION_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];
/// HTTP request latency buckets (seconds).
pub const HTTP_DURATION_BUCKETS: [f64; 11] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;
/// A gauge holding a float (seconds).
pub type FloatGauge = Gauge<f64, AtomicU64>;

fn handler_histogram() -> Histogram {
    Histogram::new(HANDLER_DURATION_BUCKETS)
}
fn produce_histogram() -> Histogram {
    Histogram::new(PRODUCE_DURATION_BUCKETS)
}
fn saga_histogram() -> Histogram {
    Histogram::new(SAGA_DURATION_BUCKETS)
}
fn http_histogram() -> Histogram {
    Histogram::new(HTTP_DURATION_BUCKETS)
}

/// Every metric family of one process, registered in one registry.
///
/// Cheap to clone (one `Arc`); share one instance between the producer, the
/// consumer groups and the HTTP server of a process so `/metrics` shows all.
#[derive(Clone, Debug)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: Registry,
    events_consumed: Family<TopicGroupLabels, Counter>,
    events_produced: Family<TopicLabels, Counter>,
    events_failed: Family<FailureLabels, Counter>,
    events_retried: Family<TopicGroupLabels, Counter>,
    events_retried_in_place: Family<TopicGroupLabels, Counter>,
    dlq_events: Family<FailureLabels, Counter>,
    handler_duration: HistogramFamily<TopicGroupLabels>,
    consumer_lag: Family<PartitionLabels, Gauge>,
    consumer_assigned_partitions: Family<GroupLabels, Gauge>,
    consumer_rebalances: Family<RebalanceLabels, Counter>,
    produce_errors: Family<ProduceFailureLabels, Counter>,
    producer_queue_full: Family<TopicLabels, Counter>,
    produce_duration: HistogramFamily<TopicLabels>,
    saga_outcomes: Family<SagaLabels, Counter>,
    saga_duration: HistogramFamily<SagaLabels>,
    http_requests: Family<HttpLabels, Counter>,
    http_request_duration: HistogramFamily<HttpRouteLabels>,
    events_duplicate: Family<TopicGroupLabels, Counter>,
    view_conflicts: Family<TopicGroupLabels, Counter>,
    outbox_backlog: Family<ServiceLabels, Gauge>,
    analytics_window_orders: Family<OrderStatusLabels, Gauge>,
    analytics_window_revenue: Family<ServiceLabels, Gauge>,
    analytics_window_saga_p99: Family<ServiceLabels, FloatGauge>,
    analytics_watermark_lag: Family<ServiceLabels, FloatGauge>,
    analytics_late_events: Family<ServiceLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every family registered under `tributary_`.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix(names::NAMESPACE);
        let inner = Inner {
            events_consumed: Family::default(),
            events_produced: Family::default(),
            events_failed: Family::default(),
            events_retried: Family::default(),
            events_retried_in_place: Family::default(),
            dlq_events: Family::default(),
            handler_duration: Family::new_with_constructor(handler_histogram),
            consumer_lag: Family::default(),
            consumer_assigned_partitions: Family::default(),
            consumer_rebalances: Family::default(),
            produce_errors: Family::default(),
            producer_queue_full: Family::default(),
            produce_duration: Family::new_with_constructor(produce_histogram),
            saga_outcomes: Family::default(),
            saga_duration: Family::new_with_constructor(saga_histogram),
            http_requests: Family::default(),
            http_request_duration: Family::new_with_constructor(http_histogram),
            events_duplicate: Family::default(),
            view_conflicts: Family::default(),
            outbox_backlog: Family::default(),
            analytics_window_orders: Family::default(),
            analytics_window_revenue: Family::default(),
            analytics_window_saga_p99: Family::default(),
            analytics_watermark_lag: Family::default(),
            analytics_late_events: Family::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            names::EVENTS_CONSUMED,
            "Events a consumer group finished handling",
            inner.events_consumed.clone(),
        );
        r.register(
            names::EVENTS_PRODUCED,
            "Events acknowledged by the broker",
            inner.events_produced.clone(),
        );
        r.register(
            names::EVENTS_FAILED,
            "Handling failures, by reason code",
            inner.events_failed.clone(),
        );
        r.register(
            names::EVENTS_RETRIED,
            "Events sent to a retry topic",
            inner.events_retried.clone(),
        );
        r.register(
            names::EVENTS_RETRIED_IN_PLACE,
            "Handler calls repeated in place before any retry topic",
            inner.events_retried_in_place.clone(),
        );
        r.register(
            names::DLQ_EVENTS,
            "Events sent to a dead-letter topic, by reason code",
            inner.dlq_events.clone(),
        );
        r.register(
            names::HANDLER_DURATION,
            "Time spent in an event handler",
            inner.handler_duration.clone(),
        );
        r.register(
            names::CONSUMER_LAG,
            "Messages between the group's position and the high watermark",
            inner.consumer_lag.clone(),
        );
        r.register(
            names::CONSUMER_ASSIGNED_PARTITIONS,
            "Partitions currently assigned to this process",
            inner.consumer_assigned_partitions.clone(),
        );
        r.register(
            names::CONSUMER_REBALANCES,
            "Consumer group rebalance callbacks",
            inner.consumer_rebalances.clone(),
        );
        r.register(
            names::PRODUCE_ERRORS,
            "Sends that failed for good, by reason code",
            inner.produce_errors.clone(),
        );
        r.register(
            names::PRODUCER_QUEUE_FULL,
            "Times a send waited on a full local producer queue",
            inner.producer_queue_full.clone(),
        );
        r.register(
            names::PRODUCE_DURATION,
            "Time from enqueue to delivery report",
            inner.produce_duration.clone(),
        );
        r.register(
            names::SAGA_OUTCOMES,
            "Finished order sagas, by outcome",
            inner.saga_outcomes.clone(),
        );
        r.register(
            names::SAGA_DURATION,
            "Time from order placed to saga outcome",
            inner.saga_duration.clone(),
        );
        r.register(
            names::HTTP_REQUESTS,
            "HTTP requests, by matched route and status",
            inner.http_requests.clone(),
        );
        r.register(
            names::HTTP_REQUEST_DURATION,
            "HTTP request latency, by matched route",
            inner.http_request_duration.clone(),
        );
        r.register(
            names::EVENTS_DUPLICATE,
            "Redelivered events skipped because they were already processed",
            inner.events_duplicate.clone(),
        );
        r.register(
            names::VIEW_CONFLICTS,
            "Optimistic-concurrency conflicts that re-ran a projection",
            inner.view_conflicts.clone(),
        );
        r.register(
            names::OUTBOX_BACKLOG,
            "Outbox messages pending at the relay's last round",
            inner.outbox_backlog.clone(),
        );
        r.register(
            names::ANALYTICS_WINDOW_ORDERS,
            "Orders in the newest final analytics window, by status",
            inner.analytics_window_orders.clone(),
        );
        r.register(
            names::ANALYTICS_WINDOW_REVENUE,
            "Revenue in cents of the newest final analytics window",
            inner.analytics_window_revenue.clone(),
        );
        r.register(
            names::ANALYTICS_WINDOW_SAGA_DURATION_P99,
            "p99 saga duration of the newest final analytics window",
            inner.analytics_window_saga_p99.clone(),
        );
        r.register(
            names::ANALYTICS_WATERMARK_LAG,
            "Now minus the analytics event-time watermark",
            inner.analytics_watermark_lag.clone(),
        );
        r.register(
            names::ANALYTICS_LATE_EVENTS,
            "Events that arrived after their analytics window was final",
            inner.analytics_late_events.clone(),
        );
        Metrics {
            inner: Arc::new(Inner { registry, ..inner }),
        }
    }

    /// The registry, for encoders other than [`Metrics::render`].
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The OpenMetrics text exposition of every family.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        // Encoding into a String cannot fail: fmt::Write for String is infallible.
        let _ = encode(&mut out, &self.inner.registry);
        out
    }

    pub fn events_consumed(&self) -> &Family<TopicGroupLabels, Counter> {
        &self.inner.events_consumed
    }
    pub fn events_produced(&self) -> &Family<TopicLabels, Counter> {
        &self.inner.events_produced
    }
    pub fn events_failed(&self) -> &Family<FailureLabels, Counter> {
        &self.inner.events_failed
    }
    pub fn events_retried(&self) -> &Family<TopicGroupLabels, Counter> {
        &self.inner.events_retried
    }
    pub fn events_retried_in_place(&self) -> &Family<TopicGroupLabels, Counter> {
        &self.inner.events_retried_in_place
    }
    pub fn dlq_events(&self) -> &Family<FailureLabels, Counter> {
        &self.inner.dlq_events
    }
    pub fn handler_duration(&self) -> &Family<TopicGroupLabels, Histogram, fn() -> Histogram> {
        &self.inner.handler_duration
    }
    pub fn consumer_lag(&self) -> &Family<PartitionLabels, Gauge> {
        &self.inner.consumer_lag
    }
    pub fn consumer_assigned_partitions(&self) -> &Family<GroupLabels, Gauge> {
        &self.inner.consumer_assigned_partitions
    }
    pub fn consumer_rebalances(&self) -> &Family<RebalanceLabels, Counter> {
        &self.inner.consumer_rebalances
    }
    pub fn produce_errors(&self) -> &Family<ProduceFailureLabels, Counter> {
        &self.inner.produce_errors
    }
    pub fn producer_queue_full(&self) -> &Family<TopicLabels, Counter> {
        &self.inner.producer_queue_full
    }
    pub fn produce_duration(&self) -> &Family<TopicLabels, Histogram, fn() -> Histogram> {
        &self.inner.produce_duration
    }
    pub fn saga_outcomes(&self) -> &Family<SagaLabels, Counter> {
        &self.inner.saga_outcomes
    }
    pub fn saga_duration(&self) -> &Family<SagaLabels, Histogram, fn() -> Histogram> {
        &self.inner.saga_duration
    }
    pub fn http_requests(&self) -> &Family<HttpLabels, Counter> {
        &self.inner.http_requests
    }
    pub fn http_request_duration(&self) -> &Family<HttpRouteLabels, Histogram, fn() -> Histogram> {
        &self.inner.http_request_duration
    }
    pub fn events_duplicate(&self) -> &Family<TopicGroupLabels, Counter> {
        &self.inner.events_duplicate
    }
    pub fn view_conflicts(&self) -> &Family<TopicGroupLabels, Counter> {
        &self.inner.view_conflicts
    }
    pub fn outbox_backlog(&self) -> &Family<ServiceLabels, Gauge> {
        &self.inner.outbox_backlog
    }
    pub fn analytics_window_orders(&self) -> &Family<OrderStatusLabels, Gauge> {
        &self.inner.analytics_window_orders
    }
    pub fn analytics_window_revenue(&self) -> &Family<ServiceLabels, Gauge> {
        &self.inner.analytics_window_revenue
    }
    pub fn analytics_window_saga_p99(&self) -> &Family<ServiceLabels, FloatGauge> {
        &self.inner.analytics_window_saga_p99
    }
    pub fn analytics_watermark_lag(&self) -> &Family<ServiceLabels, FloatGauge> {
        &self.inner.analytics_watermark_lag
    }
    pub fn analytics_late_events(&self) -> &Family<ServiceLabels, Gauge> {
        &self.inner.analytics_late_events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_names_with_namespace_unit_and_total() {
        let metrics = Metrics::new();
        let topic_group = TopicGroupLabels {
            topic: "orders".into(),
            group: "tributary.x".into(),
        };
        metrics.events_consumed().get_or_create(&topic_group).inc();
        metrics
            .handler_duration()
            .get_or_create(&topic_group)
            .observe(0.003);
        metrics
            .consumer_lag()
            .get_or_create(&PartitionLabels {
                topic: "orders".into(),
                partition: 3,
                group: "tributary.x".into(),
            })
            .set(42);
        let text = metrics.render();
        assert!(
            text.contains(
                r#"tributary_events_consumed_total{topic="orders",group="tributary.x"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains("tributary_handler_duration_seconds_bucket{le=\"0.005\""),
            "{text}"
        );
        assert!(
            text.contains(
                r#"tributary_consumer_lag{topic="orders",partition="3",group="tributary.x"} 42"#
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn clones_share_one_registry() {
        let a = Metrics::new();
        let b = a.clone();
        b.events_produced()
            .get_or_create(&TopicLabels {
                topic: "users".into(),
            })
            .inc();
        assert!(
            a.render()
                .contains(r#"tributary_events_produced_total{topic="users"} 1"#)
        );
    }
}
