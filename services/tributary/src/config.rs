//! Configuration: defaults in one place, then an optional TOML file, then
//! `TRIBUTARY__SECTION__KEY` environment variables. Unknown keys are errors
//! that name the key, so a typo fails at start-up instead of being ignored.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use figment::{
    Figment,
    providers::{Env, Format, Toml},
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Environment prefix; nested keys are separated by `__`, e.g.
/// `TRIBUTARY__KAFKA__BOOTSTRAP_SERVERS=broker:9092`.
pub const ENV_PREFIX: &str = "TRIBUTARY__";

/// A configuration error, naming the offending key or file.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

/// Loads `T` from the optional file and the environment. Defaults come from
/// `T` itself: every configuration type is `#[serde(default)]`, so an absent
/// key keeps the value its `Default` gives.
pub fn load<T>(file: Option<&Path>) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
{
    let mut figment = Figment::new();
    if let Some(path) = file {
        if !path.exists() {
            return Err(ConfigError(format!(
                "configuration file {} does not exist",
                path.display()
            )));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
    figment.extract().map_err(|e| {
        // figment's message names the key path and where its value came from.
        let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
        ConfigError(messages.join("; "))
    })
}

/// The whole configuration document. Every process reads the same shape —
/// one file can configure the whole platform — and uses the sections of its
/// role: `[up]` for the supervisor, `[registry]` for the registry, `[service]`
/// plus the service's own section (`[orders]`, …) for a service. Unknown
/// sections and keys are errors everywhere, so a typo never goes unnoticed.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformConfig {
    /// The local supervisor (`tributary up`).
    pub up: UpConfig,
    /// The schema registry (`tributary run registry`).
    pub registry: tributary_registry::RegistryConfig,
    /// Settings every service process shares: HTTP address, Kafka, registry
    /// URL, view store, outbox relay.
    pub service: tributary_service::ServiceConfig,
    pub gateway: tributary_gateway::GatewayConfig,
    pub users: tributary_users::UsersConfig,
    pub orders: tributary_orders::OrdersConfig,
    pub inventory: tributary_inventory::InventoryConfig,
    pub payments: tributary_payments::PaymentsConfig,
    pub notifications: tributary_notifications::NotificationsConfig,
    pub analytics: tributary_analytics::AnalyticsConfig,
    /// The RabbitMQ bridge (`tributary run bridge`).
    pub bridge: tributary_bridge::BridgeConfig,
}

/// Settings of the local platform that `tributary up` starts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct UpConfig {
    /// Directory for everything kept across restarts: the broker's SQLite
    /// log, view stores and process logs.
    pub data_dir: PathBuf,
    /// Address the embedded Kafka-protocol broker listens on.
    pub broker_listen: SocketAddr,
    /// Address the schema registry listens on.
    pub registry_listen: SocketAddr,
    /// Partitions for each contract topic created at start-up. 3 rather than
    /// the production 12 (`schemas/topics.toml`): the embedded broker answers
    /// every fetch by reading every requested partition, so on one laptop each
    /// partition costs latency on every saga hop, while 3 still lets
    /// `--replicas <service>=3` give each instance a partition.
    pub partitions: i32,
    /// HTTP port of the first instance of the first business service; the
    /// others follow (users, inventory, payments, orders, notifications,
    /// analytics), and replica `n` of a service adds `100 * n`.
    pub first_service_port: u16,
    /// Port of the public gateway.
    pub gateway_port: u16,
    /// Whether `up` runs the RabbitMQ bridge (`[bridge]` says where RabbitMQ
    /// is). Its HTTP port follows the business services'.
    pub bridge: BridgeStart,
}

/// When `tributary up` starts the RabbitMQ bridge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BridgeStart {
    /// When RabbitMQ accepts a connection at start-up (`bridge.amqp_url`);
    /// otherwise `up` says why it left the bridge out.
    #[default]
    Auto,
    /// Always; the bridge keeps reconnecting until RabbitMQ is there.
    Always,
    /// Never.
    Never,
}

impl Default for UpConfig {
    fn default() -> Self {
        UpConfig {
            data_dir: PathBuf::from("data"),
            broker_listen: SocketAddr::from(([127, 0, 0, 1], 9092)),
            registry_listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            partitions: 3,
            first_service_port: 8091,
            gateway_port: 8080,
            bridge: BridgeStart::Auto,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, "[up]\npartitons = 3\n").expect("write config");
        let error = load::<PlatformConfig>(Some(&file)).expect_err("typo must fail");
        assert!(error.to_string().contains("partitons"), "{error}");
    }

    #[test]
    fn unknown_sections_are_rejected_by_name() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, "[oders]\nsaga_timeout = \"5s\"\n").expect("write config");
        let error = load::<PlatformConfig>(Some(&file)).expect_err("typo must fail");
        assert!(error.to_string().contains("oders"), "{error}");
    }

    #[test]
    fn service_sections_parse_with_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, "[service]\nhttp_listen = \"127.0.0.1:9999\"\n").expect("write");
        let config = load::<PlatformConfig>(Some(&file)).expect("valid");
        assert_eq!(config.service.http_listen.port(), 9999);
        assert_eq!(config.up, UpConfig::default());
    }

    #[test]
    fn a_missing_file_is_named() {
        let error =
            load::<PlatformConfig>(Some(Path::new("/nonexistent/t.toml"))).expect_err("missing");
        assert!(error.to_string().contains("/nonexistent/t.toml"), "{error}");
    }

    #[test]
    fn wrong_types_name_the_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("tributary.toml");
        std::fs::write(&file, "[up]\npartitions = \"many\"\n").expect("write config");
        let error = load::<PlatformConfig>(Some(&file)).expect_err("type error");
        assert!(error.to_string().contains("partitions"), "{error}");
    }
}
