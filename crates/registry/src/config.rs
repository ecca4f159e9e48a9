//! Configuration of the registry server.

use std::{collections::BTreeMap, time::Duration};

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};
use tributary_contracts::CompatibilityLevel;

/// Everything the registry server needs; every field has a local default, so
/// an empty configuration runs against a broker on `127.0.0.1:9092`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Address the REST API listens on (`host:port`; port 0 picks a free one).
    pub listen: String,
    /// Kafka bootstrap servers holding the schemas topic (`host:port,…`).
    pub bootstrap_servers: String,
    /// The compacted topic that holds every schema and setting. Instances
    /// sharing a topic serve the same registry.
    pub topic: String,
    /// Replication factor used when the topic has to be created (use 3 on a
    /// production cluster; an existing topic is left as it is).
    pub topic_replication_factor: i32,
    /// Compatibility level of subjects without their own, until one is set
    /// with `PUT /config`.
    pub default_compatibility: CompatibilityLevel,
    /// How long start-up may spend reaching the broker, creating the topic and
    /// reading it to its end before giving up.
    #[serde(with = "humantime_serde")]
    pub startup_timeout: Duration,
    /// How long a write may wait for the broker's acknowledgement (and for the
    /// instance to read its own write back) before the request fails with 50002.
    #[serde(with = "humantime_serde")]
    pub write_timeout: Duration,
    /// Extra librdkafka properties for every Kafka client of the registry
    /// (security, SASL, client.id, …). The settings the registry relies on
    /// (idempotence, `acks=all`, manual assignment) cannot be overridden.
    pub librdkafka: BTreeMap<String, String>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            listen: "127.0.0.1:8081".to_owned(),
            bootstrap_servers: "127.0.0.1:9092".to_owned(),
            topic: "_schemas".to_owned(),
            topic_replication_factor: 1,
            default_compatibility: CompatibilityLevel::Backward,
            startup_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            librdkafka: BTreeMap::new(),
        }
    }
}

impl RegistryConfig {
    /// Checks what serde cannot, naming the offending key.
    pub(crate) fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.bootstrap_servers.trim().is_empty() {
            return Err((
                "bootstrap_servers",
                "must name at least one host:port".to_owned(),
            ));
        }
        let topic_ok = !self.topic.is_empty()
            && self.topic.len() <= 249
            && self
                .topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !topic_ok {
            return Err((
                "topic",
                format!(
                    "`{}` is not a valid Kafka topic name (1-249 of [a-zA-Z0-9._-])",
                    self.topic
                ),
            ));
        }
        if self.topic_replication_factor < 1 {
            return Err(("topic_replication_factor", "must be at least 1".to_owned()));
        }
        for (key, value) in [
            ("startup_timeout", self.startup_timeout),
            ("write_timeout", self.write_timeout),
        ] {
            if value.is_zero() {
                return Err((key, "must be longer than zero".to_owned()));
            }
        }
        Ok(())
    }

    /// librdkafka settings for one client: bootstrap servers, then the
    /// client's tunable `defaults`, then the passthrough map (which may
    /// override both). Settings the registry relies on are set by the caller
    /// after this, so they cannot be overridden.
    pub(crate) fn kafka_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        config.set("client.id", "tributary-registry");
        for (key, value) in defaults {
            config.set(*key, *value);
        }
        for (key, value) in &self.librdkafka {
            config.set(key, value);
        }
        config
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_humane_durations_and_rejects_unknown_keys() {
        let config: RegistryConfig = serde_json::from_value(serde_json::json!({
            "topic": "_schemas_test",
            "write_timeout": "1500ms",
            "default_compatibility": "FULL",
            "librdkafka": { "security.protocol": "plaintext" }
        }))
        .expect("valid config");
        assert_eq!(config.write_timeout, Duration::from_millis(1500));
        assert_eq!(config.default_compatibility, CompatibilityLevel::Full);
        assert_eq!(config.listen, RegistryConfig::default().listen);
        assert!(config.validate().is_ok());

        let error = serde_json::from_value::<RegistryConfig>(serde_json::json!({ "topik": "x" }))
            .expect_err("must fail");
        assert!(error.to_string().contains("topik"), "{error}");
    }

    #[test]
    fn validation_names_the_key() {
        let config = RegistryConfig {
            topic: "bad topic!".to_owned(),
            ..RegistryConfig::default()
        };
        assert_eq!(config.validate().expect_err("must fail").0, "topic");
        let config = RegistryConfig {
            bootstrap_servers: " ".to_owned(),
            ..RegistryConfig::default()
        };
        assert_eq!(
            config.validate().expect_err("must fail").0,
            "bootstrap_servers"
        );
    }
}
