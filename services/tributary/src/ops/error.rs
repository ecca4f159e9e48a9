//! Errors of the operations library. Every variant renders as one line an
//! operator can act on; callers print it and exit non-zero.

use rdkafka::error::KafkaError;
use thiserror::Error;

/// Why an operation failed. Operations validate everything before they
/// change anything, so any of these means nothing was changed unless the
/// variant says otherwise.
#[derive(Debug, Error)]
pub enum OpsError {
    #[error("{action}: {source}")]
    Kafka {
        action: String,
        #[source]
        source: KafkaError,
    },
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    #[error("unknown consumer group `{0}` (no members and no committed offsets)")]
    UnknownGroup(String),
    #[error("topic `{topic}` has no partition {partition}")]
    UnknownPartition { topic: String, partition: i32 },
    #[error(
        "target offset {target} for {topic}/{partition} is outside the log [{low}, {high}]; nothing was changed"
    )]
    OutOfRange {
        topic: String,
        partition: i32,
        target: i64,
        low: i64,
        high: i64,
    },
    #[error("{time} is before the first event of `{topic}` (at {first}); nothing was changed")]
    BeforeFirstEvent {
        topic: String,
        time: String,
        first: String,
    },
    #[error(
        "group `{group}` has no committed offset on {topic}/{partition}; use an absolute target"
    )]
    NoCommittedOffset {
        group: String,
        topic: String,
        partition: i32,
    },
    #[error(
        "group `{group}` has {members} active member(s); stop them before {action} (nothing was changed)"
    )]
    ActiveMembers {
        group: String,
        members: usize,
        /// What was refused ("resetting its offsets").
        action: &'static str,
    },
    #[error("malformed DLQ record {topic}/{partition}@{offset}: {detail}; nothing was changed")]
    MalformedDlqRecord {
        topic: String,
        partition: i32,
        offset: i64,
        detail: String,
    },
    #[error("`{0}` is not a dead-letter topic (expected `<topic>.<group>.dlq`)")]
    NotADlqTopic(String),
    #[error("no record at {topic}/{partition}@{offset}")]
    NoSuchRecord {
        topic: String,
        partition: i32,
        offset: i64,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("producing to `{topic}` failed after {done} record(s): {detail}")]
    Produce {
        topic: String,
        done: usize,
        detail: String,
    },
    #[error("reading {topic}: no progress for {seconds}s (is the broker up?)")]
    Stalled { topic: String, seconds: u64 },
    #[error("HTTP request to {url} failed: {detail}")]
    Http { url: String, detail: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("background task failed: {0}")]
    Task(String),
}

impl OpsError {
    pub(crate) fn kafka(action: impl Into<String>) -> impl FnOnce(KafkaError) -> OpsError {
        let action = action.into();
        move |source| OpsError::Kafka { action, source }
    }
}
