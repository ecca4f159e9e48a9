//! Consuming contract events from RabbitMQ with the same typed
//! [`Handler`] a Kafka [`ConsumerGroup`](tributary_bus::ConsumerGroup) runs.
//!
//! The two messaging models map like this:
//!
//! | model | Kafka | RabbitMQ (this module) |
//! |---|---|---|
//! | queuing | N members of one consumer group split the partitions | N [`RabbitConsumer`]s with the same `group` compete on one durable queue `<group>` |
//! | pub-sub | one consumer group per subscriber, each sees every event | one `group` (so one queue) per subscriber, each bound to the topic exchanges |
//!
//! The queue is declared with the configured type (quorum or classic v2),
//! a dead-letter exchange `<group>.dlx` (queue `<group>.dead`) and, for
//! quorum queues, an explicit delivery limit. Ordering differs from Kafka:
//! competing consumers on one queue do not keep per-key order.

use std::{sync::Arc, time::Duration};

use futures::StreamExt as _;
use lapin::{
    Channel, ExchangeKind,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
        BasicRejectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tributary_bus::{EventCodec, Handler, HandlerError, Received};

use crate::{
    BridgeConfig, BridgeError, QueueType,
    error::AmqpError,
    link::{Link, LinkDriver},
    names::{Names, short},
    properties::{KEY_HEADER, value_bytes},
    topology::Topology,
};

const MAX_RETRY_PAUSE: Duration = Duration::from_secs(5);

/// One competing consumer of the queue `group`, bound to the topic
/// exchanges of `topics`.
pub struct RabbitConsumer {
    link: Link,
    driver: LinkDriver,
    topology: Topology,
    group: String,
    prefetch: u16,
    codec: EventCodec,
    handler: Arc<dyn Handler>,
    consuming: watch::Sender<bool>,
}

impl std::fmt::Debug for RabbitConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitConsumer")
            .field("group", &self.group)
            .finish_non_exhaustive()
    }
}

impl RabbitConsumer {
    /// A consumer of `config.topics` (all contract topics when empty) in
    /// `group`, using the connection, queue type, prefetch, delivery limit
    /// and name prefix of `config`.
    pub fn new(
        config: &BridgeConfig,
        group: impl Into<String>,
        codec: EventCodec,
        handler: Arc<dyn Handler>,
    ) -> Result<Self, BridgeError> {
        config.validate()?;
        let mut topology = Topology::from_config(config)?;
        // The link declares nothing itself; this consumer declares its own
        // queue (and the exchanges it binds to) on every (re)subscribe.
        let link_topology = Topology {
            egress: false,
            ingress: false,
            ..topology.clone()
        };
        topology.egress = false;
        topology.ingress = false;
        let (link, driver) = Link::new(config, link_topology);
        Ok(RabbitConsumer {
            link,
            driver,
            topology,
            group: group.into(),
            prefetch: config.prefetch,
            codec,
            handler,
            consuming: watch::Sender::new(false),
        })
    }

    /// Whether the consumer is subscribed to its queue right now: false
    /// before the first subscription, while disconnected, and after stop.
    pub fn consuming(&self) -> watch::Receiver<bool> {
        self.consuming.subscribe()
    }

    /// The durable queue this consumer competes on.
    pub fn queue(&self) -> String {
        queue_name(&self.topology.names, &self.group)
    }

