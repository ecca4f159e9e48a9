//! The idempotent producer: a send completes only when the broker's delivery
//! report says the message is durably written (`acks=all`).
//!
//! [`RawProducer`] sends bytes (retry and dead-letter routing, the bridge,
//! benchmarks); [`EventProducer`] adds the codec and the event headers.

use std::{sync::Arc, time::Duration};

use rdkafka::{
    error::KafkaError,
    producer::{FutureProducer, FutureRecord, Producer as _},
    types::RDKafkaErrorCode,
};
use tokio::time::Instant;
use tracing::{Instrument as _, Span, field};
use tributary_contracts::{Event, events::AnyEvent};
use tributary_telemetry::{
    InternalEvent as _, Metrics, OpenTelemetrySpanExt as _, labels::TopicLabels,
};

use crate::{
    BusConfig, EventCodec,
    admin::fetch_metadata,
    client_context::TracingContext,
    config::ProducerSettings,
    error::{EncodeError, ProduceError},
    headers::{MessageHeaders, event_headers, names, trace_headers},
    internal_events::{EventProduced, ProduceFailed, ProducerQueueFull},
};

/// Where a message was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// First and longest pause while librdkafka's local queue is full.
const QUEUE_FULL_BACKOFF_START: Duration = Duration::from_millis(1);
const QUEUE_FULL_BACKOFF_MAX: Duration = Duration::from_millis(50);

/// Sends framed bytes with headers; cheap to clone (one librdkafka client).
#[derive(Clone)]
pub struct RawProducer {
    inner: Arc<RawInner>,
}

struct RawInner {
    producer: FutureProducer<TracingContext>,
    settings: ProducerSettings,
    metrics: Metrics,
}

impl std::fmt::Debug for RawProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProducer")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl RawProducer {
    /// Validates `config`, creates the idempotent producer and checks within
    /// `connect_timeout` that the brokers answer, so a wrong address fails at
    /// start-up with an error naming it instead of hanging on the first send.
    pub async fn connect(config: &BusConfig, metrics: Metrics) -> Result<Self, ProduceError> {
        config.validate()?;
        let producer: FutureProducer<TracingContext> = config
            .producer_client_config()
            .create_with_context(TracingContext)
            .map_err(ProduceError::Create)?;
        let probe = producer.clone();
        fetch_metadata(
            &config.bootstrap_servers,
            config.connect_timeout,
            move |timeout| probe.client().fetch_metadata(None, timeout),
        )
        .await?;
        Ok(RawProducer {
            inner: Arc::new(RawInner {
                producer,
                settings: config.producer.clone(),
                metrics,
            }),
        })
    }

    /// Sends `payload` to `topic` and waits for the delivery report.
    ///
    /// When librdkafka's local queue is full the send waits (with a short,
    /// growing pause) for up to `producer.queue_full_timeout` instead of
    /// buffering without bound; the caller is thereby slowed to the broker's
    /// pace.
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivery, ProduceError> {
        let span = send_span(topic, None);
        self.deliver(topic, key, payload, headers)
            .instrument(span)
            .await
    }

    /// Sends a message that was encoded earlier (an outbox entry) as part of
    /// the trace its headers name: the `send` span is a child of the
    /// message's `traceparent`, and the message leaves with the send span's
    /// own context, so consumers' `process` spans hang under this send and
    /// one trace still runs from the HTTP request through every hop.
    ///
    /// Without a valid `traceparent` this is [`send_raw`](Self::send_raw).
    /// (Relays that must forward headers byte for byte, such as the
    /// bridge's ingress, use `send_raw`.)
    pub async fn send_relayed(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivery, ProduceError> {
        let span = send_span(topic, headers.get_str(names::CE_ID));
        let continued = continue_trace(&span, headers);
        self.deliver(topic, key, payload, continued.as_ref().unwrap_or(headers))
            .instrument(span)
            .await
    }

    /// Waits up to `timeout` for every queued message to be delivered
    /// (call before shutdown so nothing queued is lost).
    pub async fn flush(&self, timeout: Duration) -> Result<(), KafkaError> {
        let producer = self.inner.producer.clone();
        match tokio::task::spawn_blocking(move || producer.flush(timeout)).await {
            Ok(result) => result,
            Err(_join_error) => Err(KafkaError::Canceled),
        }
    }

    /// Sends inside the current span, recording the delivery on it.
    async fn deliver(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivery, ProduceError> {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        let started = Instant::now();
        let result = self
            .enqueue_and_wait(topic, key, payload, headers, &labels, started)
            .await;
        let span = Span::current();
        match &result {
            Ok(d) => {
                span.record("messaging.destination.partition.id", d.partition);
                span.record("messaging.kafka.offset", d.offset);
                EventProduced {
                    labels: &labels,
                    duration: started.elapsed(),
                }
                .emit(&self.inner.metrics);
            }
            Err(e) => {
                span.record("error.type", e.reason());
                ProduceFailed {
                    topic,
                    reason: e.reason(),
                    error: e,
                }
                .emit(&self.inner.metrics);
            }
        }
        result
    }

    async fn enqueue_and_wait(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
        labels: &TopicLabels,
        started: Instant,
    ) -> Result<Delivery, ProduceError> {
        let mut record = FutureRecord::<[u8], [u8]>::to(topic)
            .payload(payload)
            .headers(headers.to_kafka());
        if let Some(key) = key {
            record = record.key(key);
        }
        let mut pause = QUEUE_FULL_BACKOFF_START;
        let mut reported_full = false;
        let delivery = loop {
            match self.inner.producer.send_result(record) {
                Ok(delivery) => break delivery,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    let waited = started.elapsed();
                    if waited >= self.inner.settings.queue_full_timeout {
                        return Err(ProduceError::QueueFull {
                            topic: topic.to_owned(),
                            waited,
                        });
                    }
                    if !reported_full {
                        ProducerQueueFull { labels }.emit(&self.inner.metrics);
                        reported_full = true;
                    }
                    record = returned;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(QUEUE_FULL_BACKOFF_MAX);
                }
                Err((source, _)) => return Err(self.classify(topic, source)),
            }
        };
        match delivery.await {
            Ok(Ok(d)) => Ok(Delivery {
                topic: topic.to_owned(),
                partition: d.partition,
                offset: d.offset,
            }),
            Ok(Err((source, _message))) => Err(self.classify(topic, source)),
            Err(_canceled) => Err(ProduceError::Closed {
                topic: topic.to_owned(),
            }),
        }
    }

    /// A fatal idempotence error poisons the whole producer; report that
    /// rather than the per-message symptom so the service restarts it.
    fn classify(&self, topic: &str, source: KafkaError) -> ProduceError {
        match self.inner.producer.client().fatal_error() {
            Some((code, message)) => ProduceError::Fatal { code, message },
            None => ProduceError::Delivery {
                topic: topic.to_owned(),
                source,
            },
        }
    }
}

