//! [`BridgeConfig`]: where RabbitMQ is, how queues are declared, and how
//! hard the bridge pushes and retries.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Defaults in one place.
pub mod defaults {
    use std::time::Duration;

    pub const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";
    pub const PREFETCH: u16 = 64;
    pub const CONFIRM_WINDOW: usize = 256;
    pub const RECONNECT_INITIAL_BACKOFF: Duration = Duration::from_millis(200);
    pub const RECONNECT_MAX_BACKOFF: Duration = Duration::from_secs(10);
    pub const DELIVERY_LIMIT: u32 = 5;
    pub const GROUP: &str = "tributary.bridge";
}

/// How the bridge's durable queues are declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Raft-replicated queues: the durable choice for production, with a
    /// broker-enforced delivery limit.
    #[default]
    Quorum,
    /// Classic queues, version 2 storage (single node; no delivery limit).
    Classic,
}

impl QueueType {
    /// The `x-queue-type` argument value.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Quorum => "quorum",
            QueueType::Classic => "classic",
        }
    }
}

/// Settings of the RabbitMQ bridge (`[bridge]` in the platform file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BridgeConfig {
    /// The AMQP 0-9-1 URL of RabbitMQ, vhost percent-encoded
    /// (`amqp://user:pass@host:5672/%2f`).
    pub amqp_url: String,
    /// Declared type of the ingress, dead-letter and unroutable queues.
    pub queue_type: QueueType,
    /// Unacknowledged ingress deliveries RabbitMQ hands out per topic queue
    /// (`basic.qos`): bounds the bridge's memory on the ingress side.
    pub prefetch: u16,
    /// Published but not yet confirmed messages, across all partitions: bounds
    /// memory and the number of possible duplicates after a lost connection.
    pub confirm_window: usize,
    /// First pause before reconnecting to RabbitMQ after a failure.
    #[serde(with = "humantime_serde")]
    pub reconnect_initial_backoff: Duration,
    /// Longest pause between reconnect attempts (the pause doubles up to it).
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
    /// Quorum queues only: deliveries of one ingress message before RabbitMQ
    /// itself dead-letters it (guards against a message that crashes the
    /// bridge every time).
    pub delivery_limit: u32,
    /// The Kafka consumer group of the Kafka → RabbitMQ direction.
    pub group: String,
    /// Contract topics to bridge; empty means every topic of the contract.
    pub topics: Vec<String>,
    /// Prepended to contract topic names to get the Kafka topic names (tests
    /// and shared clusters); empty in production.
    pub kafka_topic_prefix: String,
    /// Prepended to every exchange and queue the bridge declares, so several
    /// platforms (or tests) can share one RabbitMQ; empty in production.
    pub amqp_name_prefix: String,
    /// Run the Kafka → RabbitMQ direction.
    pub egress: bool,
    /// Run the RabbitMQ → Kafka ingress.
    pub ingress: bool,
}

impl Default for BridgeConfig {
    fn default() -> Self {
        BridgeConfig {
            amqp_url: defaults::AMQP_URL.to_owned(),
            queue_type: QueueType::default(),
            prefetch: defaults::PREFETCH,
            confirm_window: defaults::CONFIRM_WINDOW,
            reconnect_initial_backoff: defaults::RECONNECT_INITIAL_BACKOFF,
            reconnect_max_backoff: defaults::RECONNECT_MAX_BACKOFF,
            delivery_limit: defaults::DELIVERY_LIMIT,
            group: defaults::GROUP.to_owned(),
            topics: Vec::new(),
            kafka_topic_prefix: String::new(),
            amqp_name_prefix: String::new(),
            egress: true,
            ingress: true,
        }
    }
}

impl BridgeConfig {
    /// The contract topics bridged, validated against the contract.
    pub fn contract_topics(&self) -> Result<Vec<&'static str>, crate::BridgeError> {
        if self.topics.is_empty() {
            return Ok(tributary_contracts::TOPICS.iter().map(|t| t.name).collect());
        }
        self.topics
            .iter()
            .map(|name| {
                tributary_contracts::topic_spec(name)
                    .map(|spec| spec.name)
                    .ok_or_else(|| crate::BridgeError::Config {
                        key: "bridge.topics",
                        message: format!("`{name}` is not a contract topic"),
                    })
            })
            .collect()
    }

    /// Rejects settings that cannot work, naming the key.
    pub fn validate(&self) -> Result<(), crate::BridgeError> {
        let fail = |key, message: &str| {
            Err(crate::BridgeError::Config {
                key,
                message: message.to_owned(),
            })
        };
        if !(self.amqp_url.starts_with("amqp://") || self.amqp_url.starts_with("amqps://")) {
            return fail("bridge.amqp_url", "must start with amqp:// or amqps://");
        }
        if self.prefetch == 0 {
            return fail("bridge.prefetch", "must be at least 1");
        }
        if self.confirm_window == 0 {
            return fail("bridge.confirm_window", "must be at least 1");
        }
        if self.reconnect_initial_backoff.is_zero()
            || self.reconnect_max_backoff < self.reconnect_initial_backoff
        {
            return fail(
                "bridge.reconnect_initial_backoff",
                "must be positive and not above reconnect_max_backoff",
            );
        }
        if self.delivery_limit == 0 {
            return fail("bridge.delivery_limit", "must be at least 1");
        }
        if self.group.trim().is_empty() {
            return fail("bridge.group", "must not be empty");
        }
        self.contract_topics().map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_cover_every_contract_topic() {
        let config = BridgeConfig::default();
        config.validate().expect("defaults are valid");
        assert_eq!(
            config.contract_topics().expect("topics").len(),
            tributary_contracts::TOPICS.len()
        );
    }

    #[test]
    fn unknown_keys_and_topics_are_rejected() {
        assert!(toml::from_str::<BridgeConfig>("amqp_uri = 'x'").is_err());
        let config: BridgeConfig = toml::from_str(
            "topics = ['orders', 'parcels']\nqueue_type = 'classic'\nreconnect_max_backoff = '3s'",
        )
        .expect("parses");
        assert_eq!(config.queue_type, QueueType::Classic);
        assert_eq!(config.reconnect_max_backoff, Duration::from_secs(3));
        assert!(config.validate().is_err());
    }
}
