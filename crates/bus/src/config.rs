//! Configuration of the Kafka runtime: one [`BusConfig`] per process, shared
//! by its producer, its consumer groups and start-up topic creation.
//!
//! Every field documents itself, unknown keys are rejected, durations are
//! humane strings (`"250ms"`, `"30s"`), and the `librdkafka` map passes any
//! other librdkafka property through, applied last. [`BusConfig::validate`]
//! names the offending key so a service refuses to start with a message an
//! operator can act on.

use std::{collections::BTreeMap, time::Duration};

use rdkafka::ClientConfig;
use serde::{Deserialize, Serialize};

use crate::error::ConfigError;

/// Every default, in one place.
pub mod defaults {
    use std::time::Duration;

    pub const BOOTSTRAP_SERVERS: &str = "127.0.0.1:9092";
    pub const REGISTRY_URL: &str = "http://127.0.0.1:8081";
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const REPLICATION_FACTOR: i32 = 1;

    pub const QUEUE_FULL_TIMEOUT: Duration = Duration::from_secs(30);
    pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
    pub const LINGER: Duration = Duration::from_millis(5);

    pub const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(3);
    pub const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
    pub const AUTO_OFFSET_RESET: &str = "earliest";
    /// Prefetch per partition is bounded by bytes first
    /// (`MAX_IN_FLIGHT_KIB_PER_PARTITION`); the message count only caps
    /// queues of tiny messages. At 1 000 messages a partition's queue filled
    /// after every fetch, and once all that were left in the fetch had been
    /// read to their end the broker held it for `fetch.wait.max.ms` while
    /// the other queues ran dry: a 100 000-event backlog drained at 86 000/s
    /// instead of about 300 000/s (docs/benchmarks.md, "Consume").
    pub const MAX_IN_FLIGHT_PER_PARTITION: usize = 20_000;
    /// 2 MiB per partition (librdkafka overshoots it by at most one fetch
    /// of `max.partition.fetch.bytes`, 1 MiB). A runner draining 1 000 000
    /// events from 12 partitions peaks at about 120 MiB of RSS.
    pub const MAX_IN_FLIGHT_KIB_PER_PARTITION: u32 = 2048;
    pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
    pub const STATISTICS_INTERVAL: Duration = Duration::from_secs(5);
    /// librdkafka's own default. A broker answers a waiting fetch as soon
    /// as records arrive (Kafka does; so does the tansu build
    /// `scripts/setup` installs), so the wait only sets how often an idle
    /// consumer asks again: on the embedded broker, where every fetch costs
    /// SQLite queries for each partition, 25 ms kept one core busy while
    /// idle and 500 ms half of one.
    pub const FETCH_WAIT_MAX: Duration = Duration::from_millis(500);
    /// librdkafka pauses fetching a partition whose local queue holds
    /// `queued.min.messages` for this long; its default of 1 s made every
    /// drain of a backlog stall for half a second (docs/benchmarks.md,
    /// "Consume"). Override with `librdkafka."fetch.queue.backoff.ms"`.
    pub const FETCH_QUEUE_BACKOFF: Duration = Duration::from_millis(50);

    /// With the backoff below, ten deliveries span about 25 s: long enough to
    /// ride out a restarting dependency before an event is dead-lettered.
    pub const RETRY_MAX_ATTEMPTS: u32 = 10;
    /// Short, because the common retryable failure is an ordering race, not
    /// an outage: a saga's events travel on different topics, and about one
    /// saga in ten has an event reach a service before the event it depends
    /// on. The exponential growth covers the outages.
    pub const RETRY_INITIAL_BACKOFF: Duration = Duration::from_millis(50);
    pub const RETRY_MULTIPLIER: f64 = 2.0;
    pub const RETRY_MAX_BACKOFF: Duration = Duration::from_secs(60);
    /// Three quick repeats (10, 20 and 40 ms apart) hold a partition for at
    /// most 70 ms, and settle almost every ordering race without the retry
    /// topic's produce, backoff and second consume: the event it waits for
    /// is usually a few milliseconds behind, on another partition.
    pub const RETRY_IN_PLACE_ATTEMPTS: u32 = 3;
    pub const RETRY_IN_PLACE_BACKOFF: Duration = Duration::from_millis(10);

