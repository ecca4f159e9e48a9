//! `[analytics]` configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::domain::{MAX_WINDOW_MS, Rules, WatermarkPolicy, WindowSpec};

/// Every default, in one place.
pub mod defaults {
    use std::time::Duration;

    pub const WINDOW: Duration = Duration::from_secs(60);
    pub const ALLOWED_LATENESS: Duration = Duration::from_secs(5);
    pub const IDLE_PARTITION_TIMEOUT: Duration = Duration::from_secs(30);
    pub const FUTURE_TOLERANCE: Duration = Duration::from_secs(60);
    pub const METRICS_REFRESH: Duration = Duration::from_secs(5);
}

/// Longest accepted lateness, idle timeout or future tolerance: one day.
const MAX_DURATION_MS: i64 = 86_400_000;

/// Settings of the analytics service.
///
/// ```toml
/// [analytics]
/// window = "1m"
/// allowed_lateness = "5s"
/// idle_partition_timeout = "30s"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalyticsConfig {
    /// Size of the tumbling event-time windows, 1 ms to 1 day, aligned to the
    /// Unix epoch. Windows are stored by their start, so changing the size
    /// of an existing view needs a view rebuild.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How far behind the newest event time an event may arrive and still be
    /// counted in its window; the watermark is the newest event time minus
    /// this. Later events are only counted as `late_events`.
    #[serde(with = "humantime_serde")]
    pub allowed_lateness: Duration,
    /// A source partition that delivered nothing for this long (processing
    /// time) stops holding the watermark back, so one quiet partition does
    /// not keep every window open. Set it above the longest normal gap
    /// between two events of one partition.
    #[serde(with = "humantime_serde")]
    pub idle_partition_timeout: Duration,
    /// Events whose event time is further ahead of this service's clock are
    /// refused (counted as `refused_events`), so one producer with a skewed
    /// clock cannot push the watermark ahead.
    #[serde(with = "humantime_serde")]
    pub future_tolerance: Duration,
    /// How often the Prometheus gauges (latest final window, watermark lag)
    /// are refreshed from the view.
    #[serde(with = "humantime_serde")]
    pub metrics_refresh: Duration,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            window: defaults::WINDOW,
            allowed_lateness: defaults::ALLOWED_LATENESS,
            idle_partition_timeout: defaults::IDLE_PARTITION_TIMEOUT,
            future_tolerance: defaults::FUTURE_TOLERANCE,
            metrics_refresh: defaults::METRICS_REFRESH,
        }
    }
}

/// A configuration value the service cannot start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("analytics.{key}: {detail}")]
pub struct ConfigError {
    /// The offending key, e.g. `window`.
    pub key: &'static str,
    pub detail: String,
}

impl AnalyticsConfig {
    /// Checks every value before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rules().map(|_| ())
    }

    /// The validated rules the projector and the queries apply.
    pub fn rules(&self) -> Result<Rules, ConfigError> {
        let window_ms = millis("window", self.window, 1, MAX_WINDOW_MS)?;
        let window = WindowSpec::new(window_ms).map_err(|e| ConfigError {
            key: "window",
            detail: e.to_string(),
        })?;
        Ok(Rules {
            window,
            watermark: WatermarkPolicy {
                allowed_lateness_ms: millis(
                    "allowed_lateness",
                    self.allowed_lateness,
                    0,
                    MAX_DURATION_MS,
                )?,
                idle_timeout_ms: millis(
                    "idle_partition_timeout",
                    self.idle_partition_timeout,
                    1,
                    MAX_DURATION_MS,
                )?,
            },
            future_tolerance_ms: millis(
                "future_tolerance",
                self.future_tolerance,
                0,
                MAX_DURATION_MS,
            )?,
        })
        .and_then(|rules| {
            if self.metrics_refresh.is_zero() {
                Err(ConfigError {
                    key: "metrics_refresh",
                    detail: "must be positive".into(),
                })
            } else {
                Ok(rules)
            }
        })
    }
}

/// `value` in whole milliseconds within `min..=max`.
fn millis(key: &'static str, value: Duration, min: i64, max: i64) -> Result<i64, ConfigError> {
    let ms = i64::try_from(value.as_millis()).unwrap_or(i64::MAX);
    if (min..=max).contains(&ms) && value.subsec_nanos().is_multiple_of(1_000_000) {
        Ok(ms)
    } else {
        Err(ConfigError {
            key,
            detail: format!(
                "{value:?} is outside {min} ms ..= {max} ms or not a whole number of milliseconds"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        let config = AnalyticsConfig::default();
        let rules = config.rules().expect("valid defaults");
        assert_eq!(rules.window.size_ms(), 60_000);
        assert_eq!(rules.watermark.allowed_lateness_ms, 5_000);
        assert_eq!(rules.watermark.idle_timeout_ms, 30_000);
    }

    #[test]
    fn parses_humane_durations_and_rejects_unknown_fields() {
        let config: AnalyticsConfig = toml::from_str(
            "window = \"10s\"\nallowed_lateness = \"250ms\"\nidle_partition_timeout = \"1m\"",
        )
        .expect("valid document");
        assert_eq!(config.window, Duration::from_secs(10));
        assert_eq!(config.allowed_lateness, Duration::from_millis(250));
        assert_eq!(config.future_tolerance, defaults::FUTURE_TOLERANCE);
        assert!(toml::from_str::<AnalyticsConfig>("windw = \"1m\"").is_err());
        assert_eq!(
            toml::from_str::<AnalyticsConfig>("").expect("empty"),
            AnalyticsConfig::default()
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (config, key) in [
            (
                AnalyticsConfig {
                    window: Duration::ZERO,
                    ..AnalyticsConfig::default()
                },
                "window",
            ),
            (
                AnalyticsConfig {
                    window: Duration::from_secs(2 * 86_400),
                    ..AnalyticsConfig::default()
                },
                "window",
            ),
            (
                AnalyticsConfig {
                    window: Duration::from_micros(1500),
                    ..AnalyticsConfig::default()
                },
                "window",
            ),
            (
                AnalyticsConfig {
                    idle_partition_timeout: Duration::ZERO,
                    ..AnalyticsConfig::default()
                },
                "idle_partition_timeout",
            ),
            (
                AnalyticsConfig {
                    metrics_refresh: Duration::ZERO,
                    ..AnalyticsConfig::default()
                },
                "metrics_refresh",
            ),
        ] {
            let error = config.validate().expect_err("invalid");
            assert_eq!(error.key, key, "{error}");
        }
    }
}
