//! The test application: broker, registry, a bridge configuration with
//! unique names, an AMQP client, and typed helpers.

use std::time::Duration;

use futures::StreamExt as _;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable},
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_bridge::{
    Bridge, BridgeConfig, BridgeError, BridgeStats, QueueType, names::Names, topology,
};
use tributary_bus::{BusConfig, EventCodec, RawProducer, headers::event_headers};
use tributary_contracts::{
    Envelope, Event,
    events::{OrderConfirmed, UserRegistered},
};
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig,
};
use tributary_telemetry::Metrics;
use tributary_testkit::{TestBroker, unique_name, wait_until};
use uuid::Uuid;

pub fn amqp_url() -> String {
    std::env::var("TRIBUTARY_AMQP_URL")
        .unwrap_or_else(|_| tributary_bridge::defaults::AMQP_URL.to_owned())
}

pub struct TestApp {
    pub broker: TestBroker,
    pub codec: EventCodec,
    pub bus: BusConfig,
    pub config: BridgeConfig,
    pub names: Names,
    pub amqp: Connection,
    pub channel: Channel,
    pub metrics: Metrics,
    stop_registry: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_registry.cancel();
    }
}

/// Settings that keep tansu group joins quick.
fn fast_bus(bootstrap: &str, registry_url: &str) -> BusConfig {
    let mut config = BusConfig::new(bootstrap, registry_url);
    config.producer.linger = Duration::from_millis(1);
    config.producer.delivery_timeout = Duration::from_secs(10);
    let c = &mut config.consumer;
    c.session_timeout = Duration::from_secs(6);
    c.heartbeat_interval = Duration::from_millis(500);
    c.commit_interval = Duration::from_millis(200);
    c.drain_timeout = Duration::from_secs(5);
    c.retry.initial_backoff = Duration::from_millis(200);
    c.retry.max_backoff = Duration::from_millis(600);
    config
        .librdkafka
        .insert("topic.metadata.refresh.interval.ms".into(), "1000".into());
    config
}

impl TestApp {
    /// Broker, registry and Kafka topics `orders` and `users` (2 partitions
    /// each) under a unique prefix; the bridge configured for them.
    pub async fn start(queue_type: QueueType) -> TestApp {
        tributary_telemetry::init_test_tracing();
        let broker = TestBroker::start().await;
        let registry_config = RegistryConfig {
            listen: "127.0.0.1:0".into(),
            bootstrap_servers: broker.bootstrap_servers().to_owned(),
            topic: unique_name("_schemas"),
            ..RegistryConfig::default()
        };
        let server = Registry::build(registry_config)
            .await
            .expect("registry starts");
        let registry_url = format!("http://{}", server.local_addr());
        let stop_registry = CancellationToken::new();
        tokio::spawn(server.run_until(stop_registry.clone().cancelled_owned()));
        let registry =
            RegistryClient::new(&registry_url, RegistryClientConfig::default()).expect("client");
        let codec = EventCodec::new(registry);
        codec.register_catalog().await.expect("schemas register");

        let kafka_prefix = format!("{}.", unique_name("k"));
        let amqp_prefix = format!("{}.", unique_name("test.bridge"));
        for topic in ["orders", "users"] {
            broker
                .create_topic(&format!("{kafka_prefix}{topic}"), 2)
                .await;
        }
        let config = BridgeConfig {
            amqp_url: amqp_url(),
            queue_type,
            topics: vec!["orders".into(), "users".into()],
            kafka_topic_prefix: kafka_prefix.clone(),
            amqp_name_prefix: amqp_prefix.clone(),
            group: unique_name("tributary.bridge"),
            reconnect_initial_backoff: Duration::from_millis(100),
            reconnect_max_backoff: Duration::from_secs(1),
            ..BridgeConfig::default()
        };
        let amqp = Connection::connect(&config.amqp_url, ConnectionProperties::default())
            .await
            .expect("rabbitmq reachable (run scripts/ensure-rabbitmq)");
        let channel = amqp.create_channel().await.expect("channel");
        TestApp {
            bus: fast_bus(broker.bootstrap_servers(), &registry_url),
            names: Names::new(&amqp_prefix, &kafka_prefix),
            broker,
            codec,
            config,
            amqp,
            channel,
            metrics: Metrics::new(),
            stop_registry,
        }
    }

    pub async fn bridge(&self) -> RunningBridge {
        self.bridge_with(self.config.clone()).await
    }

