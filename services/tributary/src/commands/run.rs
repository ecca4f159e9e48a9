//! `tributary run <service>`: one role in the foreground, stopped by
//! SIGTERM or Ctrl-C (what Kubernetes and the `up` supervisor send).
//!
//! A service process reads one configuration document: a `[service]`
//! section every service shares (HTTP address, Kafka, registry, view store)
//! and a section named after the service for its own settings, e.g.
//! `[orders]`. Environment variables override both:
//! `TRIBUTARY__SERVICE__BUS__BOOTSTRAP_SERVERS`, `TRIBUTARY__ORDERS__SAGA_TIMEOUT`.
//!
//! `--transport rabbitmq` (notifications only) consumes from RabbitMQ
//! instead of Kafka: the service's queue `tributary.notifications` bound to
//! the topic exchanges the bridge fills, with the AMQP URL, queue type,
//! prefetch, delivery limit and name prefix of `[bridge]`. Only consumption
//! moves: the outbox still publishes the service's events to Kafka, and the
//! bridge (`tributary run bridge`) must run for events to reach the queue.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tributary_bridge::{BridgeConfig, RabbitSources};
use tributary_service::{
    Application, KafkaSources, ServiceConfig, ServiceDefinition, SourceFactory, shutdown_signal,
};
use tributary_telemetry::Metrics;

use crate::config::{self, PlatformConfig};

/// Arguments of `tributary run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The role to run.
    #[arg(value_enum)]
    pub service: Service,
    /// A TOML configuration file; `TRIBUTARY__…` environment variables
    /// override it.
    #[arg(long, env = "TRIBUTARY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the service consumes its events from. `rabbitmq` is accepted
    /// for `notifications` only and uses the `[bridge]` section; emitted
    /// events always go to Kafka.
    #[arg(long, value_enum, default_value_t = Transport::Kafka)]
    pub transport: Transport,
}

/// The transport a service consumes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// A Kafka consumer group (retry and dead-letter topics).
    #[default]
    Kafka,
    /// A RabbitMQ queue bound to the bridge's topic exchanges (dead-letter
    /// queue `<queue>.dead`).
    Rabbitmq,
}

impl Transport {
    /// Services whose behaviour on RabbitMQ is the same as on Kafka and
    /// tested: the others rely on Kafka's per-key ordering (sagas,
    /// reservations, event-time windows), which competing consumers on one
    /// queue do not keep, or consume nothing.
    pub const RABBITMQ_SERVICES: [Service; 1] = [Service::Notifications];

    /// Refuses a transport the service cannot use, naming the flag.
    pub fn check(self, service: Service) -> anyhow::Result<()> {
        if self == Transport::Rabbitmq && !Self::RABBITMQ_SERVICES.contains(&service) {
            anyhow::bail!(
                "--transport rabbitmq is supported for `notifications` only, not `{}`: \
                 run `{}` with --transport kafka (the default)",
                service.name(),
                service.name()
            );
        }
        Ok(())
    }
}

/// Roles this build can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum)]
pub enum Service {
    /// The Confluent-compatible schema registry.
    Registry,
    /// The public HTTP API.
    Gateway,
    /// Accounts and sessions.
    Users,
    /// Order saga state, confirmation, cancellation and timeouts.
    Orders,
    /// Stock and reservations.
    Inventory,
    /// Authorizations and refunds.
    Payments,
    /// Customer notifications.
    Notifications,
    /// Event-time windows over every topic.
    Analytics,
    /// The RabbitMQ bridge: contract topics to AMQP exchanges and an AMQP
    /// ingress into Kafka.
    Bridge,
}

impl Service {
    /// Every business service, in the order `up` starts them (the gateway
    /// last, once its upstreams exist).
    pub const BUSINESS: [Service; 7] = [
        Service::Users,
        Service::Inventory,
        Service::Payments,
        Service::Orders,
        Service::Notifications,
        Service::Analytics,
        Service::Gateway,
    ];

