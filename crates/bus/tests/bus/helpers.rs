//! The test application: a broker, a registry, a bus configuration tuned for
//! fast group joins, and typed helpers to produce and read back messages.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
    message::OwnedMessage,
};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use tributary_bus::{
    BusConfig, ConsumerGroup, EventCodec, GroupStatus, Handler, HandlerError, RawProducer,
    Received, RunSummary, headers::event_headers,
};
use tributary_contracts::{Envelope, Event as _, events::UserRegistered};
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig,
};
use tributary_telemetry::Metrics;
use tributary_testkit::{TestBroker, unique_name, wait_until};
use uuid::Uuid;

pub struct TestApp {
    pub broker: TestBroker,
    pub registry: RegistryClient,
    pub codec: EventCodec,
    pub config: BusConfig,
    pub metrics: Metrics,
    stop_registry: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_registry.cancel();
    }
}

/// Settings that keep tansu group joins and retries quick.
pub fn fast_config(bootstrap: &str, registry_url: &str) -> BusConfig {
    let mut config = BusConfig::new(bootstrap, registry_url);
    config.connect_timeout = Duration::from_secs(10);
    config.producer.linger = Duration::from_millis(1);
    config.producer.delivery_timeout = Duration::from_secs(10);
    let c = &mut config.consumer;
    c.session_timeout = Duration::from_secs(6);
    c.heartbeat_interval = Duration::from_millis(500);
    c.commit_interval = Duration::from_millis(200);
    c.drain_timeout = Duration::from_secs(5);
    c.statistics_interval = Duration::from_secs(1);
    c.retry.max_attempts = 3;
    c.retry.initial_backoff = Duration::from_millis(200);
    c.retry.multiplier = 2.0;
    c.retry.max_backoff = Duration::from_millis(600);
    config
        .librdkafka
        .insert("topic.metadata.refresh.interval.ms".into(), "1000".into());
    config
}

impl TestApp {
    pub async fn start() -> TestApp {
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
        let registry = RegistryClient::new(&registry_url, RegistryClientConfig::default())
            .expect("registry client");
        let config = fast_config(broker.bootstrap_servers(), &registry_url);
        TestApp {
            codec: EventCodec::new(registry.clone()),
            registry,
            config,
            metrics: Metrics::new(),
            broker,
            stop_registry,
        }
    }

    /// A fresh topic with `partitions` partitions.
    pub async fn topic(&self, partitions: i32) -> String {
        let name = unique_name("t");
        self.broker.create_topic(&name, partitions).await;
        name
    }

    pub async fn raw_producer(&self) -> RawProducer {
        RawProducer::connect(&self.config, self.metrics.clone())
            .await
            .expect("producer connects")
    }

    /// Produces `event` to `topic` (not its contract topic, so tests can use
    /// random topics) exactly as the typed producer would frame it.
    pub async fn produce_event(&self, producer: &RawProducer, topic: &str, event: &UserRegistered) {
        let payload = self.codec.encode(event).await.expect("encode");
        // Carry the caller's trace context, as the typed producer does.
        let trace = tributary_telemetry::inject(&tracing::Span::current());
        let headers = event_headers(event.envelope(), UserRegistered::EVENT_TYPE, trace);
        producer
            .send_raw(topic, Some(event.key().as_bytes()), &payload, &headers)
            .await
            .expect("produce");
    }

    /// Starts a member of `group` on `topics`; returns its run task, its
    /// status and the token that stops it.
    pub fn spawn_group(&self, group: &str, topics: &[&str], handler: Arc<dyn Handler>) -> Member {
        let consumer = ConsumerGroup::new(
            self.config.clone(),
            group,
            topics.iter().copied(),
            self.codec.clone(),
            handler,
        )
        .with_metrics(self.metrics.clone());
        let status = consumer.status();
        let stop = CancellationToken::new();
        let task = tokio::spawn(consumer.run(stop.clone()));
        Member { status, stop, task }
    }
}

pub struct Member {
    pub status: watch::Receiver<GroupStatus>,
    pub stop: CancellationToken,
    pub task: JoinHandle<Result<RunSummary, tributary_bus::ConsumeError>>,
}

