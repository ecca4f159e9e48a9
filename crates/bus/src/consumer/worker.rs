//! One task per assigned partition: reads that partition's own librdkafka
//! queue, handles messages strictly in offset order, and stores an offset
//! only once its message is done (handled, or durably routed to a retry or
//! dead-letter topic). Partitions proceed in parallel; a slow or waiting
//! partition never holds up another.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use futures::StreamExt as _;
use rdkafka::{
    Message as _,
    consumer::{Consumer as _, StreamConsumer, stream_consumer::StreamPartitionQueue},
    message::{BorrowedMessage, Headers as _},
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument as _, Span, field};
use tributary_telemetry::{
    InternalEvent as _, Metrics, OpenTelemetrySpanExt as _, labels::TopicGroupLabels,
};

use super::{
    context::GroupContext,
    failure::{FailureRouter, Route},
    processor::{Failure, Incoming, Processor},
};
use crate::{
    RetryPolicy,
    headers::{MessageHeaders, names, now_ms, parse_retry_state},
    internal_events::{
        EventDeadLettered, EventFailed, EventHandled, EventRetried, EventRetriedInPlace,
        HandledSeries,
    },
};

/// What every partition worker of a group shares.
pub(crate) struct WorkerShared {
    pub group: String,
    pub processor: Arc<dyn Processor>,
    pub router: FailureRouter,
    pub policy: RetryPolicy,
    pub metrics: Metrics,
    pub counters: Counters,
}

/// Totals reported in the run summary.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub handled: AtomicU64,
    pub failed: AtomicU64,
    pub retried: AtomicU64,
    pub dead_lettered: AtomicU64,
    pub aborted_workers: AtomicU64,
}

/// How one message ended for the worker loop.
enum Step {
    /// Done with it: store its offset and take the next.
    Done,
    /// Stop requested mid-message: leave its offset unstored (it will be
    /// redelivered) and exit.
    Stopped,
}

pub(crate) struct PartitionWorker {
    pub consumer: Arc<StreamConsumer<GroupContext>>,
    pub queue: StreamPartitionQueue<GroupContext>,
    pub topic: String,
    pub partition: i32,
    pub shared: Arc<WorkerShared>,
    pub stop: CancellationToken,
}

/// What a worker works out once about its partition rather than per event.
struct PartitionRole {
    /// Whether the partition is of the group's retry topic.
    is_retry: bool,
    /// `labels.topic` is the source topic this partition's events belong to.
    labels: TopicGroupLabels,
    handled: HandledSeries,
    /// `process <source>`, the name of every event's span.
    span_name: String,
}

impl PartitionWorker {
    pub(crate) async fn run(self) {
        let (source, is_retry) = self.shared.router.topics.resolve(&self.topic);
        let labels = TopicGroupLabels {
            topic: source.to_owned(),
            group: self.shared.group.clone(),
        };
        let role = PartitionRole {
            is_retry,
            handled: HandledSeries::new(&self.shared.metrics, &labels),
            span_name: format!("process {source}"),
            labels,
        };
        let mut messages = self.queue.stream();
        tracing::debug!(topic = %self.topic, partition = self.partition, "partition worker started");
        loop {
            let next = tokio::select! {
                biased;
                _ = self.stop.cancelled() => break,
                next = messages.next() => next,
            };
            let message = match next {
                None => break,
                Some(Err(error)) => {
                    tracing::warn!(topic = %self.topic, partition = self.partition, %error, "fetch error");
                    continue;
                }
                Some(Ok(message)) => message,
            };
            match self.handle(&message, &role).await {
                Step::Done => {
                    // librdkafka stores offset + 1, the next one to read.
                    if let Err(error) =
                        self.consumer
                            .store_offset(&self.topic, self.partition, message.offset())
                    {
                        // The partition was revoked meanwhile; the new owner
                        // redelivers from the last commit (at least once).
                        tracing::debug!(topic = %self.topic, partition = self.partition, %error, "offset not stored");
                    }
                }
                Step::Stopped => break,
            }
        }
        tracing::debug!(topic = %self.topic, partition = self.partition, "partition worker stopped");
    }

