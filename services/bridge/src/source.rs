//! [`RabbitSources`]: a service consumes from RabbitMQ instead of Kafka.
//!
//! The runtime's projection handler runs unchanged inside a
//! [`RabbitConsumer`]: the service's queue `<prefix><group>` (e.g.
//! `tributary.notifications`) is bound to the topic exchanges of the topics
//! it consumes, which the bridge's egress fills with the Kafka events,
//! byte-identical. Deduplication by event id works as on Kafka (a
//! redelivered message changes nothing); a message that cannot be decoded or
//! fails for good is dead-lettered to `<queue>.dead` instead of a DLQ topic.
//!
//! What differs from Kafka: readiness means "subscribed to the queue" rather
//! than "owns partitions", and several instances compete on one queue
//! without per-key ordering. What stays on Kafka: the service's emitted
//! events (the outbox relay always publishes to Kafka).

use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tributary_service::{
    EventSource, RunError, SourceFactory, SourceParts, SourceStatus, StartError, StatusProbe,
};

use crate::{BridgeConfig, RabbitConsumer, link::probe};

/// How long building the service waits for RabbitMQ to accept a connection.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

const TRANSPORT: &str = "rabbitmq";

/// Makes RabbitMQ consumers with the connection, queue type, prefetch,
/// delivery limit and name prefix of a [`BridgeConfig`] (`[bridge]`); its
/// `topics` are replaced by the ones the service consumes.
#[derive(Debug, Clone)]
pub struct RabbitSources {
    config: BridgeConfig,
}

impl RabbitSources {
    pub fn new(config: BridgeConfig) -> Self {
        RabbitSources { config }
    }
}

#[async_trait]
impl SourceFactory for RabbitSources {
    async fn create(&self, parts: SourceParts) -> Result<Box<dyn EventSource>, StartError> {
        let SourceParts {
            group,
            topics,
            codec,
            handler,
            metrics: _,
        } = parts;
        let failed = |source: tributary_service::BoxError| StartError::Source {
            transport: TRANSPORT,
            group: group.clone(),
            source,
        };
        let config = BridgeConfig {
            topics,
            ..self.config.clone()
        };
        let consumer = RabbitConsumer::new(&config, group.as_str(), codec, handler)
            .map_err(|e| failed(e.into()))?;
        // Like the Kafka topic check: an unreachable RabbitMQ or refused
        // credentials stop the service at start-up with the reason.
        probe(&config.amqp_url, PROBE_TIMEOUT)
            .await
            .map_err(|e| failed(format!("bridge.amqp_url: {e}").into()))?;
        Ok(Box::new(RabbitSource { consumer, group }))
    }
}

/// A service's consumer on RabbitMQ.
#[derive(Debug)]
pub struct RabbitSource {
    consumer: RabbitConsumer,
    group: String,
}

#[async_trait]
impl EventSource for RabbitSource {
    fn transport(&self) -> &'static str {
        TRANSPORT
    }

    fn group(&self) -> &str {
        &self.group
    }

    fn probe(&self) -> StatusProbe {
        let consuming = self.consumer.consuming();
        let queue = self.consumer.queue();
        StatusProbe::new(move || rabbit_status(&consuming, &queue))
    }

    async fn run(self: Box<Self>, stop: CancellationToken) -> Result<(), RunError> {
        self.consumer.run(stop).await;
        Ok(())
    }
}

/// Ready while subscribed to the queue; not while (re)connecting.
fn rabbit_status(consuming: &watch::Receiver<bool>, queue: &str) -> SourceStatus {
    if *consuming.borrow() {
        SourceStatus {
            ready: true,
            detail: format!("consuming rabbitmq queue {queue}"),
        }
    } else {
        SourceStatus {
            ready: false,
            detail: format!("not subscribed to rabbitmq queue {queue} (connecting)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_while_consuming() {
        let (tx, rx) = watch::channel(false);
        assert!(!rabbit_status(&rx, "q").ready);
        tx.send_replace(true);
        assert!(rabbit_status(&rx, "q").ready);
        assert_eq!(rabbit_status(&rx, "q").detail, "consuming rabbitmq queue q");
    }
}
