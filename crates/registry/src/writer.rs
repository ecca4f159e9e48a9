//! The single writer of one instance: every change goes through here, one at
//! a time, and is acknowledged only once the broker has it and this instance
//! has read it back.
//!
//! A write first reads the log up to its current end (so the plan sees every
//! acknowledged write, also other instances'), plans against that state,
//! appends, then waits for its own record to be applied. If another instance
//! won a race for the same id or version, the loser repairs the log and tries
//! again, a bounded number of times.

use std::time::Duration;

use thiserror::Error;
use tokio::sync::Mutex;
use tributary_contracts::CompatibilityLevel;

use crate::{
    record::LogRecord,
    schema::StoredSchema,
    state::{Registration, StateError},
    store::{LogWriter, StoreError},
    tailer::{LogProgress, SharedState, read},
};

/// Attempts of a registration that keeps losing races with other instances.
const MAX_CONFLICT_ATTEMPTS: u32 = 3;

/// Why a write did not happen.
#[derive(Debug, Error)]
pub(crate) enum WriteError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("registration kept conflicting with concurrent writes from other instances")]
    Contended,
}

/// Serializes this instance's writes to the schemas topic.
#[derive(Debug)]
pub(crate) struct Writer {
    /// Held across the whole write, awaits included: a tokio mutex.
    turn: Mutex<()>,
    log: LogWriter,
    progress: LogProgress,
    state: SharedState,
    timeout: Duration,
}

impl Writer {
    pub(crate) fn new(
        log: LogWriter,
        progress: LogProgress,
        state: SharedState,
        timeout: Duration,
    ) -> Self {
        Writer {
            turn: Mutex::new(()),
            log,
            progress,
            state,
            timeout,
        }
    }

    /// Registers `schema` under `subject`; returns its global id.
    pub(crate) async fn register(
        &self,
        subject: &str,
        schema: &StoredSchema,
    ) -> Result<u32, WriteError> {
        // Already registered: answer without touching the log.
        if let Ok(Registration::Existing { id, .. }) =
            read(&self.state).plan_register(subject, schema)
        {
            return Ok(id);
        }
        let _turn = self.turn.lock().await;
        for attempt in 1..=MAX_CONFLICT_ATTEMPTS {
            self.catch_up().await?;
            let plan = read(&self.state).plan_register(subject, schema)?;
            let value = match plan {
                Registration::Existing { id, .. } => return Ok(id),
                Registration::New(value) => value,
            };
            self.append_and_apply(&LogRecord::schema(value.clone()))
                .await?;
            let repair = {
                let state = read(&self.state);
                if state.confirms(&value) {
                    tracing::info!(
                        subject,
                        version = value.version,
                        id = value.id,
                        "registered schema"
                    );
                    return Ok(value.id);
                }
                state.repair_for(&value)
            };
            tracing::warn!(
                subject,
                attempt,
                id = value.id,
                "registration lost a race with another instance; repairing"
            );
            self.append_and_apply(&repair).await?;
        }
        Err(WriteError::Contended)
    }

    /// Sets (`Some`) or removes (`None`) the level of `subject`, or the global
    /// level when `subject` is `None`.
    pub(crate) async fn set_level(
        &self,
        subject: Option<&str>,
        level: Option<CompatibilityLevel>,
    ) -> Result<(), WriteError> {
        let _turn = self.turn.lock().await;
        let record = LogRecord::Config {
            subject: subject.map(str::to_owned),
            level,
        };
        self.append_and_apply(&record).await
    }

    /// Soft-deletes every version of `subject`; returns the deleted versions.
    pub(crate) async fn delete_subject(&self, subject: &str) -> Result<Vec<u32>, WriteError> {
        let _turn = self.turn.lock().await;
        self.catch_up().await?;
        let (versions, records) = read(&self.state).plan_delete_subject(subject)?;
        for record in &records {
            self.append_and_apply(record).await?;
        }
        Ok(versions)
    }

    /// Reads the log up to its current end.
    async fn catch_up(&self) -> Result<(), StoreError> {
        let end = self.log.end_offset().await?;
        self.progress.wait_applied(end, self.timeout).await
    }

    async fn append_and_apply(&self, record: &LogRecord) -> Result<(), WriteError> {
        let offset = self.log.append(record).await?;
        self.progress.wait_applied(offset + 1, self.timeout).await?;
        Ok(())
    }
}
