//! One error enum per concern. Each carries what an operator needs to act
//! (the topic, the key, the bootstrap servers) and, where it ends up in a
//! metric label or a DLQ header, a short stable `reason()` code.

use std::time::Duration;

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use thiserror::Error;
use tributary_contracts::ContractError;
use tributary_registry::RegistryError;

/// An invalid [`BusConfig`](crate::BusConfig); `key` is the dotted path of
/// the offending setting.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("invalid configuration `{key}`: {message}")]
    Invalid { key: String, message: String },
}

/// The broker could not be reached at start-up within the configured timeout.
#[derive(Debug, Error)]
#[error("Kafka brokers at {bootstrap_servers} unreachable within {timeout:?}: {detail}")]
pub struct UnreachableError {
    pub bootstrap_servers: String,
    pub timeout: Duration,
    pub detail: String,
}

/// Why an event could not be turned into framed bytes.
#[derive(Debug, Error)]
pub enum EncodeError {
    /// The event does not fit its own schema; nothing was written.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The registry refused the schema (incompatible, invalid) or could not
    /// be reached; nothing was written.
    #[error("schema registration for subject `{subject}` failed: {source}")]
    Registry {
        subject: String,
        #[source]
        source: RegistryError,
    },
}

impl EncodeError {
    /// Short stable code for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            EncodeError::Contract(e) => e.reason(),
            EncodeError::Registry { source, .. } => source.reason(),
        }
    }
}

/// Why a consumed payload could not be turned into an event.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// The message has no payload at all (a tombstone).
    #[error("message has no payload")]
    Empty,
    /// Bad framing (too short, wrong magic byte), an unknown record or an
    /// undecodable body.
    #[error(transparent)]
    Contract(#[from] ContractError),
    /// The frame names a schema id the registry does not know.
    #[error("unknown schema id {id}")]
    UnknownSchemaId { id: u32 },
    /// The writer schema for the id is not a named record.
    #[error("schema id {id} is not a record schema")]
    NotARecord { id: u32 },
    /// The registry could not be asked (unreachable, 5xx): not the message's
    /// fault, so the consumer waits and tries again rather than dead-lettering.
    #[error("schema registry unavailable while resolving schema id {id}: {source}")]
    Registry {
        id: u32,
        #[source]
        source: RegistryError,
    },
}

impl DecodeError {
    /// Short stable code for metrics and the `tributary.error.reason` header.
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::Empty => "empty_payload",
            DecodeError::Contract(e) => e.reason(),
            DecodeError::UnknownSchemaId { .. } => "unknown_schema_id",
            DecodeError::NotARecord { .. } => "unknown_record",
            DecodeError::Registry { .. } => "registry_unavailable",
        }
    }

    /// Whether the same bytes may decode later (registry back up), as opposed
    /// to a fault in the message itself.
    pub fn is_transient(&self) -> bool {
        match self {
            DecodeError::Registry { source, .. } => source.is_transient(),
            _ => false,
        }
    }
}

/// Why a send did not complete.
#[derive(Debug, Error)]
pub enum ProduceError {
    /// The event could not be encoded or its schema registered; nothing was
    /// written.
    #[error("cannot encode event for topic `{topic}`: {source}")]
    Encode {
        topic: String,
        #[source]
        source: EncodeError,
    },
    /// The local queue stayed full for the whole `queue_full_timeout`.
    #[error("producer queue for topic `{topic}` stayed full for {waited:?}")]
    QueueFull { topic: String, waited: Duration },
    /// The broker did not acknowledge the message (timed out, rejected).
    #[error("delivery to topic `{topic}` failed: {source}")]
    Delivery {
        topic: String,
        #[source]
        source: KafkaError,
    },
    /// The idempotent producer hit a fatal error and must be recreated.
    #[error("producer is in a fatal state ({code:?}): {message}")]
    Fatal {
        code: RDKafkaErrorCode,
        message: String,
    },
    /// The producer was dropped before the delivery report arrived.
    #[error("producer closed before the delivery report for topic `{topic}` arrived")]
    Closed { topic: String },
    /// The librdkafka client could not be created (bad passthrough property).
    #[error("cannot create Kafka producer: {0}")]
    Create(#[source] KafkaError),
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The brokers could not be reached at start-up.
    #[error(transparent)]
    Unreachable(#[from] UnreachableError),
}

impl ProduceError {
    /// Short stable code for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ProduceError::Encode { source, .. } => source.reason(),
            ProduceError::QueueFull { .. } => "queue_full",
            ProduceError::Delivery { source, .. } => kafka_reason(source),
            ProduceError::Fatal { .. } => "fatal",
            ProduceError::Closed { .. } => "closed",
            ProduceError::Create(_) => "create",
            ProduceError::Config(_) => "config",
            ProduceError::Unreachable(_) => "unreachable",
        }
    }
}

/// A short reason code for a librdkafka error.
pub(crate) fn kafka_reason(error: &KafkaError) -> &'static str {
    match error.rdkafka_error_code() {
        Some(RDKafkaErrorCode::MessageTimedOut) => "timed_out",
        Some(RDKafkaErrorCode::MessageSizeTooLarge) => "message_too_large",
        Some(RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic) => {
            "unknown_topic"
        }
        Some(
            RDKafkaErrorCode::TopicAuthorizationFailed
            | RDKafkaErrorCode::ClusterAuthorizationFailed,
        ) => "not_authorized",
        Some(RDKafkaErrorCode::QueueFull) => "queue_full",
        Some(RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure) => {
            "broker_down"
        }
        _ => "kafka_error",
    }
}

/// Topic administration failures.
#[derive(Debug, Error)]
pub enum AdminError {
    #[error(transparent)]
    Unreachable(#[from] UnreachableError),
    #[error("cannot create Kafka admin client: {0}")]
    Create(#[source] KafkaError),
    #[error("creating topic `{topic}` failed: {code}")]
    CreateTopic {
        topic: String,
        code: RDKafkaErrorCode,
    },
    #[error("topic `{topic}` does not exist")]
    UnknownTopic { topic: String },
    #[error("Kafka admin request failed: {0}")]
    Request(#[source] KafkaError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Why a consumer group could not start or stopped abnormally. Failures of
/// individual messages are never errors here: they go to retry or DLQ topics.
#[derive(Debug, Error)]
pub enum ConsumeError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Unreachable(#[from] UnreachableError),
    #[error("cannot prepare topics for group `{group}`: {source}")]
    Topics {
        group: String,
        #[source]
        source: AdminError,
    },
    #[error("cannot create Kafka consumer for group `{group}`: {source}")]
    Create {
        group: String,
        #[source]
        source: KafkaError,
    },
    #[error("cannot subscribe group `{group}` to {topics:?}: {source}")]
    Subscribe {
        group: String,
        topics: Vec<String>,
        #[source]
        source: KafkaError,
    },
    #[error("cannot create the retry/DLQ producer for group `{group}`: {source}")]
    Producer {
        group: String,
        #[source]
        source: ProduceError,
    },
    #[error("the consumer driver of group `{group}` stopped unexpectedly: {detail}")]
    Driver { group: String, detail: String },
}
