//! `tributary run <service>`: one role in the foreground, stopped by
//! SIGTERM or Ctrl-C (what Kubernetes and the `up` supervisor send).
//!
//! A service process reads one configuration document: a `[service]`
//! section every service shares (HTTP address, Kafka, registry, view store)
//! and a section named after the service for its own settings, e.g.
//! `[orders]`. Environment variables override both:
//! `TRIBUTARY__SERVICE__BUS__BOOTSTRAP_SERVERS`, `TRIBUTARY__ORDERS__SAGA_TIMEOUT`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use tributary_service::{Application, ServiceConfig, ServiceDefinition, shutdown_signal};

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
        Service::Bridge => tributary_bridge::definition(bridge, service.bus.clone()),
    };
    run_service(definition, service).await
}

async fn run_service(definition: ServiceDefinition, config: ServiceConfig) -> anyhow::Result<()> {
    let name = definition.name;
    let app = Application::build(definition, config)
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