    async fn handle(&self, message: &BorrowedMessage<'_>, role: &PartitionRole) -> Step {
        let shared = &*self.shared;
        let (source, labels) = (role.labels.topic.as_str(), &role.labels);
        let mut incoming = Incoming {
            payload: message.payload(),
            key: message.key(),
            headers: message.headers(),
            source_topic: source,
            source_partition: message.partition(),
            source_offset: message.offset(),
            attempt: 1,
            timestamp_ms: message.timestamp().to_millis(),
        };
        if role.is_retry {
            let state = parse_retry_state(&MessageHeaders::from_kafka(message.headers()));
            incoming.attempt = state.attempt.unwrap_or(2).max(2);
            incoming.source_partition = state.source_partition.unwrap_or(incoming.source_partition);
            incoming.source_offset = state.source_offset.unwrap_or(incoming.source_offset);
            if let Some(not_before) = state.not_before_ms {
                // Bounded by the policy's max backoff whatever the header says,
                // so a bogus header cannot park the partition.
                let wait_ms =
                    (not_before - now_ms()).clamp(0, duration_ms(shared.policy.max_backoff));
                if wait_ms > 0
                    && self
                        .pause(Duration::from_millis(wait_ms as u64))
                        .await
                        .is_err()
                {
                    return Step::Stopped;
                }
            }
        }

        let span = process_span(
            &self.topic,
            &role.span_name,
            &shared.group,
            message,
            incoming.attempt,
        );
        let started = Instant::now();
        let outcome = match self
            .process(&incoming, labels)
            .instrument(span.clone())
            .await
        {
            Some(outcome) => outcome,
            None => return Step::Stopped,
        };
        let Err(failure) = outcome else {
            EventHandled {
                series: &role.handled,
                duration: started.elapsed(),
            }
            .emit(&shared.metrics);
            shared.counters.handled.fetch_add(1, Ordering::Relaxed);
            return Step::Done;
        };

        span.record("error.type", failure.reason());
        shared.counters.failed.fetch_add(1, Ordering::Relaxed);
        EventFailed {
            labels,
            partition: incoming.source_partition,
            offset: incoming.source_offset,
            attempt: incoming.attempt,
            reason: failure.reason(),
            error: failure.error(),
        }
        .emit(&shared.metrics);

        let Some(routed) = self.route(&incoming, &failure).instrument(span).await else {
            return Step::Stopped;
        };
        match routed.route {
            Route::Retry {
                next_attempt,
                delay,
            } => {
                shared.counters.retried.fetch_add(1, Ordering::Relaxed);
                EventRetried {
                    labels,
                    retry_topic: &routed.topic,
                    next_attempt,
                    delay,
                }
                .emit(&shared.metrics);
            }
            Route::DeadLetter { reason, attempt } => {
                shared
                    .counters
                    .dead_lettered
                    .fetch_add(1, Ordering::Relaxed);
                EventDeadLettered {
                    labels,
                    dlq_topic: &routed.topic,
                    reason,
                    attempt,
                }
                .emit(&shared.metrics);
            }
        }
        EventHandled {
            series: &role.handled,
            duration: started.elapsed(),
        }
        .emit(&shared.metrics);
        shared.counters.handled.fetch_add(1, Ordering::Relaxed);
        Step::Done
    }