    pub async fn bridge_with(&self, config: BridgeConfig) -> RunningBridge {
        let bridge = Bridge::build(config, self.bus.clone(), self.metrics.clone())
            .await
            .expect("bridge builds");
        let stats = bridge.stats();
        let status = bridge.group_status();
        let connected = bridge.connected();
        let stop = CancellationToken::new();
        let task = tokio::spawn(bridge.run(stop.clone()));
        wait_until(
            Duration::from_secs(30),
            "the bridge to connect to rabbitmq",
            || {
                let up = connected();
                async move { up }
            },
        )
        .await;
        if let Some(status) = status {
            let want = 4; // two topics with two partitions each
            wait_until(
                Duration::from_secs(60),
                "the bridge group to own every partition",
                || {
                    let owned = status
                        .borrow()
                        .assigned
                        .iter()
                        .filter(|(t, _)| !t.ends_with(".retry"))
                        .count();
                    async move { owned == want }
                },
            )
            .await;
        }
        RunningBridge { stats, stop, task }
    }

    pub fn kafka_topic(&self, topic: &str) -> String {
        self.names.kafka_topic(topic)
    }

    pub async fn producer(&self) -> RawProducer {
        RawProducer::connect(&self.bus, self.metrics.clone())
            .await
            .expect("producer")
    }

    /// Produces `event` to its contract topic (under the test prefix) as the
    /// platform's producer would: framed, with event headers and a trace.
    pub async fn produce<E: Event>(&self, producer: &RawProducer, event: &E) -> Vec<u8> {
        let payload = self.codec.encode(event).await.expect("encode");
        let mut headers = event_headers(event.envelope(), E::EVENT_TYPE, None);
        headers.set(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        producer
            .send_raw(
                &self.kafka_topic(E::TOPIC),
                Some(event.key().as_bytes()),
                &payload,
                &headers,
            )
            .await
            .expect("produce");
        payload
    }

    /// A durable queue bound to `exchange` with `#` (declares the exchange
    /// as the bridge does, so the order of start-up does not matter).
    pub async fn subscribe(&self, exchange: &str) -> String {
        let queue = format!("{}{}", self.config.amqp_name_prefix, unique_name("sub"));
        self.channel
            .exchange_declare(
                exchange.into(),
                lapin::ExchangeKind::Topic,
                lapin::options::ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("exchange");
        self.channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await
            .expect("queue");
        self.channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("bind");
        queue
    }

    /// Reads (and acks) `n` messages from `queue`.
    pub async fn take(&self, queue: &str, n: usize) -> Vec<Delivery> {
        let channel = self.amqp.create_channel().await.expect("channel");
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                unique_name("taker").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume");
        let mut out = Vec::new();
        while out.len() < n {
            let next = tokio::time::timeout(Duration::from_secs(30), consumer.next())
                .await
                .unwrap_or_else(|_| panic!("{} of {n} messages from {queue}", out.len()));
            let delivery = next.expect("stream open").expect("delivery");
            delivery.ack(BasicAckOptions::default()).await.expect("ack");
            out.push(delivery);
        }
        let _ = channel.close(200, "done".into()).await;
        out
    }

    pub async fn publish(
        &self,
        exchange: &str,
        routing_key: &str,
        payload: &[u8],
        properties: BasicProperties,
    ) {
        self.channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .expect("publish");
    }

    /// Deletes the test's AMQP objects (best effort).
    pub async fn cleanup(&self, extra_queues: &[&str]) {
        let mut declared = self.names.declared(["orders", "users"]);
        declared
            .queues
            .extend(extra_queues.iter().map(|q| (*q).to_owned()));
        let _ = topology::delete(&self.channel, &declared).await;
    }
}

pub struct RunningBridge {
    pub stats: std::sync::Arc<BridgeStats>,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<(), BridgeError>>,
}

impl RunningBridge {
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("bridge stops in time")
            .expect("bridge task joins")
            .expect("bridge ran without error");
    }
}

pub fn user(n: usize) -> UserRegistered {
    let user_id = Uuid::new_v4();
    UserRegistered {
        envelope: Envelope::originating("tests", user_id.to_string(), 1_700_000_000_000 + n as i64),
        user_id,
        email: format!("user{n}@example.com"),
        name: format!("User {n}"),
        role: "customer".into(),
    }
}

pub fn confirmed(n: usize) -> OrderConfirmed {
    let order_id = Uuid::new_v4();
    OrderConfirmed {
        envelope: Envelope::originating(
            "tests",
            order_id.to_string(),
            1_700_000_000_000 + n as i64,
        ),
        order_id,
        customer_id: Uuid::new_v4(),
        total_cents: 1000 + n as i64,
    }
}

/// The AMQP header `name` as bytes.
pub fn amqp_header(delivery: &Delivery, name: &str) -> Option<Vec<u8>> {
    delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|t| t.inner().get(name))
        .and_then(tributary_bridge::properties::value_bytes)
}

/// An AMQP header table from text pairs.
pub fn table(pairs: &[(&str, &str)]) -> FieldTable {
    let mut t = FieldTable::default();
    for (k, v) in pairs {
        t.insert((*k).into(), AMQPValue::LongString((*v).into()));
    }
    t
}

pub use tributary_testkit::read_topic;
