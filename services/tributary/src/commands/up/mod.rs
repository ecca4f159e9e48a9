//! `tributary up`: the whole platform on one machine, on embedded defaults.
//!
//! Starts the embedded broker with durable SQLite storage under the data
//! directory, creates the contract topics, starts the schema registry and
//! every service as supervised child processes (restarted with backoff when
//! one dies), waits until they are ready and prints the endpoints. Ctrl-C
//! stops everything; a second `up` resumes from the same data.

mod plan;
mod readiness;

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use clap::Args;
use tributary_broker::{BrokerOptions, BrokerProcess, Storage};
use tributary_registry::{ClientConfig, RegistryClient};

use crate::{
    commands::run::Service,
    config::{self, BridgeStart, PlatformConfig, UpConfig},
    supervisor::{RestartPolicy, Supervisor},
};
pub use plan::{Instance, Replicas};

/// Arguments of `tributary up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// A TOML configuration file (sections `[up]`, `[service]`, `[orders]`,
    /// …); `TRIBUTARY__…` environment variables override it.
    #[arg(long, env = "TRIBUTARY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory for durable data (overrides `up.data_dir`).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Run several instances of a service in one consumer group, e.g.
    /// `--replicas orders=3`; repeatable.
    #[arg(long = "replicas", value_name = "SERVICE=COUNT")]
    pub replicas: Vec<Replicas>,
    /// How long to wait for every process to report ready.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,
    /// Once ready, run `tributary load` against the platform and print its
    /// report, then keep running until Ctrl-C.
    #[arg(long)]
    pub demo: bool,
    /// Orders per second of the demo load.
    #[arg(long, default_value_t = 20.0, requires = "demo")]
    pub rate: f64,
    /// How long the demo places orders.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration, requires = "demo")]
    pub duration: Duration,
}

/// Added to the consumers' session timeout before a crashed consumer is
/// restarted, so the broker has surely expired the dead member.
const CONSUMER_RESTART_MARGIN: Duration = Duration::from_secs(2);

pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let platform: PlatformConfig = config::load(args.config.as_deref())?;
    let mut config = platform.up;
    if let Some(dir) = args.data_dir {
        config.data_dir = dir;
    }
    // Children run with their own working directory semantics; give them
    // absolute paths.
    config.data_dir = std::path::absolute(&config.data_dir)
        .with_context(|| format!("resolving {}", config.data_dir.display()))?;
    let logs = config.data_dir.join("logs");
    std::fs::create_dir_all(&logs)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;

    let broker = start_broker(&config).await?;
    let bootstrap = broker.bootstrap_servers();
    super::topics::ensure_contract_topics(&bootstrap, config.partitions)
        .await
        .context("creating the contract topics")?;

    let exe = std::env::current_exe().context("locating the tributary binary")?;
    let config_file = args
        .config
        .as_deref()
        .map(std::path::absolute)
        .transpose()
        .context("resolving the configuration file path")?;
    let registry_url = format!("http://{}", config.registry_listen);
    let shared = plan::Shared {
        exe: &exe,
        config_file: config_file.as_deref(),
        bootstrap: &bootstrap,
        registry_url: &registry_url,
        data_dir: &config.data_dir,
        logs: &logs,
        consumer_restart_delay: platform.service.bus.consumer.session_timeout
            + CONSUMER_RESTART_MARGIN,
    };

    let mut supervisor =
        Supervisor::new(RestartPolicy::default()).with_pid_dir(config.data_dir.join("run"));
    supervisor.spawn(plan::registry_spec(&shared, config.registry_listen));
    let started = async {
        let schemas = register_contracts(&registry_url).await?;
        let with_bridge = bridge_wanted(config.bridge, &platform.bridge.amqp_url).await;
        let instances = plan::instances(&config, &args.replicas, with_bridge);
        for instance in &instances {
            supervisor.spawn(plan::child_spec(instance, &instances, &shared));
        }
        let targets: Vec<(String, String)> =
            instances.iter().map(|i| (i.name(), i.url())).collect();
        let not_ready = readiness::wait_all_ready(&targets, args.ready_timeout).await;
        if !not_ready.is_empty() {
            anyhow::bail!(
                "not ready within {:?}: {} (see their logs in {})",
                args.ready_timeout,
                not_ready.join(", "),
                logs.display()
            );
        }
        Ok((schemas, instances))
    };
    // A stop request during start-up stops what was started, like a stop
    // request later on.
    let started = tokio::select! {
        started = started => started,
        () = tributary_service::shutdown_signal() => Err(anyhow::anyhow!("stopped during start-up")),
    };

    let mut broker = broker;
    let outcome = match started {
        Ok((schemas, instances)) => {
            print_endpoints(&config, &bootstrap, &registry_url, schemas, &instances);
            let demo = args
                .demo
                .then(|| super::load::Demo::start(&instances, args.rate, args.duration));
            let stopped = wait_for_stop(&config, &mut broker).await;
            match demo {
                Some(demo) => stopped.and(demo.finish().await),
                None => stopped,
            }
        }
        Err(error) => Err(error),
    };
    // Services first, so they can drain and commit while the broker is up.
    supervisor.shutdown().await;
    broker.stop(Duration::from_secs(10)).await;
    outcome
}