/// Publishes typed events: encodes them through the registry, adds the
/// CloudEvents and trace headers, keys them by aggregate id, and completes
/// on the delivery report. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EventProducer {
    raw: RawProducer,
    codec: EventCodec,
}

impl EventProducer {
    /// Connects like [`RawProducer::connect`] and pairs it with `codec`.
    pub async fn connect(
        config: &BusConfig,
        codec: EventCodec,
        metrics: Metrics,
    ) -> Result<Self, ProduceError> {
        Ok(EventProducer {
            raw: RawProducer::connect(config, metrics).await?,
            codec,
        })
    }

    /// Pairs an existing raw producer with a codec.
    pub fn from_raw(raw: RawProducer, codec: EventCodec) -> Self {
        EventProducer { raw, codec }
    }

    pub fn codec(&self) -> &EventCodec {
        &self.codec
    }

    pub fn raw(&self) -> &RawProducer {
        &self.raw
    }

    /// Publishes `event` to its topic, keyed by `event.key()`.
    ///
    /// An event its schema rejects (or whose schema the registry rejects)
    /// fails with [`ProduceError::Encode`] before anything is written.
    pub async fn send<E: Event>(&self, event: &E) -> Result<Delivery, ProduceError> {
        let span = send_span(E::TOPIC, Some(&event.envelope().event_id.to_string()));
        async {
            let payload = self
                .codec
                .encode(event)
                .await
                .map_err(|source| self.encode_failed(E::TOPIC, source))?;
            let trace = tributary_telemetry::inject(&Span::current());
            let headers = event_headers(event.envelope(), E::EVENT_TYPE, trace);
            self.raw
                .deliver(E::TOPIC, Some(event.key().as_bytes()), &payload, &headers)
                .await
        }
        .instrument(span)
        .await
    }

    /// Publishes an event of any type (for relays such as an outbox).
    pub async fn send_any(&self, event: &AnyEvent) -> Result<Delivery, ProduceError> {
        let topic = event.topic();
        let span = send_span(topic, Some(&event.envelope().event_id.to_string()));
        async {
            let payload = self
                .codec
                .encode_any(event)
                .await
                .map_err(|source| self.encode_failed(topic, source))?;
            let trace = tributary_telemetry::inject(&Span::current());
            let headers = event_headers(event.envelope(), event.event_type(), trace);
            self.raw
                .deliver(topic, Some(event.key().as_bytes()), &payload, &headers)
                .await
        }
        .instrument(span)
        .await
    }

    /// Counts and logs an event that never reached the broker.
    fn encode_failed(&self, topic: &str, source: EncodeError) -> ProduceError {
        let error = ProduceError::Encode {
            topic: topic.to_owned(),
            source,
        };
        Span::current().record("error.type", error.reason());
        ProduceFailed {
            topic,
            reason: error.reason(),
            error: &error,
        }
        .emit(&self.raw.inner.metrics);
        error
    }

    /// Sends pre-framed bytes; see [`RawProducer::send_raw`].
    pub async fn send_raw(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: &MessageHeaders,
    ) -> Result<Delivery, ProduceError> {
        self.raw.send_raw(topic, key, payload, headers).await
    }
}

/// Parents `span` on the trace `headers` name and returns the headers with
/// `span`'s own context in their place; `None` (send them as they are) when
/// they name no trace or the span is disabled.
fn continue_trace(span: &Span, headers: &MessageHeaders) -> Option<MessageHeaders> {
    let (traceparent, tracestate) = trace_headers(headers);
    traceparent?;
    span.set_parent(tributary_telemetry::extract(traceparent, tracestate))
        .ok()?;
    let trace = tributary_telemetry::inject(span)?;
    let mut headers = headers.clone();
    headers.set(names::TRACEPARENT, trace.traceparent);
    match trace.tracestate {
        Some(state) => headers.set(names::TRACESTATE, state),
        None => headers.remove(names::TRACESTATE),
    }
    Some(headers)
}

/// `send <topic>` with the OpenTelemetry messaging attributes; partition and
/// offset are recorded once the delivery report arrives.
fn send_span(topic: &str, message_id: Option<&str>) -> Span {
    tracing::info_span!(
        "send",
        otel.name = %format_args!("send {topic}"),
        otel.kind = "producer",
        messaging.system = "kafka",
        messaging.operation.type = "send",
        messaging.destination.name = topic,
        messaging.message.id = message_id,
        messaging.destination.partition.id = field::Empty,
        messaging.kafka.offset = field::Empty,
        error.type = field::Empty,
    )
}