    /// librdkafka's default `max.poll.interval.ms`; drains must finish well
    /// inside it or the broker evicts the consumer mid-drain.
    pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(300);
}

/// Kafka connection and runtime settings of one process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    /// Comma-separated `host:port` list of brokers to bootstrap from.
    pub bootstrap_servers: String,
    /// Base URL of a Confluent-compatible schema registry (ours or any other).
    pub registry_url: String,
    /// How long start-up checks (broker metadata, topic creation) wait before
    /// failing with an error that names the bootstrap servers.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Replication factor for topics this runtime creates (contract topics in
    /// `tributary up`, retry and dead-letter topics). 1 for a single local
    /// broker; 3 on a production cluster.
    pub replication_factor: i32,
    /// Producer settings.
    pub producer: ProducerSettings,
    /// Consumer-group settings.
    pub consumer: ConsumerSettings,
    /// Extra librdkafka properties, applied last to every client so they
    /// override the settings above (for example `security.protocol`).
    /// Properties that would break delivery guarantees are rejected.
    pub librdkafka: BTreeMap<String, String>,
}

/// How the producer trades latency for throughput and handles backpressure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProducerSettings {
    /// How long a send waits for room when librdkafka's local queue is full
    /// before giving up with `ProduceError::QueueFull`. Waiting (instead of
    /// buffering without bound) is the producer's backpressure.
    #[serde(with = "humantime_serde")]
    pub queue_full_timeout: Duration,
    /// Upper bound on the time from send to delivery report, retries
    /// included (librdkafka `message.timeout.ms`).
    #[serde(with = "humantime_serde")]
    pub delivery_timeout: Duration,
    /// How long librdkafka waits to fill a batch (`linger.ms`).
    #[serde(with = "humantime_serde")]
    pub linger: Duration,
}

/// How a consumer group fetches, commits, retries and shuts down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsumerSettings {
    /// A member not heard from for this long is evicted and its partitions
    /// move to the others (`session.timeout.ms`).
    #[serde(with = "humantime_serde")]
    pub session_timeout: Duration,
    /// Heartbeat period; keep it at most a third of `session_timeout`.
    #[serde(with = "humantime_serde")]
    pub heartbeat_interval: Duration,
    /// How often offsets of handled messages are committed. Offsets are only
    /// ever stored after the handler succeeded or the message was durably
    /// routed to a retry or dead-letter topic.
    #[serde(with = "humantime_serde")]
    pub commit_interval: Duration,
    /// Where a group with no committed offset starts: `earliest` or `latest`.
    pub auto_offset_reset: String,
    /// Messages fetched ahead of the handler per assigned partition
    /// (librdkafka `queued.min.messages`).
    pub max_in_flight_per_partition: usize,
    /// Kibibytes fetched ahead of the handler per assigned partition
    /// (librdkafka `queued.max.messages.kbytes`, which applies per partition
    /// because every partition has its own queue): the bound on in-flight
    /// memory, whatever the size of the messages. Fetching stops at
    /// whichever of the two limits is reached first.
    pub max_in_flight_kib_per_partition: u32,
    /// On rebalance and shutdown, how long partition workers may take to
    /// finish their current message before they are aborted (the message is
    /// then redelivered, never lost).
    #[serde(with = "humantime_serde")]
    pub drain_timeout: Duration,
    /// How often librdkafka reports statistics, from which the consumer-lag
    /// gauge is updated; `0s` disables lag metrics.
    #[serde(with = "humantime_serde")]
    pub statistics_interval: Duration,
    /// Longest time the broker may hold a fetch open waiting for data
    /// (`fetch.wait.max.ms`). Against a broker that answers when data
    /// arrives it costs no latency; shorter means more fetch requests while
    /// idle.
    #[serde(with = "humantime_serde")]
    pub fetch_wait_max: Duration,
    /// Retry policy for handlers that fail with a retryable error.
    pub retry: RetryPolicy,
}

