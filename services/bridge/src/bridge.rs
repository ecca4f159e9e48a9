//! [`Bridge`]: both directions and the AMQP link, built and run together.

use std::{
    collections::HashMap,
    sync::{Arc, RwLock},
    time::Duration,
};

use tokio::{
    sync::{Semaphore, watch},
    task::JoinSet,
};
use tokio_util::sync::CancellationToken;
use tributary_bus::{BusConfig, ConsumerGroup, EventCodec, GroupStatus, RawProducer};
use tributary_registry::{ClientConfig as RegistryClientConfig, RegistryClient};
use tributary_telemetry::Metrics;

use crate::{
    BridgeConfig, BridgeError,
    egress::Egress,
    ingress::Ingress,
    link::{Link, LinkDriver},
    stats::BridgeStats,
    topology::Topology,
};

/// How long the AMQP side gets to finish after the Kafka group stopped.
const AMQP_STOP_DEADLINE: Duration = Duration::from_secs(5);

/// A built bridge: configuration checked, Kafka producer connected, consumer
/// group prepared. RabbitMQ need not be up yet: the link keeps trying.
pub struct Bridge {
    link: Link,
    driver: LinkDriver,
    group: Option<ConsumerGroup>,
    ingress: Option<(Arc<Ingress>, Vec<&'static str>)>,
    stats: Arc<BridgeStats>,
    stop: CancellationToken,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge")
            .field("group", &self.group)
            .field("stats", &self.stats.snapshot())
            .finish_non_exhaustive()
    }
}

impl Bridge {
    /// Builds the bridge for `config` over the Kafka cluster and registry of `bus`.
    pub async fn build(
        config: BridgeConfig,
        bus: BusConfig,
        metrics: Metrics,
    ) -> Result<Bridge, BridgeError> {
        config.validate()?;
        let topology = Topology::from_config(&config)?;
        let names = topology.names.clone();
        let topics = topology.topics.clone();
        let (link, driver) = Link::new(&config, topology);
        let registry = RegistryClient::new(&bus.registry_url, RegistryClientConfig::default())?;
        let stats = Arc::new(BridgeStats::default());
        let stop = CancellationToken::new();

        let group = if config.egress {
            let egress = Egress {
                link: link.clone(),
                names: names.clone(),
                group: config.group.clone(),
                registry: registry.clone(),
                window: Arc::new(Semaphore::new(config.confirm_window)),
                stats: stats.clone(),
                metrics: metrics.clone(),
                stop: stop.clone(),
                types: RwLock::new(HashMap::new()),
            };
            let kafka_topics: Vec<String> = topics.iter().map(|t| names.kafka_topic(t)).collect();
            Some(
                ConsumerGroup::raw(
                    bus.clone(),
                    config.group.clone(),
                    kafka_topics,
                    Arc::new(egress),
                )
                .with_metrics(metrics.clone()),
            )
        } else {
            None
        };
        let ingress = if config.ingress {
            let producer = RawProducer::connect(&bus, metrics.clone()).await?;
            let ingress = Ingress {
                link: link.clone(),
                names,
                codec: EventCodec::new(registry),
                producer,
                prefetch: config.prefetch,
                stats: stats.clone(),
                metrics,
            };
            Some((Arc::new(ingress), topics))
        } else {
            None
        };
        Ok(Bridge {
            link,
            driver,
            group,
            ingress,
            stats,
            stop,
        })
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<BridgeStats> {
        self.stats.clone()
    }

    /// The Kafka → RabbitMQ group's state (None when egress is off).
    pub fn group_status(&self) -> Option<watch::Receiver<GroupStatus>> {
        self.group.as_ref().map(ConsumerGroup::status)
    }

    /// Whether the AMQP connection is up (changes over time).
    pub fn connected(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let link = self.link.clone();
        move || link.is_connected()
    }

    /// Runs until `shutdown`: stops the Kafka group first (in-flight
    /// messages finish and their offsets are committed), then the AMQP side.
    /// Fails only when the consumer group cannot start.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), BridgeError> {
        let Bridge {
            driver,
            group,
            ingress,
            stop,
            stats,
            ..
        } = self;
        let mut amqp = JoinSet::new();
        amqp.spawn(driver.run(stop.clone()));
        if let Some((ingress, topics)) = ingress {
            for topic in topics {
                amqp.spawn(ingress.clone().run(topic, stop.clone()));
            }
        }
        let result = match group {
            Some(group) => group
                .run(shutdown.clone())
                .await
                .map(|_| ())
                .map_err(BridgeError::from),
            None => {
                shutdown.cancelled().await;
                Ok(())
            }
        };
        stop.cancel();
        let drained = tokio::time::timeout(AMQP_STOP_DEADLINE, async {
            while amqp.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            amqp.abort_all();
        }
        tracing::info!(stats = ?stats.snapshot(), "bridge stopped");
        result
    }
}
