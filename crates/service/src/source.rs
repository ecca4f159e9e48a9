//! The transport seam: where a service's consumed events come from.
//!
//! The runtime builds the projection handler (one view-store transaction
//! per event, deduplicated by event id) and hands it, with the group name,
//! the topics and the codec, to a [`SourceFactory`]. The factory returns an
//! [`EventSource`] that runs the handler until stopped and reports, through
//! a [`StatusProbe`], whether `/health/ready` may say ready.
//!
//! The default is Kafka ([`KafkaSources`]: a `tributary_bus::ConsumerGroup`
//! with its retry and dead-letter topics). Other transports live in other
//! crates — the RabbitMQ one in `tributary-bridge` — so this crate depends
//! on none of them. Only consumption is swapped: the outbox relay always
//! publishes what the service emits to Kafka.

use std::{fmt, sync::Arc};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;
use tributary_bus::{BusConfig, ConsumerGroup, EventCodec, GroupStatus, Handler, admin};
use tributary_telemetry::Metrics;

use crate::{RunError, StartError};

/// What a transport needs to run a service's consumer.
pub struct SourceParts {
    /// The consumer group (`tributary.<service>`): Kafka group id, or the
    /// name of the RabbitMQ queue the service competes on.
    pub group: String,
    /// The contract topics the service consumes.
    pub topics: Vec<String>,
    /// Decodes the Confluent-framed Avro payloads.
    pub codec: EventCodec,
    /// The projection handler; the same on every transport.
    pub handler: Arc<dyn Handler>,
    /// The process's registry, for transports that report metrics.
    pub metrics: Metrics,
}

impl fmt::Debug for SourceParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceParts")
            .field("group", &self.group)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// The consumer's part of `/health/ready`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// Whether the consumer is receiving events.
    pub ready: bool,
    /// What the probe shows as `consumer` (`3 partitions assigned`).
    pub detail: String,
}

/// Reads a source's current status; called on every readiness probe, so it
/// must be cheap and never block.
#[derive(Clone)]
pub struct StatusProbe(Arc<dyn Fn() -> SourceStatus + Send + Sync>);

impl StatusProbe {
    pub fn new(read: impl Fn() -> SourceStatus + Send + Sync + 'static) -> Self {
        StatusProbe(Arc::new(read))
    }

    pub fn status(&self) -> SourceStatus {
        (self.0)()
    }
}

impl fmt::Debug for StatusProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StatusProbe").field(&self.status()).finish()
    }
}

/// Runs a handler for a group's topics until stopped.
#[async_trait]
pub trait EventSource: Send {
    /// `kafka`, `rabbitmq`: for logs and errors.
    fn transport(&self) -> &'static str;

    /// The group this consumer belongs to.
    fn group(&self) -> &str;

    /// Live status for readiness; valid after `run` consumed the source.
    fn probe(&self) -> StatusProbe;

    /// Consumes until `stop` is cancelled, then drains and returns `Ok`.
    /// Returning before `stop` (with `Ok` or an error) stops the service.
    async fn run(self: Box<Self>, stop: CancellationToken) -> Result<(), RunError>;
}

/// Makes the [`EventSource`] of a service at build time; fails (naming what
/// is wrong) when the transport cannot work, so the service does not start.
#[async_trait]
pub trait SourceFactory: Send + Sync {
    async fn create(&self, parts: SourceParts) -> Result<Box<dyn EventSource>, StartError>;
}

/// The default transport: one Kafka consumer-group member per instance.
#[derive(Debug, Clone)]
pub struct KafkaSources {
    bus: BusConfig,
}

impl KafkaSources {
    pub fn new(bus: BusConfig) -> Self {
        KafkaSources { bus }
    }
}

#[async_trait]
impl SourceFactory for KafkaSources {
    async fn create(&self, parts: SourceParts) -> Result<Box<dyn EventSource>, StartError> {
        let SourceParts {
            group,
            topics,
            codec,
            handler,
            metrics,
        } = parts;
        // The bus creates the retry and dead-letter topics when the group
        // starts; a missing source topic is caught here, at build time,
        // with its name.
        admin::partition_counts(&self.bus, &topics)
            .await
            .map_err(|source| StartError::Topics {
                group: group.clone(),
                source,
            })?;
        Ok(Box::new(
            ConsumerGroup::new(self.bus.clone(), group, topics, codec, handler)
                .with_metrics(metrics),
        ))
    }
}

#[async_trait]
impl EventSource for ConsumerGroup {
    fn transport(&self) -> &'static str {
        "kafka"
    }

    fn group(&self) -> &str {
        self.group_id()
    }

    fn probe(&self) -> StatusProbe {
        let status = self.status();
        StatusProbe::new(move || kafka_status(&status.borrow()))
    }

    async fn run(self: Box<Self>, stop: CancellationToken) -> Result<(), RunError> {
        ConsumerGroup::run(*self, stop)
            .await
            .map(drop)
            .map_err(RunError::Consumer)
    }
}

/// Ready once both members of the runner have joined (a later join would
/// rebalance every partition again) and some partitions are owned.
fn kafka_status(status: &GroupStatus) -> SourceStatus {
    let detail = match (status.running, status.assigned.len()) {
        (false, _) => "not running".to_owned(),
        (true, _) if status.members_joining > 0 => "joining the group".to_owned(),
        (true, 0) => "waiting for partitions".to_owned(),
        (true, n) => format!("{n} partitions assigned"),
    };
    SourceStatus {
        ready: status.settled(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_is_ready_once_every_member_joined_with_partitions() {
        let mut status = GroupStatus::default();
        assert!(!kafka_status(&status).ready);
        status.running = true;
        status.members_joining = 1;
        status.assigned.insert(("orders".into(), 0));
        assert_eq!(
            kafka_status(&status),
            SourceStatus {
                ready: false,
                detail: "joining the group".into()
            }
        );
        status.members_joining = 0;
        status.assigned.clear();
        assert_eq!(kafka_status(&status).detail, "waiting for partitions");
        assert!(!kafka_status(&status).ready);
        status.assigned.insert(("orders".into(), 0));
        assert_eq!(
            kafka_status(&status),
            SourceStatus {
                ready: true,
                detail: "1 partitions assigned".into()
            }
        );
    }
}
