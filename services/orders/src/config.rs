//! `[orders]` configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Every default, in one place.
pub mod defaults {
    use std::time::Duration;

    pub const SAGA_TIMEOUT: Duration = Duration::from_secs(30);
    pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);
    pub const SWEEP_BATCH: usize = 500;
    pub const PAGE_SIZE: usize = 20;
    pub const MAX_PAGE_SIZE: usize = 200;
    pub const MAX_TIMELINE_ENTRIES: usize = 1_000;
}

/// The orders service's business settings.
///
/// ```toml
/// [orders]
/// saga_timeout = "30s"
/// sweep_interval = "1s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrdersConfig {
    /// How long an order may stay PENDING (no stock or payment outcome)
    /// before the sweeper cancels it with reason TIMEOUT. Measured from the
    /// order's `placed_at` (event time).
    #[serde(with = "humantime_serde")]
    pub saga_timeout: Duration,
    /// How often the saga-timeout sweeper looks for overdue orders. A
    /// timeout fires at most this much later than `saga_timeout`.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// Most overdue orders one sweep cancels; the rest wait for the next
    /// sweep, so one pass never holds the store for long.
    pub sweep_batch: usize,
    /// Whether this replica runs the sweeper. Running it on every replica
    /// is safe (decisions are version-checked); turning it off only saves
    /// the reads.
    pub sweeper_enabled: bool,
    /// Orders returned by `GET /orders?customer=` without `limit`.
    pub default_page_size: usize,
    /// Largest `limit` accepted by the list endpoints.
    pub max_page_size: usize,
    /// Most entries returned by `GET /orders/{id}/timeline`.
    pub max_timeline_entries: usize,
}

impl Default for OrdersConfig {
    fn default() -> Self {
        OrdersConfig {
            saga_timeout: defaults::SAGA_TIMEOUT,
            sweep_interval: defaults::SWEEP_INTERVAL,
            sweep_batch: defaults::SWEEP_BATCH,
            sweeper_enabled: true,
            default_page_size: defaults::PAGE_SIZE,
            max_page_size: defaults::MAX_PAGE_SIZE,
            max_timeline_entries: defaults::MAX_TIMELINE_ENTRIES,
        }
    }
}

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid orders configuration `{key}`: {detail}")]
pub struct ConfigError {
    /// Dotted path of the offending key.
    pub key: &'static str,
    pub detail: &'static str,
}

impl OrdersConfig {
    /// Checks values serde cannot: zero durations and sizes.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let checks: [(bool, &'static str, &'static str); 5] = [
            (
                self.saga_timeout.is_zero(),
                "orders.saga_timeout",
                "must be positive",
            ),
            (
                self.sweep_interval.is_zero(),
                "orders.sweep_interval",
                "must be positive",
            ),
            (
                self.sweep_batch == 0,
                "orders.sweep_batch",
                "must be at least 1",
            ),
            (
                self.max_page_size == 0,
                "orders.max_page_size",
                "must be at least 1",
            ),
            (
                self.default_page_size == 0 || self.default_page_size > self.max_page_size,
                "orders.default_page_size",
                "must be between 1 and max_page_size",
            ),
        ];
        match checks.into_iter().find(|(bad, _, _)| *bad) {
            Some((_, key, detail)) => Err(ConfigError { key, detail }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_durations_and_rejects_unknown_keys() {
        let config: OrdersConfig =
            toml::from_str("saga_timeout = \"2m\"\nsweep_interval = \"250ms\"").expect("valid");
        assert_eq!(config.saga_timeout, Duration::from_secs(120));
        assert_eq!(config.sweep_interval, Duration::from_millis(250));
        assert_eq!(config.sweep_batch, defaults::SWEEP_BATCH);
        assert!(toml::from_str::<OrdersConfig>("saga_timeot = \"2m\"").is_err());
        assert_eq!(
            toml::from_str::<OrdersConfig>("").expect("empty"),
            OrdersConfig::default()
        );
    }

    #[test]
    fn validation_names_the_key() {
        OrdersConfig::default()
            .validate()
            .expect("defaults are valid");
        let bad = OrdersConfig {
            sweep_interval: Duration::ZERO,
            ..OrdersConfig::default()
        };
        assert_eq!(
            bad.validate().expect_err("invalid").key,
            "orders.sweep_interval"
        );
    }
}
