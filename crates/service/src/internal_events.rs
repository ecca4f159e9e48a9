//! Telemetry as types: each notable runtime event logs and counts in one
//! place, with metric names from `tributary-telemetry` only.

use std::time::Duration;

use tributary_telemetry::{
    InternalEvent, Metrics,
    labels::{ServiceLabels, TopicGroupLabels},
};
use uuid::Uuid;

use crate::http::problem::ErrorChain;

/// A consumed event was already processed: a redelivery, skipped.
pub(crate) struct DuplicateSkipped<'a> {
    pub labels: &'a TopicGroupLabels,
    pub event_id: Uuid,
}

impl InternalEvent for DuplicateSkipped<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            event_id = %self.event_id,
            "event already processed; skipped"
        );
        metrics.events_duplicate().get_or_create(self.labels).inc();
    }
}

/// Another writer changed a row the projection read; it runs again.
pub(crate) struct ProjectionConflict<'a> {
    pub labels: &'a TopicGroupLabels,
    pub event_id: Uuid,
    pub table: &'static str,
    pub attempt: u32,
}

impl InternalEvent for ProjectionConflict<'_> {
    fn emit(self, metrics: &Metrics) {
        tracing::debug!(
            topic = %self.labels.topic,
            group = %self.labels.group,
            event_id = %self.event_id,
            table = self.table,
            attempt = self.attempt,
            "optimistic-concurrency conflict; projecting again"
        );
        metrics.view_conflicts().get_or_create(self.labels).inc();
    }
}

/// The relay could not read or acknowledge the outbox, or publish from it;
/// it pauses and tries again. (Failed sends are also counted by the bus.)
pub(crate) struct OutboxRelayFailed<'a> {
    pub service: &'a str,
    pub stage: &'static str,
    pub error: &'a (dyn std::error::Error + 'static),
    pub pause: Duration,
}

impl InternalEvent for OutboxRelayFailed<'_> {
    fn emit(self, _metrics: &Metrics) {
        tracing::warn!(
            service = self.service,
            stage = self.stage,
            error = %ErrorChain(self.error),
            pause = ?self.pause,
            "outbox relay failed; retrying"
        );
    }
}

/// How many outbox messages the relay found pending in its last read.
pub(crate) struct OutboxBacklog<'a> {
    pub labels: &'a ServiceLabels,
    pub pending: usize,
}

impl InternalEvent for OutboxBacklog<'_> {
    fn emit(self, metrics: &Metrics) {
        let pending = i64::try_from(self.pending).unwrap_or(i64::MAX);
        metrics
            .outbox_backlog()
            .get_or_create(self.labels)
            .set(pending);
    }
}
