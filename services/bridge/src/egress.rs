//! Kafka → RabbitMQ: a [`RawHandler`] of the `tributary.bridge` consumer
//! group that republishes every message, byte for byte, to the topic
//! exchange named after its topic, and returns only once RabbitMQ confirmed
//! it — so the Kafka offset is stored only after the confirm.
//!
//! A message no queue is bound for comes back (`mandatory`); it is then
//! dead-lettered to the unroutable exchange and counted, never dropped. A
//! failed publish or a lost connection is retried on the next session until
//! confirmed: duplicates are possible only where a confirm was lost, and
//! carry the same `message_id` (the event id).

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use apache_avro::Schema;
use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tributary_bus::{
    HandlerError, RawHandler, RawReceived,
    headers::{CE_TYPE_PREFIX, names as header_names},
};
use tributary_contracts::{CATALOG, unframe};
use tributary_registry::{RegistryClient, RegistryError};
use tributary_telemetry::{Metrics, labels::FailureLabels};

use crate::{
    error::AmqpError,
    link::Link,
    names::{Names, short},
    properties::{to_amqp, with_failure},
    publish::{Published, publish_confirmed},
    stats::BridgeStats,
};

/// Longest pause between attempts to publish one message.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// The Kafka → RabbitMQ handler.
pub struct Egress {
    pub(crate) link: Link,
    pub(crate) names: Names,
    pub(crate) group: String,
    pub(crate) registry: RegistryClient,
    /// Bounds published-but-unconfirmed messages across partitions.
    pub(crate) window: Arc<Semaphore>,
    pub(crate) stats: Arc<BridgeStats>,
    pub(crate) metrics: Metrics,
    pub(crate) stop: CancellationToken,
    /// Event type per writer schema id (ids are immutable).
    pub(crate) types: RwLock<HashMap<u32, Option<&'static str>>>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

/// Why a message cannot be bridged at all (goes to the group's DLQ topic).
#[derive(Debug, thiserror::Error)]
enum Unbridgeable {
    #[error("topic `{0}` is not bridged")]
    Topic(String),
    #[error("cannot tell the event type: not a registered contract schema and no `ce_type` header")]
    NoEventType,
    #[error("amqp: {0}")]
    Amqp(#[from] AmqpError),
}

#[async_trait]
impl RawHandler for Egress {
    async fn handle(&self, message: RawReceived) -> Result<(), HandlerError> {
        match self.bridge(&message).await {
            Ok(()) => Ok(()),
            Err(Unbridgeable::Amqp(AmqpError::Stopped)) => {
                // Stopping: leave the offset unstored; the consumer group
                // aborts this worker at its drain deadline and the message is
                // read again by the next run.
                std::future::pending::<()>().await;
                Ok(())
            }
            Err(error) => Err(HandlerError::permanent(error)),
        }
    }
}

impl Egress {
    async fn bridge(&self, m: &RawReceived) -> Result<(), Unbridgeable> {
        let topic = self
            .names
            .contract_topic(&m.topic)
            .ok_or_else(|| Unbridgeable::Topic(m.topic.clone()))?;
        let event_type = self.event_type(m).await?.ok_or(Unbridgeable::NoEventType)?;
        let exchange = short(self.names.egress_exchange(topic))?;
        let routing_key = short(event_type)?;
        let properties = to_amqp(&m.headers, m.key.as_deref(), m.timestamp_ms, event_type);

        let _permit = tokio::select! {
            _ = self.stop.cancelled() => return Err(AmqpError::Stopped.into()),
            permit = self.window.acquire() => permit.map_err(|_| AmqpError::Stopped)?,
        };
        let mut pause = self.link.initial_backoff();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            if attempt > 1 {
                BridgeStats::add(&self.stats.republished);
            }
            let session = self.link.session(&self.stop).await?;
            let outcome = publish_confirmed(
                &session.publisher,
                exchange.clone(),
                routing_key.clone(),
                true,
                &m.payload,
                properties.clone(),
            )
            .await;
            let failure = match outcome {
                Ok(Published::Routed) => {
                    BridgeStats::add(&self.stats.published);
                    return Ok(());
                }
                Ok(Published::Returned(returned)) => {
                    let text = format!(
                        "returned by rabbitmq: {} {} (exchange `{}`, routing key `{}`)",
                        returned.reply_code, returned.reply_text, exchange, routing_key
                    );
                    match publish_confirmed(
                        &session.publisher,
                        short(self.names.unroutable_exchange())?,
                        routing_key.clone(),
                        false,
                        &m.payload,
                        with_failure(&properties, "unroutable", &text),
                    )
                    .await
                    {
                        Ok(_) => {
                            BridgeStats::add(&self.stats.returned);
                            self.metrics
                                .dlq_events()
                                .get_or_create(&FailureLabels {
                                    topic: topic.to_owned(),
                                    group: self.group.clone(),
                                    reason: "unroutable".to_owned(),
                                })
                                .inc();
                            tracing::warn!(topic, routing_key = %routing_key, "unroutable message dead-lettered");
                            return Ok(());
                        }
                        Err(error) => error,
                    }
                }
                Err(error) => error,
            };
            tracing::warn!(%failure, attempt, topic, "publish to rabbitmq failed, retrying");
            self.link.mark_broken(session.generation);
            tokio::select! {
                _ = self.stop.cancelled() => return Err(AmqpError::Stopped.into()),
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
    }

    /// The dotted event type: from the writer schema named by the frame (via
    /// the registry and the contract catalogue), else from `ce_type`.
    async fn event_type(&self, m: &RawReceived) -> Result<Option<&'static str>, Unbridgeable> {
        if let Ok((id, _)) = unframe(&m.payload)
            && let Some(found) = self.type_of_schema(id).await?
        {
            return Ok(Some(found));
        }
        Ok(m.headers
            .get_str(header_names::CE_TYPE)
            .and_then(|t| t.strip_prefix(CE_TYPE_PREFIX))
            .and_then(|t| CATALOG.iter().find(|d| d.event_type == t))
            .map(|d| d.event_type))
    }

    /// The event type of writer schema `id`, `None` when the registry does
    /// not know it or it is not a contract record. Waits out registry outages.
    async fn type_of_schema(&self, id: u32) -> Result<Option<&'static str>, Unbridgeable> {
        if let Some(known) = read(&self.types).get(&id) {
            return Ok(*known);
        }
        let mut pause = self.link.initial_backoff();
        let found = loop {
            match self.registry.schema_by_id(id).await {
                Ok(schema) => break event_type_of(&schema),
                Err(RegistryError::NotFound { .. }) => break None,
                Err(error) => {
                    tracing::warn!(%error, id, "schema registry unavailable, retrying");
                    tokio::select! {
                        _ = self.stop.cancelled() => return Err(AmqpError::Stopped.into()),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
            }
        };
        self.types
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, found);
        Ok(found)
    }
}

fn event_type_of(schema: &Schema) -> Option<&'static str> {
    let Schema::Record(record) = schema else {
        return None;
    };
    let full_name = record.name.fullname(None);
    CATALOG
        .iter()
        .find(|d| d.full_name == full_name)
        .map(|d| d.event_type)
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
