//! The test environment: a broker, a registry, the contract topics, a data
//! directory, and a tiny counting service to run on them.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use axum::{
    Router,
    body::Body,
    extract::State,
    http::{Request, StatusCode},
    routing::{get, post},
};
use rdkafka::{Message as _, message::OwnedMessage};
use serde::{Deserialize, Serialize};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tributary_bus::{BusConfig, EventCodec, EventProducer, HandlerError, Received};
use tributary_contracts::{
    Envelope,
    events::{AnyEvent, NotificationKind, NotificationSent, UserRegistered},
};
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig,
};
use tributary_service::{
    ApiError, ApiJson, Application, Effects, JsonTable, Projector, RunError, ServiceConfig,
    ServiceContext, ServiceDefinition,
};
use tributary_telemetry::Metrics;
use tributary_testkit::{TestBroker, unique_name, wait_until};
use tributary_views::{Expect, Outcome, TableDef, ViewStore};
use uuid::Uuid;

pub const COUNTS_DEF: TableDef = TableDef {
    name: "counts",
    doc: "partition = \"all\": how many users registered",
};
pub const COUNTS: JsonTable<Count> = JsonTable::new(COUNTS_DEF);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub count: u64,
}

/// Counts `UserRegistered` events and emits a welcome `NotificationSent`
/// for each; a user named `poison` can never be handled.
pub struct CountingProjector {
    pub service: &'static str,
    /// Pause between reading and deciding, to make replicas collide.
    pub delay: Duration,
}

#[async_trait]
impl Projector for CountingProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> Result<Effects, HandlerError> {
        let AnyEvent::UserRegistered(user) = &event.event else {
            return Ok(Effects::none());
        };
        if user.name == "poison" {
            return Err(HandlerError::permanent("users named poison are refused"));
        }
        let current = COUNTS
            .get(view, "all", "")
            .await
            .map_err(HandlerError::retryable)?;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        let (count, expect) = match current {
            Some(row) => (row.value.count + 1, Expect::Version(row.version)),
            None => (1, Expect::Absent),
        };
        let write = COUNTS
            .put("all", "", &Count { count }, expect)
            .map_err(HandlerError::permanent)?;
        let envelope = Envelope::caused_by(
            &user.envelope,
            "test.welcome",
            self.service,
            user.envelope.occurred_at,
        );
        let welcome = NotificationSent {
            notification_id: envelope.event_id,
            envelope,
            recipient: user.email.clone(),
            channel: "email".into(),
            kind: NotificationKind::Welcome,
            subject_id: user.user_id.to_string(),
        };
        Ok(Effects::none()
            .write(write)
            .emit(AnyEvent::NotificationSent(welcome)))
    }
}

/// Body of `POST /users` of the test service.
#[derive(Debug, Deserialize)]
struct Registration {
    email: String,
    name: String,
}

/// The counting service: consumes `users`, serves `POST /users` (commits a
/// `UserRegistered` through the outbox, idempotent per email) and
/// `GET /count`.
pub fn counting_service(name: &'static str, delay: Duration) -> ServiceDefinition {
    ServiceDefinition::new(name)
        .with_tables([COUNTS_DEF])
        .consuming(
            ["users"],
            Arc::new(CountingProjector {
                service: name,
                delay,
            }),
        )
        .with_routes(|ctx| {
            Router::new()
                .route("/users", post(register))
                .route("/count", get(count))
                .with_state(ctx)
        })
}

async fn register(
    State(ctx): State<ServiceContext>,
    ApiJson(body): ApiJson<Registration>,
) -> Result<(StatusCode, ApiJson<serde_json::Value>), ApiError> {
    let user_id = Uuid::new_v5(&Uuid::NAMESPACE_URL, body.email.as_bytes());
    let mut envelope = Envelope::originating(ctx.name(), user_id.to_string(), ctx.now_ms());
    envelope.event_id = user_id;
    let event = UserRegistered {
        envelope,
        user_id,
        email: body.email,
        name: body.name,
        role: "customer".into(),
    };
    let effects = Effects::none().emit(AnyEvent::UserRegistered(event));
    // The request's own id (one per email) makes the command idempotent.
    let request_id = Uuid::new_v5(&user_id, b"register");
    let status = match ctx.commit(Some(request_id), effects).await? {
        Outcome::Applied => StatusCode::CREATED,
        Outcome::Duplicate => StatusCode::OK,
        Outcome::Conflict { .. } => return Err(ApiError::conflict("try again")),
    };
    Ok((status, ApiJson(serde_json::json!({ "id": user_id }))))
}

