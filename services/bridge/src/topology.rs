//! Declares every exchange, queue and binding the bridge relies on; run on
//! each (re)connect, so a broker that lost its state is repaired.

use lapin::{
    Channel, ExchangeKind,
    options::{
        ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};

use crate::{
    BridgeConfig, QueueType,
    error::AmqpError,
    names::{Declared, Names, short},
};

/// What to declare.
#[derive(Debug, Clone)]
pub struct Topology {
    pub names: Names,
    pub topics: Vec<&'static str>,
    pub queue_type: QueueType,
    pub delivery_limit: u32,
    pub egress: bool,
    pub ingress: bool,
}

impl Topology {
    pub fn from_config(config: &BridgeConfig) -> Result<Self, crate::BridgeError> {
        Ok(Topology {
            names: Names::new(&config.amqp_name_prefix, &config.kafka_topic_prefix),
            topics: config.contract_topics()?,
            queue_type: config.queue_type,
            delivery_limit: config.delivery_limit,
            egress: config.egress,
            ingress: config.ingress,
        })
    }

    pub async fn declare(&self, channel: &Channel) -> Result<(), AmqpError> {
        let n = &self.names;
        if self.egress {
            for topic in &self.topics {
                exchange(channel, &n.egress_exchange(topic), ExchangeKind::Topic).await?;
            }
            exchange(channel, &n.unroutable_exchange(), ExchangeKind::Fanout).await?;
            self.queue(channel, &n.unroutable_queue(), None).await?;
            bind(
                channel,
                &n.unroutable_queue(),
                &n.unroutable_exchange(),
                "#",
            )
            .await?;
        }
        if self.ingress {
            exchange(channel, &n.ingress_dlx(), ExchangeKind::Fanout).await?;
            self.queue(channel, &n.ingress_dead_queue(), None).await?;
            bind(channel, &n.ingress_dead_queue(), &n.ingress_dlx(), "#").await?;
            for topic in &self.topics {
                exchange(channel, &n.ingress_exchange(topic), ExchangeKind::Topic).await?;
                self.queue(channel, &n.ingress_queue(topic), Some(&n.ingress_dlx()))
                    .await?;
                bind(
                    channel,
                    &n.ingress_queue(topic),
                    &n.ingress_exchange(topic),
                    "#",
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Deletes every queue (with its messages) and exchange [`declare`]
    /// creates, for tearing a bridge down.
    ///
    /// [`declare`]: Topology::declare
    pub async fn remove(&self, channel: &Channel) -> Result<(), AmqpError> {
        delete(channel, &self.names.declared(self.topics.iter().copied())).await
    }

    /// The arguments of a durable queue of the configured type; `dlx` set
    /// for queues whose rejected messages must be dead-lettered by the broker.
    pub fn queue_arguments(&self, dlx: Option<&str>) -> FieldTable {
        let mut args = FieldTable::default();
        args.insert(
            ShortString::from("x-queue-type"),
            AMQPValue::LongString(LongString::from(self.queue_type.as_str())),
        );
        match self.queue_type {
            QueueType::Quorum => {
                if dlx.is_some() {
                    args.insert(
                        ShortString::from("x-delivery-limit"),
                        AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
                    );
                }
            }
            QueueType::Classic => {
                args.insert(
                    ShortString::from("x-queue-version"),
                    AMQPValue::LongLongInt(2),
                );
            }
        }
        if let Some(dlx) = dlx {
            args.insert(
                ShortString::from("x-dead-letter-exchange"),
                AMQPValue::LongString(LongString::from(dlx)),
            );
        }
        args
    }

    async fn queue(
        &self,
        channel: &Channel,
        name: &str,
        dlx: Option<&str>,
    ) -> Result<(), AmqpError> {
        channel
            .queue_declare(
                short(name)?,
                QueueDeclareOptions::durable(),
                self.queue_arguments(dlx),
            )
            .await?;
        Ok(())
    }
}

/// Deletes `declared`'s queues, then its exchanges, so no binding outlives
/// its exchange. Deleting what does not exist is not an error on RabbitMQ.
pub async fn delete(channel: &Channel, declared: &Declared) -> Result<(), AmqpError> {
    for queue in &declared.queues {
        channel
            .queue_delete(short(queue.as_str())?, QueueDeleteOptions::default())
            .await?;
    }
    for name in &declared.exchanges {
        channel
            .exchange_delete(short(name.as_str())?, ExchangeDeleteOptions::default())
            .await?;
    }
    Ok(())
}

async fn exchange(channel: &Channel, name: &str, kind: ExchangeKind) -> Result<(), AmqpError> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(short(name)?, kind, options, FieldTable::default())
        .await?;
    Ok(())
}

async fn bind(channel: &Channel, queue: &str, exchange: &str, key: &str) -> Result<(), AmqpError> {
    channel
        .queue_bind(
            short(queue)?,
            short(exchange)?,
            short(key)?,
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(())
}