    /// Consumes until `stop`; unacknowledged deliveries return to the queue.
    pub async fn run(self, stop: CancellationToken) {
        let RabbitConsumer {
            link,
            driver,
            topology,
            group,
            prefetch,
            codec,
            handler,
            consuming,
        } = self;
        let link_task = tokio::spawn(driver.run(stop.clone()));
        let worker = Worker {
            topology,
            group,
            prefetch,
            codec,
            handler,
            consuming,
        };
        let mut pause = link.initial_backoff();
        loop {
            let Ok(session) = link.session(&stop).await else {
                break;
            };
            let consumed = worker.consume(&session.connection, &stop).await;
            worker.consuming.send_replace(false);
            match consumed {
                Ok(()) => break,
                Err(error) => {
                    tracing::warn!(group = %worker.group, %error, "rabbitmq consumer interrupted, resubscribing")
                }
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(MAX_RETRY_PAUSE);
        }
        let _ = link_task.await;
    }
}

/// `<prefix><group>`: the queue of a consumer group.
pub fn queue_name(names: &Names, group: &str) -> String {
    names.egress_exchange(group)
}

struct Worker {
    topology: Topology,
    group: String,
    prefetch: u16,
    codec: EventCodec,
    handler: Arc<dyn Handler>,
    consuming: watch::Sender<bool>,
}

impl Worker {
    async fn declare(&self, channel: &Channel) -> Result<String, AmqpError> {
        let names = &self.topology.names;
        let queue = queue_name(names, &self.group);
        let dlx = format!("{queue}.dlx");
        let dead = format!("{queue}.dead");
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                short(dlx.as_str())?,
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                short(dead.as_str())?,
                QueueDeclareOptions::durable(),
                self.topology.queue_arguments(None),
            )
            .await?;
        channel
            .queue_bind(
                short(dead.as_str())?,
                short(dlx.as_str())?,
                short("#")?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                short(queue.as_str())?,
                QueueDeclareOptions::durable(),
                self.topology.queue_arguments(Some(&dlx)),
            )
            .await?;
        for topic in &self.topology.topics {
            let exchange = names.egress_exchange(topic);
            channel
                .exchange_declare(
                    short(exchange.as_str())?,
                    ExchangeKind::Topic,
                    durable,
                    FieldTable::default(),
                )
                .await?;
            channel
                .queue_bind(
                    short(queue.as_str())?,
                    short(exchange)?,
                    short("#")?,
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(queue)
    }

    async fn consume(
        &self,
        connection: &lapin::Connection,
        stop: &CancellationToken,
    ) -> Result<(), AmqpError> {
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let queue = self.declare(&channel).await?;
        let mut deliveries = channel
            .basic_consume(
                short(queue)?,
                short("")?,
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.consuming.send_replace(true);
        loop {
            let next = tokio::select! {
                biased;
                _ = stop.cancelled() => {
                    let _ = channel.close(200, "stopping".into()).await;
                    return Ok(());
                }
                next = deliveries.next() => next,
            };
            match next {
                None => return Err(AmqpError::Stopped),
                Some(Err(error)) => return Err(error.into()),
                Some(Ok(delivery)) => {
                    if !self.process(delivery, stop).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// `Ok(false)` when stopped mid-message (left unacknowledged).
    async fn process(
        &self,
        delivery: Delivery,
        stop: &CancellationToken,
    ) -> Result<bool, AmqpError> {
        let topic = self
            .topology
            .names
            .contract_topic_of_exchange(delivery.exchange.as_str())
            .unwrap_or(delivery.exchange.as_str())
            .to_owned();
        let attempt = self.attempt(&delivery);
        let mut pause = Duration::from_millis(100);
        let event = loop {
            match self.codec.decode(&delivery.data).await {
                Ok(event) => break event,
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "registry unavailable, retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return Ok(false),
                        _ = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(MAX_RETRY_PAUSE);
                }
                Err(e) => {
                    tracing::warn!(reason = e.reason(), error = %e, "undecodable message dead-lettered");
                    delivery
                        .acker
                        .reject(BasicRejectOptions { requeue: false })
                        .await?;
                    return Ok(true);
                }
            }
        };
        let key = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|t| t.inner().get(KEY_HEADER))
            .and_then(value_bytes);
        let received = Received {
            event,
            topic,
            partition: 0,
            offset: i64::try_from(delivery.delivery_tag).unwrap_or(i64::MAX),
            key,
            attempt,
            timestamp_ms: delivery
                .properties
                .timestamp()
                .and_then(|s| i64::try_from(s).ok())
                .map(|s| s * 1000),
        };
        match self.handler.handle(received).await {
            Ok(()) => {
                delivery.acker.ack(BasicAckOptions::default()).await?;
            }
            Err(HandlerError::Retryable(error)) if self.may_retry(attempt) => {
                tracing::warn!(%error, attempt, "handler failed, requeued");
                delivery
                    .acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await?;
            }
            Err(error) => {
                tracing::warn!(%error, attempt, "handler failed for good, dead-lettered");
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await?;
            }
        }
        Ok(true)
    }

    /// 1 for the first delivery: quorum queues count deliveries in
    /// `x-delivery-count`; classic queues only flag redeliveries.
    fn attempt(&self, delivery: &Delivery) -> u32 {
        let count = delivery
            .properties
            .headers()
            .as_ref()
            .and_then(|t| t.inner().get("x-delivery-count").cloned());
        match count {
            Some(AMQPValue::LongLongInt(n)) => {
                u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1)
            }
            Some(AMQPValue::LongInt(n)) => u32::try_from(n).unwrap_or(u32::MAX).saturating_add(1),
            _ if delivery.redelivered => 2,
            _ => 1,
        }
    }

    /// Quorum queues enforce the delivery limit themselves; a classic queue
    /// cannot, so a message is retried once there and then dead-lettered.
    fn may_retry(&self, attempt: u32) -> bool {
        match self.topology.queue_type {
            QueueType::Quorum => attempt < self.topology.delivery_limit,
            QueueType::Classic => attempt < 2,
        }
    }
}
