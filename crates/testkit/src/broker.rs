use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use rdkafka::{
    ClientConfig,
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    consumer::{BaseConsumer, Consumer},
    types::RDKafkaErrorCode,
};
use tempfile::TempDir;
use tributary_broker::{BrokerError, BrokerOptions, BrokerProcess, Storage, free_local_port};

use crate::wait_until;

/// A real tansu broker on an ephemeral port, killed when dropped.
///
/// Memory storage by default: nothing touches the disk and a broker starts
/// in well under a second. [`TestBroker::start_on`] picks SQLite, the storage
/// `tributary up` runs on, for tests of what differs between the two.
/// `tests/broker.rs` pins the fixes `scripts/setup` applies to tansu 0.6.0
/// (`scripts/tansu/fixes.patch`).
#[derive(Debug)]
pub struct TestBroker {
    process: BrokerProcess,
    bootstrap: String,
    // Holds the broker's working directory (and log) for the test's lifetime.
    _dir: TempDir,
}

impl TestBroker {
    /// Starts a broker with memory storage and waits until it answers
    /// metadata requests.
    pub async fn start() -> TestBroker {
        Self::start_on(Storage::Memory).await
    }

    /// [`TestBroker::start`] on the given storage.
    pub async fn start_on(storage: Storage) -> TestBroker {
        crate::init_test_tracing();
        let dir = tempfile::tempdir().expect("create a temporary directory for the broker");
        let mut last_error = None;
        // A free port can be taken between asking for it and the broker
        // binding it; a few attempts make that race irrelevant.
        for _ in 0..3 {
            let port = free_local_port().expect("ask the kernel for a free port");
            let options = BrokerOptions::new(
                SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                storage.clone(),
                dir.path(),
            );
            match BrokerProcess::spawn(options).await {
                Ok(process) => {
                    let bootstrap = process.bootstrap_servers();
                    let broker = TestBroker {
                        process,
                        bootstrap,
                        _dir: dir,
                    };
                    broker.wait_for_metadata().await;
                    return broker;
                }
                Err(e @ BrokerError::NotInstalled { .. }) => panic!("{e}"),
                Err(e) => last_error = Some(e),
            }
        }
        panic!(
            "the test broker did not start: {}",
            last_error.map(|e| e.to_string()).unwrap_or_default()
        );
    }

    /// `bootstrap.servers` for clients of this broker.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap
    }

    /// A client configuration pointing at this broker.
    pub fn client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap);
        config
    }

    /// The broker process, for fault tests (its pid, its log).
    pub fn process(&self) -> &BrokerProcess {
        &self.process
    }

    /// Creates a topic, tolerating one that already exists.
    pub async fn create_topic(&self, name: &str, partitions: i32) {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .expect("create an admin client");
        let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin
            .create_topics([&topic], &options)
            .await
            .expect("send CreateTopics to the test broker");
        for result in results {
            match result {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((topic, code)) => panic!("creating topic {topic} failed: {code}"),
            }
        }
        let bootstrap = self.bootstrap.clone();
        let name = name.to_owned();
        wait_until(
            Duration::from_secs(10),
            &format!("topic {name} to have {partitions} partitions in metadata"),
            || {
                let bootstrap = bootstrap.clone();
                let name = name.clone();
                async move { partition_count(&bootstrap, &name).await == Some(partitions as usize) }
            },
        )
        .await;
    }

    async fn wait_for_metadata(&self) {
        let bootstrap = self.bootstrap.clone();
        let log = self.process.log_path().display().to_string();
        wait_until(
            Duration::from_secs(30),
            &format!("the test broker at {bootstrap} to answer metadata (log: {log})"),
            || {
                let bootstrap = bootstrap.clone();
                async move { broker_count(&bootstrap).await > 0 }
            },
        )
        .await;
    }
}

async fn broker_count(bootstrap: &str) -> usize {
    let bootstrap = bootstrap.to_owned();
    tokio::task::spawn_blocking(move || {
        metadata_consumer(&bootstrap)
            .and_then(|c| c.fetch_metadata(None, Duration::from_secs(2)).ok())
            .map(|m| m.brokers().len())
            .unwrap_or(0)
    })
    .await
    .unwrap_or(0)
}

async fn partition_count(bootstrap: &str, topic: &str) -> Option<usize> {
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    tokio::task::spawn_blocking(move || {
        let metadata = metadata_consumer(&bootstrap)?
            .fetch_metadata(Some(&topic), Duration::from_secs(2))
            .ok()?;
        metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().len())
    })
    .await
    .ok()
    .flatten()
}

fn metadata_consumer(bootstrap: &str) -> Option<BaseConsumer> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "false")
        .create()
        .ok()
}