impl Member {
    /// Source-topic partitions this member owns (retry topics excluded).
    pub fn owned(&self, topic: &str) -> usize {
        self.status
            .borrow()
            .assigned
            .iter()
            .filter(|(t, _)| t == topic)
            .count()
    }

    pub async fn stop(self) -> RunSummary {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("member stops within its drain deadline")
            .expect("run task joins")
            .expect("run ends without error")
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

/// Records every event id a group handled, with how often.
#[derive(Default)]
pub struct Recorder {
    pub seen: Mutex<HashMap<Uuid, u32>>,
    pub received: Mutex<Vec<Received>>,
    /// Slows every event down, to keep messages in flight.
    pub delay: Option<Duration>,
}

impl Recorder {
    pub fn slow(delay: Duration) -> Self {
        Recorder {
            delay: Some(delay),
            ..Recorder::default()
        }
    }

    pub fn distinct(&self) -> usize {
        self.seen.lock().expect("lock").len()
    }

    pub fn counts(&self) -> HashMap<Uuid, u32> {
        self.seen.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: Received) -> Result<(), HandlerError> {
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        *self
            .seen
            .lock()
            .expect("lock")
            .entry(event.event.envelope().event_id)
            .or_default() += 1;
        self.received.lock().expect("lock").push(event);
        Ok(())
    }
}

/// Waits until every member of `members` owns at least one partition of
/// `topic` and together they own all `partitions` of it.
pub async fn wait_assigned(members: &[&Member], topic: &str, partitions: usize) {
    wait_until(
        Duration::from_secs(60),
        "the group to assign every partition",
        || async {
            let owned: Vec<usize> = members.iter().map(|m| m.owned(topic)).collect();
            owned.iter().all(|n| *n > 0) && owned.iter().sum::<usize>() == partitions
        },
    )
    .await;
}

pub use tributary_testkit::read_topic;

/// The header `name` of `message` as text.
pub fn header(message: &OwnedMessage, name: &str) -> Option<String> {
    use rdkafka::message::Headers as _;
    message.headers().and_then(|h| {
        h.iter()
            .filter(|h| h.key == name)
            .last()
            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
    })
}

/// The high watermark of partition `partition` of `topic`.
pub async fn high_watermark(bootstrap: &str, topic: &str, partition: i32) -> i64 {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("watermark client");
        consumer
            .fetch_watermarks(&topic, partition, Duration::from_secs(5))
            .expect("watermarks")
            .1
    })
    .await
    .expect("watermark task")
}

/// Waits until `group` has committed offsets on `topic` covering `total`
/// messages (the sum over partitions of the committed offsets).
pub async fn wait_committed(app: &TestApp, group: &str, topic: &str, total: i64) {
    let bootstrap = app.broker.bootstrap_servers().to_owned();
    let (group, topic) = (group.to_owned(), topic.to_owned());
    wait_until(
        Duration::from_secs(30),
        "the group to commit every handled offset",
        || {
            let (bootstrap, group, topic) = (bootstrap.clone(), group.clone(), topic.clone());
            async move {
                tokio::task::spawn_blocking(move || committed_total(&bootstrap, &group, &topic))
                    .await
                    .expect("committed offsets task")
                    == total
            }
        },
    )
    .await;
}

fn committed_total(bootstrap: &str, group: &str, topic: &str) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("offsets client");
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return -1;
    };
    let mut tpl = TopicPartitionList::new();
    for t in metadata.topics() {
        for p in t.partitions() {
            tpl.add_partition(topic, p.id());
        }
    }
    let Ok(committed) = consumer.committed_offsets(tpl, Duration::from_secs(5)) else {
        return -1;
    };
    committed
        .elements()
        .iter()
        .map(|e| match e.offset() {
            Offset::Offset(n) => n,
            _ => 0,
        })
        .sum()
}

/// The W3C trace id of the current span, if it has one.
pub fn current_trace_id() -> Option<String> {
    tributary_telemetry::inject(&tracing::Span::current())
        .and_then(|h| h.traceparent.split('-').nth(1).map(str::to_owned))
}
