//! `[payments]` configuration: the provider, the circuit breaker around it,
//! and the per-call timeout.

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::breaker::BreakerConfig;

/// Business settings of the payments service.
///
/// ```toml
/// [payments]
/// timeout = "2s"
/// [payments.provider]
/// kind = "simulated"
/// decline_above_cents = 500000
/// latency = "20ms"
/// failure_rate = 0.05
/// [payments.breaker]
/// failure_threshold = 5
/// open_duration = "5s"
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PaymentsConfig {
    /// The payment provider and its rules.
    pub provider: ProviderConfig,
    /// The circuit breaker every provider call goes through.
    pub breaker: BreakerConfig,
    /// Longest wait for one provider call. A slower call counts as a failure
    /// for the breaker and the event is retried later.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for PaymentsConfig {
    fn default() -> Self {
        PaymentsConfig {
            provider: ProviderConfig::default(),
            breaker: BreakerConfig::default(),
            timeout: Duration::from_secs(2),
        }
    }
}

impl PaymentsConfig {
    /// `timeout`, at least one millisecond (a zero timeout would fail every call).
    pub fn call_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_millis(1))
    }
}

/// Which payment provider the service calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// The built-in simulator, with the deterministic rules of [`ProviderConfig`].
    #[default]
    Simulated,
}

/// `[payments.provider]`: the provider and, for the simulator, its rules.
///
/// The simulator decides by explicit rules, in this order: the `fail_token`
/// always fails (a provider error, retried); orders picked by `failure_rate`
/// fail `transient_failures` times first; an empty token, the
/// `decline_token`, a negative amount or an amount above
/// `decline_above_cents` is declined; everything else is approved. Every
/// choice is a hash of the order id, so runs repeat exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider: `simulated` (the only built-in one).
    pub kind: ProviderKind,
    /// Simulator: amounts above this many cents are declined (`amount_limit_exceeded`).
    pub decline_above_cents: i64,
    /// Simulator: this token is always declined (`card_declined`).
    pub decline_token: String,
    /// Simulator: calls with this token always fail with a provider error, as
    /// in an outage (the event is retried, then dead-lettered, and the saga
    /// timeout cancels the order).
    pub fail_token: String,
    /// Simulator: delay of every call. Above `payments.timeout` every call
    /// times out.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
    /// Simulator: extra delay of up to this much, a fixed share per order id.
    #[serde(with = "humantime_serde")]
    pub latency_jitter: Duration,
    /// Simulator: share of orders (0.0 to 1.0, picked by a hash of the order
    /// id) whose first `transient_failures` calls fail with a provider error.
    pub failure_rate: f64,
    /// Simulator: how many calls fail in a row for an order picked by
    /// `failure_rate` before it succeeds.
    pub transient_failures: u32,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            kind: ProviderKind::Simulated,
            decline_above_cents: 500_000,
            decline_token: "tok_decline".into(),
            fail_token: "tok_fail".into(),
            latency: Duration::ZERO,
            latency_jitter: Duration::ZERO,
            failure_rate: 0.0,
            transient_failures: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_sections_with_humane_durations() {
        let config: PaymentsConfig = serde_json::from_str(
            r#"{"timeout":"750ms","provider":{"kind":"simulated","latency":"20ms","failure_rate":0.1},
                "breaker":{"failure_threshold":3}}"#,
        )
        .expect("valid");
        assert_eq!(config.timeout, Duration::from_millis(750));
        assert_eq!(config.provider.latency, Duration::from_millis(20));
        assert_eq!(config.provider.decline_token, "tok_decline");
        assert_eq!(config.breaker.failure_threshold, 3);
    }

    #[test]
    fn rejects_unknown_fields_and_providers() {
        assert!(serde_json::from_str::<PaymentsConfig>(r#"{"timeot":"1s"}"#).is_err());
        assert!(
            serde_json::from_str::<PaymentsConfig>(r#"{"provider":{"kind":"stripe"}}"#).is_err()
        );
        assert!(serde_json::from_str::<PaymentsConfig>(r#"{"provider":{"decline":1}}"#).is_err());
    }

    #[test]
    fn a_zero_timeout_is_raised() {
        let config = PaymentsConfig {
            timeout: Duration::ZERO,
            ..PaymentsConfig::default()
        };
        assert_eq!(config.call_timeout(), Duration::from_millis(1));
    }
}