/// What happens to an event whose handler fails with a retryable error:
/// first a few quick repeats in place (the partition waits), then delayed
/// redeliveries through `<topic>.<group>.retry`, then the dead-letter topic.
///
/// The two stages are MassTransit's immediate retries and redelivery, or
/// Spring Kafka's blocking and non-blocking retries: repeating in place
/// costs nothing but a short wait, and settles a failure that is only a
/// race; the retry topic frees the partition for failures that take longer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryPolicy {
    /// Deliveries in total (the first one included) before an event that keeps
    /// failing goes to `<topic>.<group>.dlq`. 1 disables retries.
    pub max_attempts: u32,
    /// Delay before the second delivery.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Factor applied to the delay after each further failure (at least 1).
    pub multiplier: f64,
    /// Cap on any single delay; also bounds how long a retry waits on its
    /// `tributary.retry.not_before` header whatever the header says.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Extra handler calls within one delivery before the event goes to the
    /// retry topic (0 sends it there at once). They do not count as
    /// deliveries: `max_attempts` still counts those.
    pub in_place_attempts: u32,
    /// Wait before the first repeat in place; it doubles before each next.
    /// All the waits of one event together may not exceed 5 s.
    #[serde(with = "humantime_serde")]
    pub in_place_backoff: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        BusConfig {
            bootstrap_servers: defaults::BOOTSTRAP_SERVERS.to_owned(),
            registry_url: defaults::REGISTRY_URL.to_owned(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            replication_factor: defaults::REPLICATION_FACTOR,
            producer: ProducerSettings::default(),
            consumer: ConsumerSettings::default(),
            librdkafka: BTreeMap::new(),
        }
    }
}

impl Default for ProducerSettings {
    fn default() -> Self {
        ProducerSettings {
            queue_full_timeout: defaults::QUEUE_FULL_TIMEOUT,
            delivery_timeout: defaults::DELIVERY_TIMEOUT,
            linger: defaults::LINGER,
        }
    }
}

impl Default for ConsumerSettings {
    fn default() -> Self {
        ConsumerSettings {
            session_timeout: defaults::SESSION_TIMEOUT,
            heartbeat_interval: defaults::HEARTBEAT_INTERVAL,
            commit_interval: defaults::COMMIT_INTERVAL,
            auto_offset_reset: defaults::AUTO_OFFSET_RESET.to_owned(),
            max_in_flight_per_partition: defaults::MAX_IN_FLIGHT_PER_PARTITION,
            max_in_flight_kib_per_partition: defaults::MAX_IN_FLIGHT_KIB_PER_PARTITION,
            drain_timeout: defaults::DRAIN_TIMEOUT,
            statistics_interval: defaults::STATISTICS_INTERVAL,
            fetch_wait_max: defaults::FETCH_WAIT_MAX,
            retry: RetryPolicy::default(),
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: defaults::RETRY_MAX_ATTEMPTS,
            initial_backoff: defaults::RETRY_INITIAL_BACKOFF,
            multiplier: defaults::RETRY_MULTIPLIER,
            max_backoff: defaults::RETRY_MAX_BACKOFF,
            in_place_attempts: defaults::RETRY_IN_PLACE_ATTEMPTS,
            in_place_backoff: defaults::RETRY_IN_PLACE_BACKOFF,
        }
    }
}

impl RetryPolicy {
    /// The delay before delivery `attempt + 1` after delivery `attempt`
    /// (1-based) failed: `initial * multiplier^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(64) as i32;
        let factor = self.multiplier.max(1.0).powi(exponent);
        let secs = self.initial_backoff.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.max_backoff.as_secs_f64() {
            self.max_backoff
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The wait before repeat `repeat` (1-based) in place:
    /// `in_place_backoff * 2^(repeat-1)`.
    pub fn in_place_backoff(&self, repeat: u32) -> Duration {
        let doublings = repeat.saturating_sub(1).min(16);
        self.in_place_backoff.saturating_mul(1 << doublings)
    }

    /// Every wait in place of one event together (70 ms by default). Counts
    /// at most one repeat beyond the allowed number, which is enough to show
    /// a too-large setting and keeps the sum quick whatever it says.
    pub fn in_place_total_wait(&self) -> Duration {
        (1..=self.in_place_attempts.min(MAX_IN_PLACE_ATTEMPTS + 1))
            .map(|repeat| self.in_place_backoff(repeat))
            .fold(Duration::ZERO, Duration::saturating_add)
    }
}

/// Bounds on repeating in place: the partition waits through every repeat,
/// so all the waits of one event together must stay short; longer waits
/// belong to the retry topic, which frees the partition meanwhile.
const MAX_IN_PLACE_ATTEMPTS: u32 = 10;
const MAX_IN_PLACE_TOTAL_WAIT: Duration = Duration::from_secs(5);

/// librdkafka properties the runtime sets itself because its guarantees
/// depend on them, with the only value the passthrough may give them.
const GUARANTEED: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("request.required.acks", "all"),
    ("enable.auto.offset.store", "false"),
];