/// Whether to start the RabbitMQ bridge; under `auto`, RabbitMQ must accept
/// a connection now.
async fn bridge_wanted(start: BridgeStart, amqp_url: &str) -> bool {
    const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
    match start {
        BridgeStart::Never => false,
        BridgeStart::Always => true,
        BridgeStart::Auto => match tributary_bridge::link::probe(amqp_url, PROBE_TIMEOUT).await {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(
                    %error,
                    "RabbitMQ is not reachable; starting without the bridge (set up.bridge = \"always\" to start it anyway)"
                );
                false
            }
        },
    }
}

async fn start_broker(config: &UpConfig) -> anyhow::Result<BrokerProcess> {
    let options = BrokerOptions::new(
        config.broker_listen,
        Storage::Sqlite,
        config.data_dir.join("broker"),
    );
    BrokerProcess::spawn(options).await.with_context(|| {
        format!(
            "starting the embedded broker on {} (is the port already in use?)",
            config.broker_listen
        )
    })
}

/// Registers every contract, retrying while the registry starts.
async fn register_contracts(url: &str) -> anyhow::Result<usize> {
    let client = RegistryClient::new(url, ClientConfig::default())?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        match client.subjects().await {
            Ok(_) => break,
            Err(error) if tokio::time::Instant::now() >= deadline => {
                return Err(error).context("the schema registry did not become ready within 60s");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    for event in tributary_contracts::CATALOG {
        let subject = event.subject();
        client
            .register(&subject, event.schema_json)
            .await
            .with_context(|| format!("registering subject {subject}"))?;
    }
    Ok(tributary_contracts::CATALOG.len())
}

fn print_endpoints(
    config: &UpConfig,
    bootstrap: &str,
    registry_url: &str,
    schemas: usize,
    instances: &[Instance],
) {
    println!("Tributary is up.");
    println!(
        "  Gateway (public API)     http://{}",
        gateway_addr(instances, config)
    );
    println!("  Kafka bootstrap servers  {bootstrap}  (tansu, SQLite storage)");
    println!("  Schema registry          {registry_url}  ({schemas} contracts registered)");
    for instance in instances {
        println!("  {:<24} {}", instance.name(), instance.url());
    }
    println!("  Data directory           {}", config.data_dir.display());
    println!(
        "  Process logs             {}",
        config.data_dir.join("logs").display()
    );
    println!(
        "  Process ids              {}/<process>.pid",
        config.data_dir.join("run").display()
    );
    println!(
        "  Admin account            {} / {} (local defaults; set TRIBUTARY_ADMIN_EMAIL and TRIBUTARY_ADMIN_PASSWORD to change)",
        tributary_users::DEFAULT_ADMIN_EMAIL,
        tributary_users::DEFAULT_ADMIN_PASSWORD
    );
    if !instances.iter().any(|i| i.service == Service::Bridge) {
        println!("  RabbitMQ bridge          not started (up.bridge, or RabbitMQ unreachable)");
    }
    println!("Press Ctrl-C to stop.");
}

fn gateway_addr(instances: &[Instance], config: &UpConfig) -> String {
    instances
        .iter()
        .find(|i| i.service == Service::Gateway)
        .map(|i| i.addr.to_string())
        .unwrap_or_else(|| format!("127.0.0.1:{}", config.gateway_port))
}

/// Runs until Ctrl-C/SIGTERM. A broker that dies is restarted on the same
/// SQLite file with a growing delay; after several failed restarts in a row
/// `up` gives up and says where the broker's log is.
async fn wait_for_stop(config: &UpConfig, broker: &mut BrokerProcess) -> anyhow::Result<()> {
    const MAX_RESTARTS: u32 = 5;
    let mut failures = 0;
    loop {
        tokio::select! {
            () = tributary_service::shutdown_signal() => return Ok(()),
            status = broker.wait() => {
                tracing::error!(%status, log = %broker.log_path().display(), "the embedded broker exited; restarting it");
            }
        }
        loop {
            failures += 1;
            if failures > MAX_RESTARTS {
                anyhow::bail!(
                    "the embedded broker failed {MAX_RESTARTS} restarts in a row; see {}",
                    broker.log_path().display()
                );
            }
            let delay = Duration::from_millis(500) * 2u32.pow(failures);
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = tributary_service::shutdown_signal() => return Ok(()),
            }
            match start_broker(config).await {
                Ok(restarted) => {
                    *broker = restarted;
                    failures = 0;
                    break;
                }
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "restarting the broker failed")
                }
            }
        }
    }
}
