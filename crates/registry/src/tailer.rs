//! Reads the schemas topic from its beginning and keeps following it, applying
//! every record to the shared [`RegistryState`].
//!
//! This is the only writer of the in-memory state, for our own writes too: a
//! request waits until its record has come back through here, so every
//! instance on the same topic converges on the same state. A dedicated
//! consumer with a manual assignment (no consumer group, no committed offsets)
//! reads from offset 0 on every start, so nothing is kept locally.

use std::{
    sync::{
        Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
    error::KafkaError,
};
use tokio::{sync::watch, task::JoinHandle};
use tokio_util::sync::CancellationToken;

use crate::{
    config::RegistryConfig,
    record::LogRecord,
    state::{Applied, RegistryState},
    store::{PARTITION, StoreError},
};

/// The state every request reads, updated only by the tailer.
pub(crate) type SharedState = Arc<RwLock<RegistryState>>;

/// Read access; a poisoned lock still holds a consistent state because
/// [`RegistryState::apply`] completes or does nothing.
pub(crate) fn read(state: &SharedState) -> RwLockReadGuard<'_, RegistryState> {
    state.read().unwrap_or_else(PoisonError::into_inner)
}

fn write(state: &SharedState) -> RwLockWriteGuard<'_, RegistryState> {
    state.write().unwrap_or_else(PoisonError::into_inner)
}

/// How far the tailer has read, shared with whoever waits for a write to
/// come back.
#[derive(Debug, Clone)]
pub(crate) struct LogProgress {
    /// Every record below this offset has been applied.
    applied: watch::Receiver<i64>,
    healthy: Arc<AtomicBool>,
}

impl LogProgress {
    /// Waits until every record below `offset` has been applied.
    pub(crate) async fn wait_applied(
        &self,
        offset: i64,
        timeout: Duration,
    ) -> Result<(), StoreError> {
        let mut applied = self.applied.clone();
        match tokio::time::timeout(timeout, applied.wait_for(|applied| *applied >= offset)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(StoreError::ReaderStopped),
            Err(_) => Err(StoreError::Timeout {
                what: "the schemas topic to be read up to the latest write",
                after: timeout,
            }),
        }
    }

    /// False after the consumer reported an error, until it reads again.
    pub(crate) fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed) && self.applied.has_changed().is_ok()
    }
}

/// Starts reading the topic from its beginning in a background task that
/// runs until `cancel` fires.
pub(crate) fn start(
    config: &RegistryConfig,
    state: SharedState,
    cancel: CancellationToken,
) -> Result<(LogProgress, JoinHandle<()>), StoreError> {
    // librdkafka wants a group id even for a manual assignment; it is never
    // joined (no subscribe) and never committed to, so instances may share it.
    let group = format!("tributary-registry.{}", config.topic);
    // A short fetch wait: a write is acknowledged only once read back, so
    // this bounds write latency on brokers that do not wake long polls early.
    let consumer: StreamConsumer = config
        .kafka_config(&[("fetch.wait.max.ms", "50")])
        .set("group.id", &group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "true")
        .create()
        .map_err(StoreError::Client)?;
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&config.topic, PARTITION, Offset::Beginning)
        .map_err(StoreError::Client)?;
    consumer.assign(&assignment).map_err(StoreError::Client)?;

    let (applied_tx, applied) = watch::channel(0_i64);
    let healthy = Arc::new(AtomicBool::new(true));
    let task = Tail {
        consumer,
        topic: config.topic.clone(),
        state,
        applied: applied_tx,
        healthy: Arc::clone(&healthy),
    };
    let handle = tokio::spawn(task.run(cancel));
    Ok((LogProgress { applied, healthy }, handle))
}

struct Tail {
    consumer: StreamConsumer,
    topic: String,
    state: SharedState,
    applied: watch::Sender<i64>,
    healthy: Arc<AtomicBool>,
}

impl Tail {
    async fn run(self, cancel: CancellationToken) {
        let mut pause = Duration::from_millis(100);
        loop {
            let next = tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                next = self.consumer.recv() => next,
            };
            match next {
                Ok(message) => {
                    self.apply(message.offset(), message.key(), message.payload());
                    self.advance(message.offset() + 1);
                    self.healthy.store(true, Ordering::Relaxed);
                    pause = Duration::from_millis(100);
                }
                Err(KafkaError::PartitionEOF(_)) => {
                    // At the end: the position covers offsets that hold no
                    // record (compacted away), which no message would.
                    if let Some(position) = self.position() {
                        self.advance(position);
                    }
                    self.healthy.store(true, Ordering::Relaxed);
                }
                Err(e) => {
                    self.healthy.store(false, Ordering::Relaxed);
                    tracing::warn!(topic = %self.topic, error = %e, "error reading the schemas topic; retrying");
                    tokio::select! {
                        () = cancel.cancelled() => break,
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
            }
        }
        tracing::debug!(topic = %self.topic, "schemas topic reader stopped");
    }

    fn apply(&self, offset: i64, key: Option<&[u8]>, value: Option<&[u8]>) {
        let record = match LogRecord::decode(key, value) {
            Ok(record) => record,
            Err(e) => {
                tracing::warn!(topic = %self.topic, offset, error = %e, "skipping unreadable record");
                return;
            }
        };
        let outcome = write(&self.state).apply(record);
        match outcome {
            Applied::Changed | Applied::Unchanged => {}
            Applied::Conflict(detail) => {
                tracing::warn!(topic = %self.topic, offset, %detail, "ignoring record that lost a write conflict");
            }
            Applied::Skipped(detail) => {
                tracing::warn!(topic = %self.topic, offset, %detail, "ignoring unusable schema record");
            }
        }
    }

    fn advance(&self, next: i64) {
        self.applied.send_if_modified(|applied| {
            let moved = next > *applied;
            if moved {
                *applied = next;
            }
            moved
        });
    }

    fn position(&self) -> Option<i64> {
        let positions = self.consumer.position().ok()?;
        match positions.find_partition(&self.topic, PARTITION)?.offset() {
            Offset::Offset(offset) => Some(offset),
            _ => None,
        }
    }
}