    /// Processes, calling again in place
    /// - for as long as the failure is transient (the registry is down:
    ///   every message would fail alike, so dead-lettering them would be
    ///   wrong), with the retry policy's growing backoff;
    /// - up to `in_place_attempts` times when the handler asked for a retry,
    ///   with short waits, before [`Self::handle`] routes the event to the
    ///   retry topic. The event a handler waits for (an ordering race) is
    ///   usually on another partition and arrives meanwhile.
    ///
    /// `None` when stopped while waiting.
    async fn process(
        &self,
        incoming: &Incoming<'_>,
        labels: &TopicGroupLabels,
    ) -> Option<Result<(), Failure>> {
        let policy = &self.shared.policy;
        let mut pause = policy.initial_backoff;
        let mut repeats = 0;
        loop {
            match self.shared.processor.process(incoming).await {
                Err(Failure::Retryable { reason, error }) if repeats < policy.in_place_attempts => {
                    repeats += 1;
                    let wait = policy.in_place_backoff(repeats);
                    EventRetriedInPlace {
                        labels,
                        offset: incoming.source_offset,
                        repeat: repeats,
                        wait,
                        reason,
                        error: &error,
                    }
                    .emit(&self.shared.metrics);
                    self.pause(wait).await.ok()?;
                }
                Err(Failure::Transient { reason, error }) => {
                    tracing::warn!(
                        reason,
                        error,
                        retry_in_ms = pause.as_millis() as u64,
                        "transient failure, retrying in place"
                    );
                    self.pause(pause).await.ok()?;
                    pause = (pause * 2).min(self.shared.policy.max_backoff);
                }
                outcome => return Some(outcome),
            }
        }
    }

    /// Routes to the retry or DLQ topic, retrying the produce until the
    /// broker acknowledges (the offset must not be stored before). `None`
    /// when stopped while waiting.
    async fn route(
        &self,
        incoming: &Incoming<'_>,
        failure: &Failure,
    ) -> Option<super::failure::Routed> {
        let mut pause = self.shared.policy.initial_backoff;
        loop {
            match self.shared.router.route(incoming, failure).await {
                Ok(routed) => return Some(routed),
                Err(error) => {
                    tracing::error!(%error, retry_in_ms = pause.as_millis() as u64, "cannot write to the failure topic, retrying");
                    self.pause(pause).await.ok()?;
                    pause = (pause * 2).min(self.shared.policy.max_backoff);
                }
            }
        }
    }

    /// Sleeps unless stopped first (`Err`).
    async fn pause(&self, duration: Duration) -> Result<(), ()> {
        tokio::select! {
            biased;
            _ = self.stop.cancelled() => Err(()),
            _ = tokio::time::sleep(duration) => Ok(()),
        }
    }
}

fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `process <topic>` per the OpenTelemetry messaging conventions, parented
/// on the producer's span through the message's `traceparent`.
fn process_span(
    topic: &str,
    name: &str,
    group: &str,
    message: &BorrowedMessage<'_>,
    attempt: u32,
) -> Span {
    // A root unless the message names its trace: under the long-lived
    // `consumer_group` span every message without a `traceparent` would
    // join one endless trace, exported only when the process stops.
    let span = tracing::info_span!(
        parent: None,
        "process",
        otel.name = name,
        otel.kind = "consumer",
        messaging.system = "kafka",
        messaging.operation.type = "process",
        messaging.destination.name = topic,
        messaging.consumer.group.name = group,
        messaging.destination.partition.id = message.partition(),
        messaging.kafka.offset = message.offset(),
        tributary.attempt = attempt,
        error.type = field::Empty,
    );
    if let Some(headers) = message.headers() {
        let mut traceparent = None;
        let mut tracestate = None;
        for header in headers.iter() {
            match header.key {
                names::TRACEPARENT => {
                    traceparent = header.value.and_then(|v| std::str::from_utf8(v).ok())
                }
                names::TRACESTATE => {
                    tracestate = header.value.and_then(|v| std::str::from_utf8(v).ok())
                }
                _ => {}
            }
        }
        if traceparent.is_some() {
            // Fails only when the span is disabled; then there is nothing to parent.
            let _ = span.set_parent(tributary_telemetry::extract(traceparent, tracestate));
        }
    }
    span
}