impl BusConfig {
    /// A configuration for a broker and registry with every other setting at
    /// its default.
    pub fn new(bootstrap_servers: impl Into<String>, registry_url: impl Into<String>) -> Self {
        BusConfig {
            bootstrap_servers: bootstrap_servers.into(),
            registry_url: registry_url.into(),
            ..BusConfig::default()
        }
    }

    /// Checks every setting, returning the first problem with the key that
    /// caused it (dotted path as in the config file, e.g.
    /// `consumer.retry.multiplier`).
    pub fn validate(&self) -> Result<(), ConfigError> {
        validate_bootstrap(&self.bootstrap_servers)?;
        if !(self.registry_url.starts_with("http://") || self.registry_url.starts_with("https://"))
        {
            return Err(invalid(
                "registry_url",
                "must start with http:// or https://",
            ));
        }
        positive("connect_timeout", self.connect_timeout)?;
        if self.replication_factor < 1 {
            return Err(invalid("replication_factor", "must be at least 1"));
        }

        let p = &self.producer;
        positive("producer.queue_full_timeout", p.queue_full_timeout)?;
        positive("producer.delivery_timeout", p.delivery_timeout)?;

        let c = &self.consumer;
        positive("consumer.session_timeout", c.session_timeout)?;
        positive("consumer.heartbeat_interval", c.heartbeat_interval)?;
        if c.heartbeat_interval >= c.session_timeout {
            return Err(invalid(
                "consumer.heartbeat_interval",
                "must be shorter than consumer.session_timeout",
            ));
        }
        positive("consumer.commit_interval", c.commit_interval)?;
        if !matches!(c.auto_offset_reset.as_str(), "earliest" | "latest") {
            return Err(invalid(
                "consumer.auto_offset_reset",
                "must be `earliest` or `latest`",
            ));
        }
        if !(1..=10_000_000).contains(&c.max_in_flight_per_partition) {
            return Err(invalid(
                "consumer.max_in_flight_per_partition",
                "must be between 1 and 10000000 messages",
            ));
        }
        if !(1..=2_097_151).contains(&c.max_in_flight_kib_per_partition) {
            return Err(invalid(
                "consumer.max_in_flight_kib_per_partition",
                "must be between 1 and 2097151 KiB",
            ));
        }
        positive("consumer.drain_timeout", c.drain_timeout)?;
        let max_poll = self.max_poll_interval()?;
        if c.drain_timeout >= max_poll {
            return Err(invalid(
                "consumer.drain_timeout",
                "must be shorter than librdkafka's max.poll.interval.ms",
            ));
        }

        let r = &c.retry;
        if r.max_attempts == 0 {
            return Err(invalid("consumer.retry.max_attempts", "must be at least 1"));
        }
        positive("consumer.retry.initial_backoff", r.initial_backoff)?;
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return Err(invalid(
                "consumer.retry.multiplier",
                "must be a finite number >= 1",
            ));
        }
        if r.max_backoff < r.initial_backoff {
            return Err(invalid(
                "consumer.retry.max_backoff",
                "must not be shorter than consumer.retry.initial_backoff",
            ));
        }
        if r.in_place_attempts > MAX_IN_PLACE_ATTEMPTS {
            return Err(invalid(
                "consumer.retry.in_place_attempts",
                "must be at most 10: a partition waits through every repeat",
            ));
        }
        if r.in_place_total_wait() > MAX_IN_PLACE_TOTAL_WAIT {
            return Err(invalid(
                "consumer.retry.in_place_backoff",
                "with in_place_attempts, adds up to more than 5s of waiting per event, during which its partition waits too (use the retry topic's backoff for longer waits)",
            ));
        }

