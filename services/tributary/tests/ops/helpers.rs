//! The test application: a broker, a registry, and typed helpers to produce
//! records (with explicit timestamps and headers) and to consume as a group.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, Message as _,
    consumer::{BaseConsumer, Consumer as _},
    message::{Header, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use tokio_util::sync::CancellationToken;
use tributary::ops::Cluster;
use tributary_broker::Storage;
use tributary_bus::EventCodec;
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig,
};
use tributary_testkit::{TestBroker, unique_name, wait_until};

pub struct TestApp {
    pub broker: TestBroker,
    pub registry_url: String,
    pub codec: EventCodec,
    pub cluster: Cluster,
    producer: FutureProducer,
    stop_registry: CancellationToken,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop_registry.cancel();
    }
}

/// One record as the broker returned it to a group member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: i64,
}

impl TestApp {
    pub async fn start() -> TestApp {
        Self::with_broker(TestBroker::start().await).await
    }

    /// A test application whose broker keeps its data on `storage`.
    pub async fn start_on(storage: Storage) -> TestApp {
        Self::with_broker(TestBroker::start_on(storage).await).await
    }

    async fn with_broker(broker: TestBroker) -> TestApp {
        let config = RegistryConfig {
            listen: "127.0.0.1:0".into(),
            bootstrap_servers: broker.bootstrap_servers().to_owned(),
            topic: unique_name("_schemas"),
            ..RegistryConfig::default()
        };
        let server = Registry::build(config).await.expect("registry starts");
        let registry_url = format!("http://{}", server.local_addr());
        let stop_registry = CancellationToken::new();
        tokio::spawn(server.run_until(stop_registry.clone().cancelled_owned()));
        let registry =
            RegistryClient::new(&registry_url, RegistryClientConfig::default()).expect("client");
        let producer: FutureProducer = broker
            .client_config()
            .set("linger.ms", "1")
            .create()
            .expect("producer");
        TestApp {
            cluster: Cluster::connect(broker.bootstrap_servers()).expect("cluster"),
            codec: EventCodec::new(registry),
            registry_url,
            producer,
            broker,
            stop_registry,
        }
    }

    pub async fn topic(&self, name: &str, partitions: i32) -> String {
        self.broker.create_topic(name, partitions).await;
        name.to_owned()
    }

    /// Produces one record to an explicit partition with an explicit timestamp.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        key: &str,
        payload: &[u8],
        headers: &[(&str, &str)],
        timestamp_ms: Option<i64>,
    ) -> i64 {
        let mut h = OwnedHeaders::new();
        for (n, v) in headers {
            h = h.insert(Header {
                key: n,
                value: Some(v.as_bytes()),
            });
        }
        let mut record = FutureRecord::to(topic)
            .partition(partition)
            .key(key)
            .payload(payload)
            .headers(h);
        if let Some(ts) = timestamp_ms {
            record = record.timestamp(ts);
        }
        let delivery = self
            .producer
            .send(record, Duration::from_secs(10))
            .await
            .expect("delivered");
        delivery.offset
    }

    /// The group's committed offsets on `topic` (all partitions).
    pub async fn committed(&self, group: &str, topic: &str) -> BTreeMap<i32, Option<i64>> {
        let ids = self.cluster.partitions(topic).await.expect("partitions");
        self.cluster
            .committed(group, topic, &ids)
            .await
            .expect("committed")
    }

    /// Joins `group` on `topic` as a real member and reads until `done`
    /// says the records seen so far are complete (or panics after a minute).
    pub async fn consume_as_group(
        &self,
        group: &str,
        topic: &str,
        done: impl Fn(&[Seen]) -> bool + Send + 'static,
    ) -> Vec<Seen> {
        let consumer = self.member(group, topic);
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut seen = Vec::new();
            while !done(&seen) {
                assert!(
                    Instant::now() < deadline,
                    "group did not consume in time; seen {seen:?}"
                );
                if let Some(m) = consumer.poll(Duration::from_millis(200)) {
                    let m = m.expect("consume");
                    seen.push(Seen {
                        partition: m.partition(),
                        offset: m.offset(),
                        timestamp_ms: m.timestamp().to_millis().expect("timestamp"),
                    });
                }
            }
            seen
        })
        .await
        .expect("consumer thread")
    }

    /// An active member of `group` polling in the background until the
    /// returned flag is set.
    pub fn spawn_member(&self, group: &str, topic: &str) -> Arc<AtomicBool> {
        let consumer = self.member(group, topic);
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        tokio::task::spawn_blocking(move || {
            while !flag.load(Ordering::Relaxed) {
                let _ = consumer.poll(Duration::from_millis(100));
            }
        });
        stop
    }

    /// An active member of `group` on `topic` that the broker reports in
    /// its group list before this returns; it leaves when dropped.
    ///
    /// The group first commits the end of `topic`, as a running service's
    /// group would have. On memory storage the member would be invisible
    /// without it: that storage answers ListGroups with only the groups that
    /// have committed offsets (it lists the `groups/consumers/<group>/`
    /// prefixes where offsets are kept, not the `<group>.json` objects that
    /// hold the membership), and librdkafka describes only listed groups.
    pub async fn active_member(&self, group: &str, topic: &str) -> Member {
        let ids = self.cluster.partitions(topic).await.expect("partitions");
        let marks = self
            .cluster
            .watermarks(topic, &ids)
            .await
            .expect("watermarks");
        let ends: BTreeMap<i32, i64> = marks.iter().map(|(&p, &(_, high))| (p, high)).collect();
        self.cluster
            .commit(group, topic, &ends)
            .await
            .expect("commit the end of the topic");
        let member = Member {
            stop: self.spawn_member(group, topic),
        };
        let cluster = self.cluster.clone();
        let name = group.to_owned();
        wait_until(
            Duration::from_secs(60),
            &format!("a member of {group} in the broker's group list"),
            || {
                let cluster = cluster.clone();
                let name = name.clone();
                async move {
                    cluster
                        .groups(Some(&name))
                        .await
                        .is_ok_and(|gs| gs.iter().any(|g| !g.members.is_empty()))
                }
            },
        )
        .await;
        member
    }

    fn member(&self, group: &str, topic: &str) -> BaseConsumer {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", self.broker.bootstrap_servers())
            .set("group.id", group)
            .set("auto.offset.reset", "latest")
            .set("enable.auto.commit", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "500")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        consumer
    }

    /// Runs the `tributary` binary with the broker's and registry's
    /// addresses; returns (success, stdout, stderr).
    pub async fn cli(&self, args: &[&str]) -> (bool, String, String) {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(args)
            .args(["--bootstrap-servers", self.broker.bootstrap_servers()])
            .args(["--registry-url", &self.registry_url])
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("run tributary");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// A group member polling on a blocking thread. Dropping it (also while a
/// failed test unwinds) stops the thread, which closes the consumer and so
/// leaves the group; without that the test's runtime would wait for the
/// thread forever on shutdown.
#[derive(Debug)]
pub struct Member {
    stop: Arc<AtomicBool>,
}

impl Drop for Member {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Unix ms now.
pub fn now_ms() -> i64 {
    tributary::ops::time::now_ms()
}
