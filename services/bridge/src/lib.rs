//! The RabbitMQ bridge: the same contracts on AMQP.
//!
//! - **Kafka → RabbitMQ** ([`egress`]): the consumer group
//!   `tributary.bridge` reads the contract topics and publishes every
//!   message, byte for byte, to a durable topic exchange named after its
//!   topic, routing key = the event type (`order.placed`), Kafka headers as
//!   AMQP headers, `message_id` = event id, persistent, `mandatory`, with
//!   publisher confirms in a bounded window. The Kafka offset is stored only
//!   after the confirm; unroutable messages are dead-lettered to
//!   `tributary.bridge.unroutable` and counted.
//! - **RabbitMQ → Kafka** ([`ingress`]): per contract topic a durable
//!   exchange and queue `tributary.ingress.<topic>`; messages are validated
//!   against the registry and the contract, produced to Kafka and acked only
//!   after the delivery report; invalid ones go to `tributary.ingress.dlx`
//!   (queue `tributary.ingress.dead`) with `x-tributary-error`.
//! - A [`link`] that reconnects with backoff and redeclares the topology.
//!
//! A platform service can also consume from RabbitMQ instead of Kafka
//! ([`RabbitSources`], `tributary run notifications --transport rabbitmq`):
//! the same projection handler on a [`RabbitConsumer`] fed by the egress.
//!
//! Queuing on RabbitMQ is competing consumers on one queue bound to a topic
//! exchange; pub-sub is one queue per subscriber bound to the same exchange.

mod bridge;
mod config;
pub mod consumer;
pub mod egress;
mod error;
pub mod ingress;
pub mod link;
pub mod names;
pub mod properties;
mod publish;
mod source;
mod stats;
pub mod topology;
pub mod validate;

pub use bridge::Bridge;
pub use config::{BridgeConfig, QueueType, defaults};
pub use consumer::RabbitConsumer;
pub use error::{AmqpError, BridgeError};
pub use source::{RabbitSource, RabbitSources};
pub use stats::{BridgeStats, StatsSnapshot};

use tributary_bus::BusConfig;
use tributary_service::ServiceDefinition;

/// The bridge as a service of the platform (`tributary run bridge`): no
/// tables, no projector, one background task running the [`Bridge`], plus
/// the runtime's `/health/*` and `/metrics`.
pub fn definition(config: BridgeConfig, bus: BusConfig) -> ServiceDefinition {
    ServiceDefinition::new("bridge").with_task(move |context, stop| {
        Box::pin(async move {
            let bridge = Bridge::build(config, bus, context.metrics().clone()).await?;
            bridge.run(stop).await?;
            Ok(())
        })
    })
}
