//! What a benchmark runs against: its own tansu broker (memory storage, free
//! port) and an in-process schema registry (port 0), or existing ones named
//! on the command line.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_broker::{BrokerError, BrokerOptions, BrokerProcess, Storage, free_local_port};
use tributary_bus::{
    BusConfig,
    admin::{TopicDefinition, check_cluster, ensure_topics},
};
use tributary_registry::{
    ClientConfig as RegistryClientConfig, Registry, RegistryClient, RegistryConfig, ServerError,
};
use uuid::Uuid;

use super::BenchError;

/// How long the broker may take to answer its first metadata request.
const BROKER_READY: Duration = Duration::from_secs(30);
/// How long a stopping broker gets before it is killed.
const BROKER_STOP_GRACE: Duration = Duration::from_secs(5);
/// Attempts at starting the broker: a free port can be taken between asking
/// the kernel for it and the broker binding it.
const BROKER_START_ATTEMPTS: usize = 3;

/// Existing servers to use instead of starting our own.
#[derive(Debug, Clone, Default)]
pub struct EnvOptions {
    /// `bootstrap.servers` of an existing broker.
    pub bootstrap: Option<String>,
    /// Base URL of an existing Confluent-compatible registry.
    pub registry: Option<String>,
    /// librdkafka properties for every client the benchmark creates, through
    /// `BusConfig`'s passthrough map (applied last, like in a service).
    pub librdkafka: BTreeMap<String, String>,
}

/// A broker and a registry for one benchmark run. Call [`BenchEnv::stop`] at
/// the end; on an early return, dropping it still kills the broker.
#[derive(Debug)]
pub struct BenchEnv {
    broker: Option<BrokerProcess>,
    registry_stop: CancellationToken,
    registry_task: Option<JoinHandle<Result<(), ServerError>>>,
    bootstrap: String,
    registry_url: String,
    registry: RegistryClient,
    librdkafka: BTreeMap<String, String>,
    // Declared last: dropped after the broker that writes its log there.
    _work_dir: Option<WorkDir>,
}

impl BenchEnv {
    /// Starts whatever `options` does not name.
    pub async fn start(options: &EnvOptions) -> Result<BenchEnv, BenchError> {
        let (broker, work_dir, bootstrap) = match &options.bootstrap {
            Some(bootstrap) => (None, None, bootstrap.clone()),
            None => {
                let work_dir = WorkDir::create()?;
                let broker = start_broker(&work_dir.0).await?;
                let bootstrap = broker.bootstrap_servers();
                (Some(broker), Some(work_dir), bootstrap)
            }
        };
        wait_for_cluster(&bootstrap).await?;

        let registry_stop = CancellationToken::new();
        let (registry_url, registry_task) = match &options.registry {
            Some(url) => (url.trim_end_matches('/').to_owned(), None),
            None => {
                // Our own broker gets the usual topic; someone else's gets a
                // private one so the benchmark leaves their registry alone.
                let topic = if broker.is_some() {
                    "_schemas".to_owned()
                } else {
                    unique_name("_schemas-bench")
                };
                let server = Registry::build(RegistryConfig {
                    listen: "127.0.0.1:0".to_owned(),
                    bootstrap_servers: bootstrap.clone(),
                    topic,
                    ..RegistryConfig::default()
                })
                .await?;
                let url = format!("http://{}", server.local_addr());
                let task = tokio::spawn(server.run_until(registry_stop.clone().cancelled_owned()));
                (url, Some(task))
            }
        };
        let registry = RegistryClient::new(&registry_url, RegistryClientConfig::default())?;
        Ok(BenchEnv {
            broker,
            registry_stop,
            registry_task,
            bootstrap,
            registry_url,
            registry,
            librdkafka: options.librdkafka.clone(),
            _work_dir: work_dir,
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    pub fn registry_url(&self) -> &str {
        &self.registry_url
    }

    pub fn registry(&self) -> &RegistryClient {
        &self.registry
    }

    /// The broker's process id when the broker is ours.
    pub fn broker_pid(&self) -> Option<u32> {
        self.broker.as_ref().and_then(BrokerProcess::id)
    }

    /// True when the broker is ours (so the contract topics are ours to use).
    pub fn owns_broker(&self) -> bool {
        self.broker.is_some()
    }

    /// One line saying what the figures were measured against.
    pub fn describe(&self) -> String {
        let broker = match &self.broker {
            Some(_) => format!(
                "tansu {} (memory storage) at {}",
                tributary_broker::TANSU_BUILD,
                self.bootstrap
            ),
            None => format!("existing broker at {}", self.bootstrap),
        };
        let registry = match &self.registry_task {
            Some(_) => format!("in-process registry at {}", self.registry_url),
            None => format!("registry at {}", self.registry_url),
        };
        let overrides = if self.librdkafka.is_empty() {
            String::new()
        } else {
            let pairs: Vec<String> = self
                .librdkafka
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            format!("; librdkafka overrides {}", pairs.join(","))
        };
        format!("{broker}; {registry}{overrides}")
    }

    /// The runtime's configuration for this broker and registry, every
    /// setting at its default (the defaults are what is being measured)
    /// plus the `--librdkafka` overrides.
    pub fn bus_config(&self) -> BusConfig {
        let mut config = BusConfig::new(self.bootstrap.clone(), self.registry_url.clone());
        config.librdkafka = self.librdkafka.clone();
        config
    }

    /// Creates `name` with `partitions` partitions and waits until it is in
    /// the broker's metadata.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), BenchError> {
        ensure_topics(
            &self.bus_config(),
            &[TopicDefinition::new(name, partitions)],
        )
        .await?;
        Ok(())
    }

    /// Stops the registry, then the broker.
    pub async fn stop(mut self) {
        self.registry_stop.cancel();
        if let Some(task) = self.registry_task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        if let Some(broker) = self.broker.take() {
            broker.stop(BROKER_STOP_GRACE).await;
        }
    }
}

/// `prefix-<32 hex digits>`: a topic or group name no other run uses.
pub(crate) fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::new_v4().simple())
}

async fn start_broker(work_dir: &std::path::Path) -> Result<BrokerProcess, BenchError> {
    let mut last = None;
    for _ in 0..BROKER_START_ATTEMPTS {
        let port = free_local_port().map_err(BenchError::io("asking for a free port"))?;
        let options = BrokerOptions::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Storage::Memory,
            work_dir,
        );
        match BrokerProcess::spawn(options).await {
            Ok(broker) => return Ok(broker),
            Err(e @ BrokerError::NotInstalled { .. }) => return Err(e.into()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || BenchError::Argument {
            arg: "broker",
            detail: "no start attempt was made".to_owned(),
        },
        BenchError::from,
    ))
}

/// Waits until the broker answers metadata requests (it accepts TCP a
/// little before it serves Kafka requests).
async fn wait_for_cluster(bootstrap: &str) -> Result<(), BenchError> {
    let mut config = BusConfig::new(bootstrap, "http://127.0.0.1:0");
    config.connect_timeout = Duration::from_secs(2);
    let deadline = tokio::time::Instant::now() + BROKER_READY;
    loop {
        match check_cluster(&config).await {
            Ok(()) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// A private directory for the broker's log, removed when dropped.
#[derive(Debug)]
struct WorkDir(PathBuf);

impl WorkDir {
    fn create() -> Result<WorkDir, BenchError> {
        let path = std::env::temp_dir().join(unique_name("tributary-bench"));
        std::fs::create_dir_all(&path)
            .map_err(BenchError::io(format!("creating {}", path.display())))?;
        Ok(WorkDir(path))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Best effort: a leftover temporary directory harms nobody.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