async fn count(State(ctx): State<ServiceContext>) -> Result<ApiJson<Count>, ApiError> {
    let row = COUNTS.get(ctx.store(), "all", "").await?;
    Ok(ApiJson(row.map_or(Count { count: 0 }, |r| r.value)))
}

/// A service name no other test uses (also names its store file and group).
pub fn service_name() -> &'static str {
    let name = format!("t_{}", &Uuid::new_v4().simple().to_string()[..12]);
    Box::leak(name.into_boxed_str())
}

pub fn user(name: &str) -> UserRegistered {
    let user_id = Uuid::new_v4();
    UserRegistered {
        envelope: Envelope::originating("tests", user_id.to_string(), 1_700_000_000_000),
        user_id,
        email: format!("{user_id}@example.com"),
        name: name.into(),
        role: "customer".into(),
    }
}

pub struct TestEnv {
    pub broker: TestBroker,
    pub registry_url: String,
    pub data: TempDir,
    stop_registry: CancellationToken,
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        self.stop_registry.cancel();
    }
}

impl TestEnv {
    /// A broker with the `users` (3 partitions) and `notifications` topics,
    /// and a registry on a random schemas topic.
    pub async fn start() -> TestEnv {
        tributary_telemetry::init_test_tracing();
        let broker = TestBroker::start().await;
        broker.create_topic("users", 3).await;
        broker.create_topic("notifications", 1).await;
        let (registry_url, stop_registry) = start_registry(&broker).await;
        TestEnv {
            broker,
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
            shutdown_deadline: Duration::from_secs(20),
            ..ServiceConfig::default()
        };
        config.outbox.poll_interval = Duration::from_millis(100);
        config
    }

    pub async fn producer(&self) -> EventProducer {
        let registry = RegistryClient::new(&self.registry_url, RegistryClientConfig::default())
            .expect("registry client");
        EventProducer::connect(
            &self.config().bus,
            EventCodec::new(registry),
            Metrics::new(),
        )
        .await
        .expect("producer connects")
    }

    pub fn codec(&self) -> EventCodec {
        EventCodec::new(
            RegistryClient::new(&self.registry_url, RegistryClientConfig::default())
                .expect("registry client"),
        )
    }

    /// Every message of `topic` up to its current end.
    pub async fn read_all(&self, topic: &str) -> Vec<OwnedMessage> {
        tributary_testkit::read_to_end(self.broker.bootstrap_servers(), topic).await
    }

    /// The decoded events of `topic` up to its current end.
    pub async fn events(&self, topic: &str) -> Vec<AnyEvent> {
        let codec = self.codec();
        let mut events = Vec::new();
        for message in self.read_all(topic).await {
            let payload = message.payload().expect("payload");
            events.push(codec.decode(payload).await.expect("decodable event"));
        }
        events
    }
}

/// A registry on `broker` with its own schemas topic; returns its URL and
/// the token that stops it.
pub async fn start_registry(broker: &TestBroker) -> (String, CancellationToken) {
    let config = RegistryConfig {
        listen: "127.0.0.1:0".into(),
        bootstrap_servers: broker.bootstrap_servers().to_owned(),
        topic: unique_name("_schemas"),
        ..RegistryConfig::default()
    };
    let server = Registry::build(config).await.expect("registry starts");
    let url = format!("http://{}", server.local_addr());
    let stop = CancellationToken::new();
    tokio::spawn(server.run_until(stop.clone().cancelled_owned()));
    (url, stop)
}

/// A running application and the handles a test needs.
pub struct Running {
    pub context: ServiceContext,
    pub router: Router,
    pub addr: std::net::SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<Result<(), RunError>>,
}

impl Running {
    pub async fn start(definition: ServiceDefinition, config: ServiceConfig) -> Running {
        let app = Application::build(definition, config)
            .await
            .expect("application builds");
        let context = app.context().clone();
        let router = app.router();
        let addr = app.local_addr();
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until(stop.clone().cancelled_owned()));
        Running {
            context,
            router,
            addr,
            stop,
            task,
        }
    }

    /// `GET path` through the application's router.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("router answers");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .expect("body");
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    pub async fn wait_ready(&self) {
        wait_until(
            Duration::from_secs(60),
            "/health/ready to answer 200",
            || async { self.get("/health/ready").await.0 == StatusCode::OK },
        )
        .await;
    }

    pub async fn count(&self) -> u64 {
        COUNTS
            .get(self.context.store(), "all", "")
            .await
            .expect("read count")
            .map_or(0, |r| r.value.count)
    }

    pub async fn stop(mut self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), &mut self.task)
            .await
            .expect("stops within its deadline")
            .expect("run task joins")
            .expect("run ends without error");
    }
}

/// A test that fails before `stop` still stops the application, so its
/// consumer's blocking driver does not keep the test binary alive.
impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