    /// The role's name in logs, metrics and consumer groups.
    pub fn name(self) -> &'static str {
        match self {
            Service::Registry => "registry",
            Service::Gateway => "gateway",
            Service::Users => "users",
            Service::Orders => "orders",
            Service::Inventory => "inventory",
            Service::Payments => "payments",
            Service::Notifications => "notifications",
            Service::Analytics => "analytics",
            Service::Bridge => "bridge",
        }
    }
}

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    args.transport.check(args.service)?;
    let config: PlatformConfig = config::load(args.config.as_deref())?;
    let PlatformConfig {
        service,
        registry,
        gateway,
        mut users,
        orders,
        inventory,
        payments,
        notifications,
        analytics,
        bridge,
        up: _,
    } = config;
    let definition = match args.service {
        Service::Registry => return run_registry(registry).await,
        Service::Gateway => tributary_gateway::definition(gateway),
        Service::Users => {
            apply_admin_env(&mut users);
            tributary_users::definition(users)
        }
        Service::Orders => tributary_orders::definition(orders),
        Service::Inventory => tributary_inventory::definition(inventory),
        Service::Payments => tributary_payments::definition(payments),
        Service::Notifications => tributary_notifications::try_definition(notifications)
            .context("invalid configuration: notifications.channel")?,
        Service::Analytics => tributary_analytics::definition(analytics),
        Service::Bridge => tributary_bridge::definition(bridge.clone(), service.bus.clone()),
    };
    let sources = sources(args.transport, &service, bridge);
    run_service(definition, service, sources.as_ref()).await
}

/// The consumer transport of the service.
fn sources(
    transport: Transport,
    service: &ServiceConfig,
    bridge: BridgeConfig,
) -> Box<dyn SourceFactory> {
    match transport {
        Transport::Kafka => Box::new(KafkaSources::new(service.bus.clone())),
        Transport::Rabbitmq => Box::new(RabbitSources::new(bridge)),
    }
}

async fn run_service(
    definition: ServiceDefinition,
    config: ServiceConfig,
    sources: &dyn SourceFactory,
) -> anyhow::Result<()> {
    let name = definition.name;
    let app = Application::build_with_source(definition, config, Metrics::new(), sources)
        .await
        .with_context(|| format!("starting the {name} service"))?;
    tracing::info!(service = name, addr = %app.local_addr(), "service listening");
    app.run_until(shutdown_signal())
        .await
        .with_context(|| format!("the {name} service stopped with an error"))
}

async fn run_registry(config: tributary_registry::RegistryConfig) -> anyhow::Result<()> {
    let registry = tributary_registry::Registry::build(config)
        .await
        .context("starting the schema registry")?;
    tracing::info!(addr = %registry.local_addr(), "schema registry listening");
    registry
        .run_until(shutdown_signal())
        .await
        .context("schema registry stopped with an error")
}

/// The admin account's documented environment variables win over the file.
fn apply_admin_env(users: &mut tributary_users::UsersConfig) {
    if let Ok(email) = std::env::var("TRIBUTARY_ADMIN_EMAIL") {
        users.admin_email = email;
    }
    if let Ok(password) = std::env::var("TRIBUTARY_ADMIN_PASSWORD") {
        users.admin_password = password;
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let cli = Cli::try_parse_from(["tributary", "run"].iter().chain(args))?;
        match cli.command {
            Command::Run(args) => Ok(args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn kafka_is_the_default_transport() {
        let args = parse(&["orders"]).expect("parses");
        assert_eq!(args.transport, Transport::Kafka);
        assert!(args.transport.check(args.service).is_ok());
    }

    #[test]
    fn notifications_may_consume_from_rabbitmq() {
        let args = parse(&["notifications", "--transport", "rabbitmq"]).expect("parses");
        assert_eq!(args.transport, Transport::Rabbitmq);
        assert!(args.transport.check(args.service).is_ok());
    }

    #[test]
    fn other_services_refuse_rabbitmq_naming_the_flag() {
        let args = parse(&["orders", "--transport", "rabbitmq"]).expect("parses");
        let error = args
            .transport
            .check(args.service)
            .expect_err("orders needs kafka");
        let message = error.to_string();
        assert!(message.contains("--transport rabbitmq"), "{message}");
        assert!(message.contains("`orders`"), "{message}");
    }

    #[test]
    fn unknown_transports_are_rejected_by_the_parser() {
        let error = parse(&["notifications", "--transport", "amqp"]).expect_err("unknown");
        assert!(error.to_string().contains("amqp"), "{error}");
    }
}
