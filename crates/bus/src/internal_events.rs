//! Telemetry as types: one struct per notable runtime event. `emit()` writes
//! the log line and updates the metrics together, so they never disagree.

use std::time::Duration;

use prometheus_client::metrics::{counter::Counter, histogram::Histogram};
use tributary_telemetry::{
    InternalEvent, Metrics,
    labels::{
        FailureLabels, GroupLabels, PartitionLabels, ProduceFailureLabels, RebalanceLabels,
        TopicGroupLabels, TopicLabels,
    },
};

/// A handler finished an event (success, or routed to retry/DLQ).
pub(crate) struct EventHandled<'a> {
    pub series: &'a HandledSeries,
    pub duration: Duration,
}

/// The consumed counter and handler-duration histogram of one (topic,
/// group), looked up once per partition worker: finding a series in its
/// family hashes the labels under a lock, a cost paid on every event
/// otherwise.
pub(crate) struct HandledSeries {
    consumed: Counter,
    duration: Histogram,
}

impl HandledSeries {
    pub(crate) fn new(metrics: &Metrics, labels: &TopicGroupLabels) -> Self {
        HandledSeries {
            consumed: metrics.events_consumed().get_or_create(labels).clone(),
            duration: metrics.handler_duration().get_or_create(labels).clone(),
        }
    }
}

impl InternalEvent for EventHandled<'_> {
    fn emit(self, _metrics: &Metrics) {
        self.series.consumed.inc();
        self.series.duration.observe(self.duration.as_secs_f64());
    }
}

/// Decoding or handling an event failed.
pub(crate) struct EventFailed<'a> {
    pub labels: &'a TopicGroupLabels,
    pub partition: i32,
    pub offset: i64,
    pub attempt: u32,
    pub reason: &'a str,
    pub error: &'a str,
}

impl InternalEvent for EventFailed<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::warn!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            partition = self.partition,
            offset = self.offset,
            attempt = self.attempt,
            reason = self.reason,
            error = self.error,
            "event handling failed"
        );
        count_failure(metrics, self.labels, self.reason);
    }
}

/// `tributary_events_failed_total`: every failed decode or handler call.
fn count_failure(metrics: &Metrics, labels: &TopicGroupLabels, reason: &str) {
    metrics
        .events_failed()
        .get_or_create(&FailureLabels {
            topic: labels.topic.clone(),
            group: labels.group.clone(),
            reason: reason.to_owned(),
        })
        .inc();
}

/// A handler asked for a retry and is called again in place after `wait`.
/// Counted as a failure too, like every failed handler call.
pub(crate) struct EventRetriedInPlace<'a> {
    pub labels: &'a TopicGroupLabels,
    pub offset: i64,
    pub repeat: u32,
    pub wait: Duration,
    pub reason: &'a str,
    pub error: &'a str,
}

impl InternalEvent for EventRetriedInPlace<'_> {
    fn emit(self, metrics: &Metrics) {
        // Debug, not warn: a repeat in place is the normal end of an
        // ordering race; a failure that outlasts the repeats is logged
        // (as `EventFailed`) when it goes to the retry topic.
        tracing::debug!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            offset = self.offset,
            repeat = self.repeat,
            wait_ms = self.wait.as_millis() as u64,
            reason = self.reason,
            error = self.error,
            "retryable failure, repeating in place"
        );
        count_failure(metrics, self.labels, self.reason);
        metrics
            .events_retried_in_place()
            .get_or_create(self.labels)
            .inc();
    }
}

/// A failed event was written to its retry topic.
pub(crate) struct EventRetried<'a> {
    pub labels: &'a TopicGroupLabels,
    pub retry_topic: &'a str,
    pub next_attempt: u32,
    pub delay: Duration,
}

impl InternalEvent for EventRetried<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::info!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            retry_topic = self.retry_topic,
            next_attempt = self.next_attempt,
            delay_ms = self.delay.as_millis() as u64,
            "event scheduled for retry"
        );
        metrics.events_retried().get_or_create(self.labels).inc();
    }
}

/// A failed event was written to its dead-letter topic.
pub(crate) struct EventDeadLettered<'a> {
    pub labels: &'a TopicGroupLabels,
    pub dlq_topic: &'a str,
    pub reason: &'a str,
    pub attempt: u32,
}

impl InternalEvent for EventDeadLettered<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::warn!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            dlq_topic = self.dlq_topic,
            reason = self.reason,
            attempt = self.attempt,
            "event sent to the dead-letter topic"
        );
        metrics
            .dlq_events()
            .get_or_create(&FailureLabels {
                topic: self.labels.topic.clone(),
                group: self.labels.group.clone(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// The group assigned or revoked partitions of this member.
pub(crate) struct Rebalanced<'a> {
    pub group: &'a str,
    pub kind: &'static str,
    pub partitions: &'a [(String, i32)],
    pub assigned_now: usize,
}

impl InternalEvent for Rebalanced<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::info!(
            group = self.group,
            kind = self.kind,
            partitions = ?self.partitions,
            assigned_now = self.assigned_now,
            "consumer group rebalance"
        );
        metrics
            .consumer_rebalances()
            .get_or_create(&RebalanceLabels {
                group: self.group.to_owned(),
                kind: self.kind.to_owned(),
            })
            .inc();
        metrics
            .consumer_assigned_partitions()
            .get_or_create(&GroupLabels {
                group: self.group.to_owned(),
            })
            .set(i64::try_from(self.assigned_now).unwrap_or(i64::MAX));
        if self.kind == "revoke" {
            for (topic, partition) in self.partitions {
                metrics.consumer_lag().remove(&PartitionLabels {
                    topic: topic.clone(),
                    partition: *partition,
                    group: self.group.to_owned(),
                });
            }
        }
    }
}

/// The broker acknowledged a produced event.
pub(crate) struct EventProduced<'a> {
    pub labels: &'a TopicLabels,
    pub duration: Duration,
}

impl InternalEvent for EventProduced<'_> {
    fn emit(self, metrics: &Metrics) {
        metrics.events_produced().get_or_create(self.labels).inc();
        metrics
            .produce_duration()
            .get_or_create(self.labels)
            .observe(self.duration.as_secs_f64());
    }
}

/// A send failed for good.
pub(crate) struct ProduceFailed<'a> {
    pub topic: &'a str,
    pub reason: &'static str,
    pub error: &'a dyn std::error::Error,
}

impl InternalEvent for ProduceFailed<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::warn!(topic = self.topic, reason = self.reason, error = %self.error, "send failed");
        metrics
            .produce_errors()
            .get_or_create(&ProduceFailureLabels {
                topic: self.topic.to_owned(),
                reason: self.reason.to_owned(),
            })
            .inc();
    }
}

/// A send found librdkafka's local queue full and is waiting for room.
pub(crate) struct ProducerQueueFull<'a> {
    pub labels: &'a TopicLabels,
}

impl InternalEvent for ProducerQueueFull<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::debug!(topic = %self.labels.topic, "producer queue full, waiting");
        metrics
            .producer_queue_full()
            .get_or_create(self.labels)
            .inc();
    }
}