        for (key, allowed) in GUARANTEED {
            if let Some(value) = self.librdkafka.get(*key)
                && value != allowed
            {
                return Err(ConfigError::Invalid {
                    key: format!("librdkafka.{key}"),
                    message: format!(
                        "must be `{allowed}` (the runtime's delivery guarantees depend on it)"
                    ),
                });
            }
        }
        if let Some(key) = self.librdkafka.keys().find(|k| k.trim().is_empty()) {
            return Err(ConfigError::Invalid {
                key: format!("librdkafka.{key}"),
                message: "empty property name".to_owned(),
            });
        }
        Ok(())
    }

    fn max_poll_interval(&self) -> Result<Duration, ConfigError> {
        match self.librdkafka.get("max.poll.interval.ms") {
            None => Ok(defaults::MAX_POLL_INTERVAL),
            Some(v) => v.parse::<u64>().map(Duration::from_millis).map_err(|_| {
                invalid(
                    "librdkafka.max.poll.interval.ms",
                    "must be a whole number of milliseconds",
                )
            }),
        }
    }

    /// Settings shared by every client, before role-specific ones.
    fn base_client_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.bootstrap_servers);
        config
    }

    fn apply_passthrough(&self, config: &mut ClientConfig) {
        for (key, value) in &self.librdkafka {
            config.set(key, value);
        }
    }

    /// librdkafka configuration of the idempotent producer.
    pub fn producer_client_config(&self) -> ClientConfig {
        let p = &self.producer;
        let mut config = self.base_client_config();
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", millis(p.delivery_timeout))
            .set("linger.ms", millis(p.linger));
        self.apply_passthrough(&mut config);
        config
    }

    /// librdkafka configuration of a group member of `group`.
    pub fn consumer_client_config(&self, group: &str) -> ClientConfig {
        let c = &self.consumer;
        let mut config = self.base_client_config();
        config
            .set("group.id", group)
            .set("enable.auto.commit", "true")
            .set("enable.auto.offset.store", "false")
            .set("auto.commit.interval.ms", millis(c.commit_interval))
            .set("auto.offset.reset", &c.auto_offset_reset)
            .set("session.timeout.ms", millis(c.session_timeout))
            .set("heartbeat.interval.ms", millis(c.heartbeat_interval))
            .set(
                "queued.min.messages",
                c.max_in_flight_per_partition.to_string(),
            )
            .set(
                "queued.max.messages.kbytes",
                c.max_in_flight_kib_per_partition.to_string(),
            )
            .set("fetch.wait.max.ms", millis(c.fetch_wait_max))
            .set(
                "fetch.queue.backoff.ms",
                millis(defaults::FETCH_QUEUE_BACKOFF),
            )
            .set("enable.partition.eof", "false")
            .set("statistics.interval.ms", millis(c.statistics_interval));
        self.apply_passthrough(&mut config);
        config
    }

    /// librdkafka configuration for admin and metadata clients.
    pub fn admin_client_config(&self) -> ClientConfig {
        let mut config = self.base_client_config();
        self.apply_passthrough(&mut config);
        config
    }
}

fn millis(d: Duration) -> String {
    d.as_millis().to_string()
}

fn invalid(key: &str, message: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        message: message.to_owned(),
    }
}

fn positive(key: &str, d: Duration) -> Result<(), ConfigError> {
    if d.is_zero() {
        Err(invalid(key, "must be greater than zero"))
    } else {
        Ok(())
    }
}

