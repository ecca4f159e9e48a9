//! `[service]` configuration: what every service process needs regardless
//! of what the service does.
//!
//! How configurations compose: each service crate has its own
//! `<Service>Config` for its business settings; the binary deserializes one
//! document with a `[service]` section (this type, shared by every service)
//! next to a section named after the service, for example
//!
//! ```toml
//! [service]
//! http_listen = "127.0.0.1:8083"
//! [service.bus]
//! bootstrap_servers = "127.0.0.1:9092"
//! registry_url = "http://127.0.0.1:8081"
//! [service.views]
//! data_dir = "data"
//! [payments]                    # PaymentsConfig, owned by the payments crate
//! decline_above_cents = 100000
//! ```
//!
//! with environment overrides such as
//! `TRIBUTARY__SERVICE__BUS__BOOTSTRAP_SERVERS`. No generic wrapper type is
//! needed: the binary owns the outer struct and hands `ServiceConfig` to
//! [`Application::build`](crate::Application::build) and the service's own
//! section to the service's `definition`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use serde::Deserialize;
use tributary_bus::BusConfig;
use tributary_views::ViewsConfig;

use crate::StartError;

/// Every default, in one place.
pub mod defaults {
    use std::time::Duration;

    /// 64 KiB: far above any legitimate command body, small enough that a
    /// flood of oversized bodies cannot exhaust memory.
    pub const HTTP_BODY_LIMIT: usize = 64 * 1024;
    pub const OUTBOX_POLL_INTERVAL: Duration = Duration::from_millis(500);
    pub const OUTBOX_BATCH_SIZE: usize = 256;
    pub const OUTBOX_MAX_BACKOFF: Duration = Duration::from_secs(5);
    pub const CONFLICT_RETRY_LIMIT: u32 = 16;
    pub const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(30);
}

/// Settings every service process shares.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// Address the HTTP server (API, `/health/*`, `/metrics`) listens on.
    /// Port 0 picks a free port (tests; the `up` supervisor assigns real
    /// ones); the bound address is logged and available from
    /// `Application::local_addr`.
    pub http_listen: SocketAddr,
    /// Largest accepted request body in bytes; bigger bodies get a 413
    /// problem+json answer.
    pub http_body_limit: usize,
    /// Kafka and schema-registry settings (producer, consumer group, retry
    /// and dead-letter policy).
    pub bus: BusConfig,
    /// Where the service's view store lives (embedded SQLite or ScyllaDB).
    pub views: ViewsConfig,
    /// The transactional-outbox relay.
    pub outbox: OutboxSettings,
    /// How many times a consumed event is re-projected after an
    /// optimistic-concurrency conflict (another replica changed a row it
    /// read) before the event is handed to the bus's retry topic instead.
    pub conflict_retry_limit: u32,
    /// On shutdown, how long the HTTP server, the consumer group (whose own
    /// drain is bounded by `bus.consumer.drain_timeout`), the background
    /// tasks and the final outbox flush may take together before whatever
    /// still runs is aborted.
    #[serde(with = "humantime_serde")]
    pub shutdown_deadline: Duration,
}

/// How emitted events get from the store's outbox to Kafka.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSettings {
    /// How often the relay looks for pending messages when nothing woke it.
    /// Local commits wake it at once; polling picks up messages committed
    /// by a replica that crashed before publishing them.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// Messages read and published per round; bounds memory and the size of
    /// one in-flight burst.
    pub batch_size: usize,
    /// Longest pause between attempts while publishing keeps failing (the
    /// pause doubles from 50 ms up to this). Messages are never dropped.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            http_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http_body_limit: defaults::HTTP_BODY_LIMIT,
            bus: BusConfig::default(),
            views: ViewsConfig::default(),
            outbox: OutboxSettings::default(),
            conflict_retry_limit: defaults::CONFLICT_RETRY_LIMIT,
            shutdown_deadline: defaults::SHUTDOWN_DEADLINE,
        }
    }
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            poll_interval: defaults::OUTBOX_POLL_INTERVAL,
            batch_size: defaults::OUTBOX_BATCH_SIZE,
            max_backoff: defaults::OUTBOX_MAX_BACKOFF,
        }
    }
}

impl ServiceConfig {
    /// Checks what serde cannot, naming the key. The bus checks its own
    /// section when the producer connects.
    pub fn validate(&self) -> Result<(), StartError> {
        let invalid = |key: &'static str, detail: &str| {
            Err(StartError::Config {
                key,
                detail: detail.to_owned(),
            })
        };
        if self.http_body_limit == 0 {
            return invalid("http_body_limit", "must be at least 1 byte");
        }
        if self.outbox.batch_size == 0 {
            return invalid("outbox.batch_size", "must be at least 1");
        }
        if self.outbox.poll_interval.is_zero() {
            return invalid("outbox.poll_interval", "must be longer than zero");
        }
        if self.outbox.max_backoff.is_zero() {
            return invalid("outbox.max_backoff", "must be longer than zero");
        }
        if self.conflict_retry_limit == 0 {
            return invalid("conflict_retry_limit", "must be at least 1");
        }
        if self.shutdown_deadline.is_zero() {
            return invalid("shutdown_deadline", "must be longer than zero");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_values_and_rejects_unknown_keys() {
        let config: ServiceConfig = toml::from_str(
            r#"
            http_listen = "0.0.0.0:8080"
            shutdown_deadline = "10s"
            [outbox]
            poll_interval = "250ms"
            [bus]
            bootstrap_servers = "k:9092"
            [views]
            data_dir = "/var/lib/tributary"
            "#,
        )
        .expect("valid");
        assert_eq!(config.http_listen.port(), 8080);
        assert_eq!(config.outbox.poll_interval, Duration::from_millis(250));
        assert_eq!(config.outbox.batch_size, defaults::OUTBOX_BATCH_SIZE);
        assert_eq!(config.bus.bootstrap_servers, "k:9092");
        assert!(config.validate().is_ok());

        let error = toml::from_str::<ServiceConfig>("http_lisen = \"x\"").expect_err("must fail");
        assert!(error.to_string().contains("http_lisen"), "{error}");
        let error = toml::from_str::<ServiceConfig>("[outbox]\nbatch = 3").expect_err("must fail");
        assert!(error.to_string().contains("batch"), "{error}");
    }

    #[test]
    fn validation_names_the_key() {
        let config = ServiceConfig {
            conflict_retry_limit: 0,
            ..ServiceConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(StartError::Config {
                key: "conflict_retry_limit",
                ..
            })
        ));
    }
}
