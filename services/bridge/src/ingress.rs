//! RabbitMQ → Kafka: one consumer per contract topic on its durable ingress
//! queue. A valid message is produced to Kafka and acknowledged only after
//! the delivery report; an invalid one is published to the dead-letter
//! exchange with the reason in `x-tributary-error` (confirmed) and then
//! acknowledged. Nothing a message contains can stop the bridge.
//!
//! Messages of one queue are handled one at a time, so the per-key order
//! of one AMQP producer is kept in Kafka.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use lapin::{
    Channel,
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions},
    types::FieldTable,
};
use tokio_util::sync::CancellationToken;
use tributary_bus::{EventCodec, RawProducer};
use tributary_telemetry::{Metrics, labels::FailureLabels};

use crate::{
    error::AmqpError,
    link::Link,
    names::{Names, short},
    properties::{from_amqp, with_failure},
    publish::publish_confirmed,
    stats::BridgeStats,
    validate::{Rejection, validate},
};

const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);
/// The `group` label of ingress metrics.
pub const INGRESS_GROUP: &str = "tributary.bridge.ingress";

/// Everything the ingress consumers share.
pub struct Ingress {
    pub(crate) link: Link,
    pub(crate) names: Names,
    pub(crate) codec: EventCodec,
    pub(crate) producer: RawProducer,
    pub(crate) prefetch: u16,
    pub(crate) stats: Arc<BridgeStats>,
    pub(crate) metrics: Metrics,
}

impl std::fmt::Debug for Ingress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingress")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl Ingress {
    /// Consumes `topic`'s ingress queue until `stop`, re-subscribing after
    /// every connection or channel failure.
    pub async fn run(self: Arc<Self>, topic: &'static str, stop: CancellationToken) {
        let mut pause = self.link.initial_backoff();
        loop {
            let session = match self.link.session(&stop).await {
                Ok(session) => session,
                Err(_) => return,
            };
            match self.consume(topic, &session.connection, &stop).await {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(topic, %error, "ingress consumer interrupted, resubscribing");
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    /// `Ok` when stopped, `Err` when the channel or connection failed.
    async fn consume(
        &self,
        topic: &'static str,
        connection: &lapin::Connection,
        stop: &CancellationToken,
    ) -> Result<(), AmqpError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let mut deliveries = channel
            .basic_consume(
                short(self.names.ingress_queue(topic))?,
                short(format!("tributary-bridge-{topic}"))?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(topic, queue = %self.names.ingress_queue(topic), "ingress consuming");
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    // Unacknowledged deliveries go back to the queue.
                    let _ = channel.close(200, "tributary bridge stopping".into()).await;
                    return Ok(());
                }
                next = deliveries.next() => next,
            };
            match next {
                None => return Err(AmqpError::Stopped),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(delivery)) => {
                    if !self.process(topic, &channel, delivery, stop).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Handles one delivery; `Ok(false)` when stopped before finishing (the
    /// delivery stays unacknowledged and is redelivered).
    async fn process(
        &self,
        topic: &'static str,
        channel: &Channel,
        delivery: Delivery,
        stop: &CancellationToken,
    ) -> Result<bool, AmqpError> {
        let routing_key = delivery.routing_key.as_str().to_owned();
        let (headers, key) = from_amqp(&delivery.properties);
        let mut pause = self.link.initial_backoff();
        let outcome = loop {
            match validate(
                &self.codec,
                topic,
                &routing_key,
                &delivery.data,
                headers.clone(),
                key.clone(),
            )
            .await
            {
                Err(Rejection::Transient(error)) => {
                    tracing::warn!(topic, %error, "cannot validate now, retrying");
                    if !sleep_or_stop(stop, &mut pause).await {
                        return Ok(false);
                    }
                }
                other => break other,
            }
        };
        match outcome {
            Ok(valid) => {
                let kafka_topic = self.names.kafka_topic(topic);
                let mut pause = self.link.initial_backoff();
                loop {
                    match self
                        .producer
                        .send_raw(
                            &kafka_topic,
                            Some(&valid.key),
                            &delivery.data,
                            &valid.headers,
                        )
                        .await
                    {
                        Ok(_) => break,
                        Err(error) => {
                            tracing::warn!(topic, %error, event_id = %valid.event_id, "produce to kafka failed, retrying");
                            if !sleep_or_stop(stop, &mut pause).await {
                                return Ok(false);
                            }
                        }
                    }
                }
                delivery.acker.ack(BasicAckOptions::default()).await?;
                BridgeStats::add(&self.stats.ingested);
            }
            Err(Rejection::Invalid { reason, error }) => {
                tracing::warn!(topic, reason, %error, routing_key, "invalid ingress message dead-lettered");
                publish_confirmed(
                    channel,
                    short(self.names.ingress_dlx())?,
                    short(routing_key.clone())?,
                    false,
                    &delivery.data,
                    with_failure(&delivery.properties, reason, &error),
                )
                .await?;
                delivery.acker.ack(BasicAckOptions::default()).await?;
                BridgeStats::add(&self.stats.ingress_dead_lettered);
                self.metrics
                    .dlq_events()
                    .get_or_create(&FailureLabels {
                        topic: topic.to_owned(),
                        group: INGRESS_GROUP.to_owned(),
                        reason: reason.to_owned(),
                    })
                    .inc();
            }
            Err(Rejection::Transient(_)) => return Ok(false),
        }
        Ok(true)
    }
}

/// Sleeps `pause` (then doubles it, bounded); `false` if stopped first.
async fn sleep_or_stop(stop: &CancellationToken, pause: &mut Duration) -> bool {
    let wait = *pause;
    *pause = (*pause * 2).min(MAX_RETRY_PAUSE);
    tokio::select! {
        _ = stop.cancelled() => false,
        _ = tokio::time::sleep(wait) => true,
    }
}
