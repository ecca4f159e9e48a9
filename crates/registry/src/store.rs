//! The `_schemas` topic on the Kafka side: creating it, appending records
//! with an idempotent `acks=all` producer, and asking where its end is.
//!
//! Reading it back lives in [`crate::tailer`].

use std::time::{Duration, Instant};

use rdkafka::{
    admin::{AdminClient, AdminOptions, NewTopic, TopicReplication},
    client::DefaultClientContext,
    error::{KafkaError, RDKafkaErrorCode},
    producer::{FutureProducer, FutureRecord, Producer},
};
use thiserror::Error;

use crate::{config::RegistryConfig, record::LogRecord};

/// The only partition of the schemas topic: one partition gives one total
/// order of writes, which is what makes "first in the log wins" well defined.
pub(crate) const PARTITION: i32 = 0;

/// Failures talking to the broker about the schemas topic.
#[derive(Debug, Error)]
pub enum StoreError {
    /// Nothing answered at the bootstrap servers within the start-up timeout.
    #[error(
        "Kafka broker unreachable at `{bootstrap_servers}` after {attempts} attempt(s) in {waited:?}: {detail}"
    )]
    Unreachable {
        bootstrap_servers: String,
        attempts: u32,
        waited: Duration,
        detail: String,
    },
    /// The broker refused to create the topic.
    #[error("cannot create schemas topic `{topic}`: {detail}")]
    CreateTopic { topic: String, detail: String },
    /// A Kafka client could not be built from the configuration.
    #[error("invalid Kafka client configuration: {0}")]
    Client(KafkaError),
    /// A record could not be written to the log.
    #[error("cannot write to schemas topic `{topic}`: {source}")]
    Write { topic: String, source: KafkaError },
    /// The broker did not acknowledge, or the log was not read back, in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout { what: &'static str, after: Duration },
    /// The end offset of the topic could not be read.
    #[error("cannot read the end offset of `{topic}`: {source}")]
    Watermarks { topic: String, source: KafkaError },
    /// The background reader of the log has stopped.
    #[error("the schemas topic reader has stopped")]
    ReaderStopped,
    /// A record could not be encoded (a bug, reported rather than panicking).
    #[error("cannot encode log record: {0}")]
    Encode(#[from] serde_json::Error),
}

impl StoreError {
    /// Whether the failure is a timeout, which Confluent reports as 50002.
    pub fn is_timeout(&self) -> bool {
        match self {
            StoreError::Timeout { .. } => true,
            StoreError::Write { source, .. } => {
                matches!(
                    source,
                    KafkaError::MessageProduction(RDKafkaErrorCode::MessageTimedOut)
                )
            }
            _ => false,
        }
    }
}

/// Creates the compacted, single-partition schemas topic unless it exists,
/// retrying until `config.startup_timeout` while the broker cannot be reached.
pub(crate) async fn ensure_topic(config: &RegistryConfig) -> Result<(), StoreError> {
    let admin: AdminClient<DefaultClientContext> = config
        .kafka_config(&[])
        .create()
        .map_err(StoreError::Client)?;
    let topic = NewTopic::new(
        &config.topic,
        1,
        TopicReplication::Fixed(config.topic_replication_factor),
    )
    .set("cleanup.policy", "compact");
    let started = Instant::now();
    let mut attempts = 0;
    let mut pause = Duration::from_millis(200);
    loop {
        attempts += 1;
        let remaining = config.startup_timeout.saturating_sub(started.elapsed());
        let request_timeout = remaining.clamp(Duration::from_millis(100), Duration::from_secs(5));
        let options = AdminOptions::new()
            .request_timeout(Some(request_timeout))
            .operation_timeout(Some(request_timeout));
        let outcome = tokio::time::timeout(
            request_timeout + Duration::from_secs(1),
            admin.create_topics([&topic], &options),
        )
        .await
        .unwrap_or(Err(KafkaError::AdminOp(
            RDKafkaErrorCode::OperationTimedOut,
        )));
        let detail = match outcome {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => {
                    tracing::info!(topic = %config.topic, "created schemas topic");
                    return Ok(());
                }
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => return Ok(()),
                Some(Err((_, code))) if !is_transient(code) => {
                    return Err(StoreError::CreateTopic {
                        topic: config.topic.clone(),
                        detail: code.to_string(),
                    });
                }
                Some(Err((_, code))) => code.to_string(),
                None => "no result for the topic".to_owned(),
            },
            Err(e) => e.to_string(),
        };
        if started.elapsed() + pause >= config.startup_timeout {
            return Err(StoreError::Unreachable {
                bootstrap_servers: config.bootstrap_servers.clone(),
                attempts,
                waited: started.elapsed(),
                detail,
            });
        }
        tracing::warn!(bootstrap_servers = %config.bootstrap_servers, attempts, %detail, "broker not ready; retrying");
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

fn is_transient(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::OperationTimedOut
            | RDKafkaErrorCode::RequestTimedOut
            | RDKafkaErrorCode::BrokerTransportFailure
            | RDKafkaErrorCode::AllBrokersDown
            | RDKafkaErrorCode::NotController
            | RDKafkaErrorCode::LeaderNotAvailable
            | RDKafkaErrorCode::CoordinatorNotAvailable
            | RDKafkaErrorCode::NotCoordinator
            | RDKafkaErrorCode::NetworkException
    )
}

/// Appends records to the schemas topic.
#[derive(Clone)]
pub(crate) struct LogWriter {
    producer: FutureProducer,
    topic: String,
    timeout: Duration,
}

impl std::fmt::Debug for LogWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogWriter")
            .field("topic", &self.topic)
            .finish_non_exhaustive()
    }
}

impl LogWriter {
    pub(crate) fn new(config: &RegistryConfig) -> Result<Self, StoreError> {
        let timeout_ms = config.write_timeout.as_millis().max(1).to_string();
        let producer = config
            .kafka_config(&[("linger.ms", "0")])
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("message.timeout.ms", &timeout_ms)
            .create()
            .map_err(StoreError::Client)?;
        Ok(LogWriter {
            producer,
            topic: config.topic.clone(),
            timeout: config.write_timeout,
        })
    }

    /// Appends one record and returns its offset once the broker has
    /// acknowledged it (all in-sync replicas).
    pub(crate) async fn append(&self, record: &LogRecord) -> Result<i64, StoreError> {
        let (key, value) = record.encode()?;
        let mut message = FutureRecord::to(&self.topic).partition(PARTITION).key(&key);
        if let Some(value) = &value {
            message = message.payload(value);
        }
        match self.producer.send(message, self.timeout).await {
            Ok(delivery) => Ok(delivery.offset),
            Err((source, _)) => Err(StoreError::Write {
                topic: self.topic.clone(),
                source,
            }),
        }
    }

    /// The offset the next record will get (the high watermark), i.e. how far
    /// the log must be read to have seen every write acknowledged so far.
    pub(crate) async fn end_offset(&self) -> Result<i64, StoreError> {
        let producer = self.producer.clone();
        let topic = self.topic.clone();
        let timeout = self.timeout;
        let result = tokio::task::spawn_blocking(move || {
            producer
                .client()
                .fetch_watermarks(&topic, PARTITION, timeout)
        })
        .await
        .map_err(|_| StoreError::ReaderStopped)?;
        match result {
            Ok((_, high)) => Ok(high),
            Err(KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut)) => {
                Err(StoreError::Timeout {
                    what: "the end offset of the schemas topic",
                    after: timeout,
                })
            }
            Err(source) => Err(StoreError::Watermarks {
                topic: self.topic.clone(),
                source,
            }),
        }
    }
}
