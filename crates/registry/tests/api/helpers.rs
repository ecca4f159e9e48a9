//! A registry server on port 0 over a real broker, with typed helpers.

use std::time::Duration;

use serde_json::Value;
use tokio::{sync::oneshot, task::JoinHandle};
use tributary_registry::{ClientConfig, Registry, RegistryClient, RegistryConfig, ServerError};
use tributary_testkit::{TestBroker, unique_name};

/// A small Avro record, version 1.
pub const V1: &str = r#"{"type":"record","name":"Thing","namespace":"test","fields":[{"name":"a","type":"string"}]}"#;
/// Version 1 plus a field with a default: BACKWARD compatible.
pub const V2: &str = r#"{"type":"record","name":"Thing","namespace":"test","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}"#;
/// Version 1 plus a field without a default: not BACKWARD compatible.
pub const BREAKING: &str = r#"{"type":"record","name":"Thing","namespace":"test","fields":[{"name":"a","type":"string"},{"name":"c","type":"int"}]}"#;

/// A broker plus one running registry on a fresh schemas topic.
pub struct TestApp {
    pub broker: TestBroker,
    pub topic: String,
    pub registry: RunningRegistry,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let broker = TestBroker::start().await;
        let topic = unique_name("_schemas");
        let registry = RunningRegistry::start(&broker, &topic).await;
        TestApp {
            broker,
            topic,
            registry,
        }
    }

    pub fn client(&self) -> &RegistryClient {
        &self.registry.client
    }
}

/// A registry server running in the background until stopped.
pub struct RunningRegistry {
    pub base_url: String,
    pub client: RegistryClient,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServerError>>>,
}

impl RunningRegistry {
    pub async fn start(broker: &TestBroker, topic: &str) -> RunningRegistry {
        let config = RegistryConfig {
            listen: "127.0.0.1:0".to_owned(),
            bootstrap_servers: broker.bootstrap_servers().to_owned(),
            topic: topic.to_owned(),
            startup_timeout: Duration::from_secs(30),
            ..RegistryConfig::default()
        };
        let registry = Registry::build(config).await.expect("registry starts");
        let base_url = format!("http://{}", registry.local_addr());
        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(registry.run_until(async move {
            let _ = stopped.await;
        }));
        let client_config = ClientConfig {
            timeout: Duration::from_secs(10),
            max_attempts: 3,
            backoff: Duration::from_millis(50),
        };
        let client = RegistryClient::new(&base_url, client_config).expect("client");
        RunningRegistry {
            base_url,
            client,
            http: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// Shuts the server down gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(20), task)
                .await
                .expect("registry stops in time");
            result
                .expect("registry task")
                .expect("registry ran without error");
        }
    }

    /// Sends a request with an optional JSON body; returns status and JSON answer.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/vnd.schemaregistry.v1+json")
                .body(body.to_owned());
        }
        let response = request.send().await.expect("registry answers");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("answer to {path} is not JSON ({e}): {text}"));
        (status, json)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &str) -> (u16, Value) {
        self.call(reqwest::Method::PUT, path, Some(body)).await
    }
}

impl Drop for RunningRegistry {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// `{"schema": "<text>"}` as a request body.
pub fn schema_body(schema: &str) -> String {
    serde_json::json!({ "schema": schema }).to_string()
}
