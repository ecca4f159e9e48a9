//! What a service implements to consume: a [`Handler`] for typed events, or a
//! [`RawHandler`] for framed bytes (the RabbitMQ bridge, benchmarks).

use async_trait::async_trait;
use tributary_contracts::events::AnyEvent;

use crate::headers::MessageHeaders;

/// Any error a handler wants to report.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// One decoded event, with where it came from.
///
/// `topic`, `partition` and `offset` are the event's coordinates in its
/// source topic, also when this delivery comes from the retry topic, so a
/// handler sees one stable identity across attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub event: AnyEvent,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    /// 1 for the first delivery, 2 for the first retry, ...
    pub attempt: u32,
    /// The record's timestamp (producer create time), if any.
    pub timestamp_ms: Option<i64>,
}

/// One undecoded message, with its headers.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReceived {
    pub payload: Vec<u8>,
    pub headers: MessageHeaders,
    /// Source-topic coordinates, as in [`Received`].
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub attempt: u32,
    pub timestamp_ms: Option<i64>,
}

/// How a handler failed, which decides where the event goes next.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth another try later (a dependency was down, a timeout): the event
    /// goes to `<topic>.<group>.retry` with backoff, and to the DLQ once the
    /// retry policy's `max_attempts` deliveries have failed.
    #[error("retryable handler error: {0}")]
    Retryable(#[source] BoxError),
    /// Will never succeed (a business rule rejects the event): straight to
    /// `<topic>.<group>.dlq`.
    #[error("permanent handler error: {0}")]
    Permanent(#[source] BoxError),
}

impl HandlerError {
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        HandlerError::Retryable(error.into())
    }

    pub fn permanent(error: impl Into<BoxError>) -> Self {
        HandlerError::Permanent(error.into())
    }
}

/// Handles typed events of one consumer group.
///
/// Called once per event at a time per partition (in offset order), from as
/// many partitions in parallel as this member owns. Delivery is at least
/// once: make handling idempotent (deduplicate on the event id).
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, event: Received) -> Result<(), HandlerError>;
}

/// Handles undecoded messages; see [`Handler`] for the guarantees.
#[async_trait]
pub trait RawHandler: Send + Sync + 'static {
    async fn handle(&self, message: RawReceived) -> Result<(), HandlerError>;
}