fn validate_bootstrap(servers: &str) -> Result<(), ConfigError> {
    if servers.trim().is_empty() {
        return Err(invalid(
            "bootstrap_servers",
            "must list at least one host:port",
        ));
    }
    for server in servers.split(',').map(str::trim) {
        // Accept `PROTOCOL://host:port` too, as librdkafka does.
        let address = server.rsplit("://").next().unwrap_or(server);
        let valid = address
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(ConfigError::Invalid {
                key: "bootstrap_servers".to_owned(),
                message: format!("`{server}` is not host:port"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(result: Result<(), ConfigError>) -> String {
        match result {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected an invalid-key error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_are_valid() {
        BusConfig::default().validate().expect("defaults validate");
    }

    #[test]
    fn parses_humane_durations_and_rejects_unknown_keys() {
        let config: BusConfig = serde_json::from_str(
            r#"{"bootstrap_servers":"b:9092","consumer":{"retry":{"initial_backoff":"250ms","max_attempts":3}}}"#,
        )
        .expect("parses");
        assert_eq!(
            config.consumer.retry.initial_backoff,
            Duration::from_millis(250)
        );
        assert_eq!(config.consumer.retry.max_attempts, 3);
        assert_eq!(config.consumer.drain_timeout, defaults::DRAIN_TIMEOUT);

        let err = serde_json::from_str::<BusConfig>(r#"{"consumer":{"retries":3}}"#)
            .expect_err("unknown key rejected");
        assert!(err.to_string().contains("retries"), "{err}");
    }

    #[test]
    fn validation_names_the_offending_key() {
        let c = BusConfig {
            bootstrap_servers: "localhost".into(),
            ..BusConfig::default()
        };
        assert_eq!(key_of(c.validate()), "bootstrap_servers");

        let mut c = BusConfig::default();
        c.consumer.retry.multiplier = 0.5;
        assert_eq!(key_of(c.validate()), "consumer.retry.multiplier");

        let mut c = BusConfig::default();
        c.consumer.retry.max_backoff = Duration::from_millis(1);
        assert_eq!(key_of(c.validate()), "consumer.retry.max_backoff");

        let mut c = BusConfig::default();
        c.consumer.retry.in_place_attempts = 11;
        assert_eq!(key_of(c.validate()), "consumer.retry.in_place_attempts");

        let mut c = BusConfig::default();
        c.consumer.retry.in_place_backoff = Duration::from_secs(1);
        assert_eq!(key_of(c.validate()), "consumer.retry.in_place_backoff");
        c.consumer.retry.in_place_attempts = 2;
        c.validate()
            .expect("1 s + 2 s of waiting is within the bound");
        c.consumer.retry.in_place_attempts = 0;
        c.consumer.retry.in_place_backoff = Duration::from_secs(60);
        c.validate()
            .expect("no repeats in place: the backoff is unused");

        let mut c = BusConfig::default();
        c.librdkafka
            .insert("enable.auto.offset.store".into(), "true".into());
        assert_eq!(key_of(c.validate()), "librdkafka.enable.auto.offset.store");

        let mut c = BusConfig::default();
        c.consumer.max_in_flight_per_partition = 0;
        assert_eq!(key_of(c.validate()), "consumer.max_in_flight_per_partition");

        let mut c = BusConfig::default();
        c.consumer.max_in_flight_kib_per_partition = 4 * 1024 * 1024;
        assert_eq!(
            key_of(c.validate()),
            "consumer.max_in_flight_kib_per_partition"
        );

        let mut c = BusConfig::default();
        c.consumer.heartbeat_interval = c.consumer.session_timeout;
        assert_eq!(key_of(c.validate()), "consumer.heartbeat_interval");

        let mut c = BusConfig::default();
        c.librdkafka
            .insert("max.poll.interval.ms".into(), "5000".into());
        assert_eq!(key_of(c.validate()), "consumer.drain_timeout");
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.backoff(1), Duration::from_millis(100));
        assert_eq!(policy.backoff(2), Duration::from_millis(200));
        assert_eq!(policy.backoff(3), Duration::from_millis(400));
        assert_eq!(policy.backoff(4), Duration::from_millis(500));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(500));
    }

    #[test]
    fn repeats_in_place_double_their_wait() {
        let policy = RetryPolicy {
            in_place_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        };
        assert_eq!(policy.in_place_backoff(1), Duration::from_millis(10));
        assert_eq!(policy.in_place_backoff(2), Duration::from_millis(20));
        assert_eq!(policy.in_place_backoff(3), Duration::from_millis(40));
        assert_eq!(
            policy.in_place_backoff(u32::MAX),
            Duration::from_millis(10 << 16)
        );
        assert_eq!(policy.in_place_total_wait(), Duration::from_millis(70));
    }

    #[test]
    fn passthrough_is_applied_last() {
        let mut c = BusConfig::default();
        c.librdkafka.insert("linger.ms".into(), "50".into());
        let config = c.producer_client_config();
        assert_eq!(config.get("linger.ms"), Some("50"));
        assert_eq!(config.get("enable.idempotence"), Some("true"));
        let consumer = c.consumer_client_config("tributary.test");
        assert_eq!(consumer.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(consumer.get("group.id"), Some("tributary.test"));
    }
}
