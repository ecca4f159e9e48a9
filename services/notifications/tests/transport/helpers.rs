//! The test environment: broker, registry, view store directory, a channel
//! that records deliveries, and the service running on a chosen transport.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use tempfile::TempDir;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;
use tributary_bus::{BusConfig, EventCodec};
use tributary_notifications::{
    NotificationsConfig,
    channel::{Channel, ChannelError},
    definition_with_channel,
    domain::Notification,
};
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig,
};
use tributary_service::{Application, RunError, ServiceConfig, SourceFactory};
use tributary_telemetry::{Metrics, labels::TopicGroupLabels};
use tributary_testkit::{TestBroker, unique_name, wait_until};

/// The service's consumer group (and RabbitMQ queue without prefix).
pub const GROUP: &str = "tributary.notifications";

/// Records every delivery.
#[derive(Debug, Default)]
pub struct Recorder(Mutex<Vec<Notification>>);

impl Recorder {
    pub fn delivered(&self) -> Vec<Notification> {
        self.0.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Channel for Recorder {
    fn name(&self) -> &'static str {
        "recording"
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), ChannelError> {
        self.0.lock().expect("lock").push(notification.clone());
        Ok(())
    }
}

pub struct Env {
    pub broker: TestBroker,
    pub codec: EventCodec,
    pub registry_url: String,
    data: TempDir,
    stop_registry: CancellationToken,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.stop_registry.cancel();
    }
}

impl Env {
    /// A broker with the consumed topics and `notifications`, and a registry
    /// holding every contract schema.
    pub async fn start() -> Env {
        tributary_telemetry::init_test_tracing();
        let broker = TestBroker::start().await;
        for (topic, partitions) in [("orders", 2), ("users", 1), ("notifications", 1)] {
            broker.create_topic(topic, partitions).await;
        }
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
        let codec = EventCodec::new(
            RegistryClient::new(&registry_url, RegistryClientConfig::default()).expect("client"),
        );
        codec.register_catalog().await.expect("schemas register");
        Env {
            broker,
            codec,
            registry_url,
            data: tempfile::tempdir().expect("data dir"),
            stop_registry,
        }
    }

    /// Settings that keep group joins, retries and shutdown quick.
    pub fn config(&self) -> ServiceConfig {
        let mut bus = BusConfig::new(self.broker.bootstrap_servers(), &self.registry_url);
        bus.connect_timeout = Duration::from_secs(10);
        bus.producer.linger = Duration::from_millis(1);
        bus.producer.delivery_timeout = Duration::from_secs(10);
        let c = &mut bus.consumer;
        c.session_timeout = Duration::from_secs(6);
        c.heartbeat_interval = Duration::from_millis(500);
        c.commit_interval = Duration::from_millis(200);
        c.drain_timeout = Duration::from_secs(5);
        c.retry.max_attempts = 2;
        c.retry.initial_backoff = Duration::from_millis(100);
        c.retry.max_backoff = Duration::from_millis(200);
        bus.librdkafka
            .insert("topic.metadata.refresh.interval.ms".into(), "1000".into());
        let mut config = ServiceConfig {
            bus,
            views: tributary_views::ViewsConfig::embedded(self.data.path()),
            http_listen: "127.0.0.1:0".parse().expect("address"),
            shutdown_deadline: Duration::from_secs(20),
            ..ServiceConfig::default()
        };
        config.outbox.poll_interval = Duration::from_millis(100);
        config
    }
}

/// The notifications service running on one transport.
pub struct Running {
    pub channel: Arc<Recorder>,
    pub metrics: Metrics,
    addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<Result<(), RunError>>>,
}

impl Running {
    pub async fn start(env: &Env, sources: &dyn SourceFactory) -> Running {
        let channel = Arc::new(Recorder::default());
        let definition = definition_with_channel(NotificationsConfig::default(), channel.clone());
        let metrics = Metrics::new();
        let app =
            Application::build_with_source(definition, env.config(), metrics.clone(), sources)
                .await
                .expect("the notifications service builds");
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        Running {
            channel,
            metrics,
            addr,
            stop,
            task: Some(task),
        }
    }

    /// The status line and body of `GET path`.
    pub async fn get(&self, path: &str) -> String {
        let Ok(mut stream) = tokio::net::TcpStream::connect(self.addr).await else {
            return String::new();
        };
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        if stream.write_all(request.as_bytes()).await.is_err() {
            return String::new();
        }
        let mut response = String::new();
        let _ = stream.read_to_string(&mut response).await;
        response
    }

    pub async fn wait_ready(&self) {
        wait_until(
            Duration::from_secs(60),
            "/health/ready to answer 200",
            || async { self.get("/health/ready").await.starts_with("HTTP/1.1 200") },
        )
        .await;
    }

    /// Events of `topic` recognised as already processed and skipped.
    pub fn duplicates(&self, topic: &str) -> u64 {
        let labels = TopicGroupLabels {
            topic: topic.to_owned(),
            group: GROUP.to_owned(),
        };
        self.metrics.events_duplicate().get_or_create(&labels).get()
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        let task = self.task.take().expect("running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("stops within its deadline")
            .expect("run task joins")
            .expect("run ends without error");
    }
}

/// A test that fails before `stop` still stops the service.
impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
