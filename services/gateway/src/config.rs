//! `[gateway]` configuration.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tributary_users::{JwtConfig, TokenError};
use url::Url;

/// Settings of the gateway.
///
/// ```toml
/// [gateway]
/// idempotency_ttl = "24h"
///
/// [gateway.jwt]            # the same values as [users.jwt]
/// secret = "at least 32 bytes of randomness ........"
///
/// [gateway.upstreams]
/// orders = ["http://orders-0.orders:8080", "http://orders-1.orders:8080"]
/// timeout = "5s"
///
/// [gateway.rate_limit]
/// rate_per_second = 50.0
/// burst = 100
/// ```
///
/// The request body limit is the shared `service.http_body_limit`
/// (64 KiB by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// Session token validation; must equal the users service's `jwt`.
    pub jwt: JwtConfig,
    /// The services behind the gateway and how they are called.
    pub upstreams: UpstreamConfig,
    /// Per-client request rate limit.
    pub rate_limit: RateLimitConfig,
    /// How long the answer to a request with an `Idempotency-Key` is
    /// replayed for repeats of that key; after that the key may be reused.
    #[serde(with = "humantime_serde")]
    pub idempotency_ttl: Duration,
    /// Header holding the client address set by a trusted reverse proxy
    /// (for example `x-forwarded-for`; its first entry is used). Empty: the
    /// TCP peer address identifies anonymous clients. Only set it behind a
    /// proxy that overwrites the header, or clients can forge their identity.
    pub client_ip_header: String,
    /// Most lines an order may have.
    pub max_order_lines: usize,
    /// Most units one order line may ask for.
    pub max_line_quantity: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            jwt: JwtConfig::default(),
            upstreams: UpstreamConfig::default(),
            rate_limit: RateLimitConfig::default(),
            idempotency_ttl: Duration::from_secs(24 * 3600),
            client_ip_header: String::new(),
            max_order_lines: 50,
            max_line_quantity: 1000,
        }
    }
}

/// The instances of every service the gateway calls, and how it calls them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Base URLs of the users service's instances.
    pub users: Vec<Url>,
    /// Base URLs of the orders service's instances.
    pub orders: Vec<Url>,
    /// Base URLs of the inventory service's instances.
    pub inventory: Vec<Url>,
    /// Base URLs of the analytics service's instances.
    pub analytics: Vec<Url>,
    /// Deadline of one upstream call (connect, send, read the whole answer).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Deadline for establishing a connection to one instance.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Instances tried for one idempotent (GET) request before giving up.
    /// Other requests are only re-sent when the connection was refused,
    /// which proves the first instance never saw them.
    pub max_attempts: u32,
    /// Largest upstream answer read, in bytes; bigger ones are a 502.
    pub max_response_bytes: usize,
    /// Per-instance circuit breaker.
    pub breaker: BreakerConfig,
}

impl Default for UpstreamConfig {
    fn default() -> Self {
        UpstreamConfig {
            users: Vec::new(),
            orders: Vec::new(),
            inventory: Vec::new(),
            analytics: Vec::new(),
            timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(1),
            max_attempts: 3,
            max_response_bytes: 4 * 1024 * 1024,
            breaker: BreakerConfig::default(),
        }
    }
}

/// When an instance is taken out of rotation and how it gets back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failures (connection errors, timeouts, 5xx) that open
    /// the breaker.
    pub failure_threshold: u32,
    /// How long an open breaker rejects calls before letting one probe
    /// through (half-open); a successful probe closes it.
    #[serde(with = "humantime_serde")]
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            cooldown: Duration::from_secs(5),
        }
    }
}

/// A token bucket per client: authenticated clients by user id, anonymous
/// ones by address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Whether requests are limited at all.
    pub enabled: bool,
    /// Sustained requests per second per client.
    pub rate_per_second: f64,
    /// Requests a client may make in a burst above the sustained rate.
    pub burst: u32,
    /// Clients tracked at most; idle and then least recently seen clients
    /// are forgotten first, which at worst grants a forgotten client a
    /// fresh burst.
    pub max_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            enabled: true,
            rate_per_second: 100.0,
            burst: 200,
            max_clients: 10_000,
        }
    }
}

/// A configuration value the gateway cannot start with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    #[error("gateway: {0}")]
    Jwt(#[from] TokenError),
    #[error("gateway.{key}: {detail}")]
    Invalid { key: &'static str, detail: String },
}

impl GatewayConfig {
    /// Checks every value before anything starts.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.jwt.validate()?;
        let invalid = |key, detail: &str| {
            Err(ConfigError::Invalid {
                key,
                detail: detail.to_owned(),
            })
        };
        let rl = &self.rate_limit;
        if rl.enabled && !(rl.rate_per_second.is_finite() && rl.rate_per_second > 0.0) {
            return invalid("rate_limit.rate_per_second", "must be a positive number");
        }
        if rl.enabled && rl.burst == 0 {
            return invalid("rate_limit.burst", "must be at least 1");
        }
        if rl.max_clients == 0 {
            return invalid("rate_limit.max_clients", "must be at least 1");
        }
        let up = &self.upstreams;
        if up.timeout.is_zero() || up.connect_timeout.is_zero() {
            return invalid("upstreams.timeout", "timeouts must be positive");
        }
        if up.max_attempts == 0 {
            return invalid("upstreams.max_attempts", "must be at least 1");
        }
        if up.breaker.failure_threshold == 0 {
            return invalid("upstreams.breaker.failure_threshold", "must be at least 1");
        }
        for (key, urls) in [
            ("upstreams.users", &up.users),
            ("upstreams.orders", &up.orders),
            ("upstreams.inventory", &up.inventory),
            ("upstreams.analytics", &up.analytics),
        ] {
            if let Some(url) = urls
                .iter()
                .find(|u| !matches!(u.scheme(), "http" | "https"))
            {
                return invalid(key, &format!("{url} is not an http(s) URL"));
            }
        }
        if self.max_order_lines == 0 || self.max_line_quantity == 0 {
            return invalid("max_order_lines", "order limits must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert!(GatewayConfig::default().validate().is_ok());
    }

    #[test]
    fn upstream_lists_and_durations_parse() {
        let config: GatewayConfig = serde_json::from_value(serde_json::json!({
            "upstreams": {
                "orders": ["http://127.0.0.1:9001", "http://127.0.0.1:9002/"],
                "timeout": "750ms",
                "breaker": {"cooldown": "2s"}
            },
            "rate_limit": {"rate_per_second": 2.5, "burst": 5}
        }))
        .expect("parse");
        assert_eq!(config.upstreams.orders.len(), 2);
        assert_eq!(config.upstreams.timeout, Duration::from_millis(750));
        assert_eq!(config.upstreams.breaker.cooldown, Duration::from_secs(2));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn bad_values_are_named() {
        let mut config = GatewayConfig::default();
        config.rate_limit.burst = 0;
        assert!(
            config
                .validate()
                .expect_err("burst")
                .to_string()
                .contains("rate_limit.burst")
        );
        let mut config = GatewayConfig::default();
        config.upstreams.orders = vec![Url::parse("ftp://x").expect("url")];
        assert!(
            config
                .validate()
                .expect_err("scheme")
                .to_string()
                .contains("upstreams.orders")
        );
        let mut config = GatewayConfig::default();
        config.jwt.secret = "short".into();
        assert!(
            config
                .validate()
                .expect_err("secret")
                .to_string()
                .contains("jwt.secret")
        );
        assert!(serde_json::from_value::<GatewayConfig>(serde_json::json!({"rate": 1})).is_err());
    }
}
