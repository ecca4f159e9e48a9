//! The projection handler: the bus [`Handler`] that turns each consumed
//! event into one view-store transaction — the projector's writes, the
//! emitted events (outbox), the processed-event id and the consumed
//! position — so that a crash leaves all of it or none of it, and a
//! redelivery changes nothing.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use thiserror::Error;
use tributary_bus::{EncodeError, Handler, HandlerError, Received};
use tributary_telemetry::{InternalEvent as _, labels::TopicGroupLabels};
use tributary_views::{ConsumedPosition, Outcome, ViewError};
use uuid::Uuid;

use crate::{
    Projector, ServiceContext,
    internal_events::{DuplicateSkipped, ProjectionConflict},
};

/// Longest pause between two projection attempts after a conflict; the
/// pause is random below a bound that doubles per attempt, so two replicas
/// racing for one row stop colliding quickly.
const MAX_CONFLICT_PAUSE: Duration = Duration::from_millis(50);

/// Why a projection did not commit (the boxed cause of a [`HandlerError`]).
#[derive(Debug, Error)]
pub enum ProjectionError {
    /// Other writers kept changing the rows this event reads.
    #[error(
        "event {event_id} conflicted {attempts} times in a row (last on table `{table}`); \
         leaving it to the retry topic"
    )]
    Contended {
        event_id: Uuid,
        attempts: u32,
        table: &'static str,
    },
    /// The view store failed.
    #[error("view store failed while projecting event {event_id}: {source}")]
    Store {
        event_id: Uuid,
        #[source]
        source: ViewError,
    },
    /// An emitted event could not be encoded.
    #[error("cannot encode an event emitted for event {event_id}: {source}")]
    Encode {
        event_id: Uuid,
        #[source]
        source: EncodeError,
    },
}

/// Runs a [`Projector`] for one consumer group.
pub(crate) struct ProjectionHandler {
    pub context: ServiceContext,
    pub projector: Arc<dyn Projector>,
    pub group: String,
    pub conflict_retry_limit: u32,
}

#[async_trait]
impl Handler for ProjectionHandler {
    async fn handle(&self, received: Received) -> Result<(), HandlerError> {
        let envelope = received.event.envelope();
        let event_id = envelope.event_id;
        let labels = TopicGroupLabels {
            topic: received.topic.clone(),
            group: self.group.clone(),
        };
        let metrics = self.context.metrics();
        let store = self.context.store();
        // Checked before projecting, not only at apply: a projector may
        // reject an old event against today's state (DLQ) although it was
        // handled successfully when it first arrived.
        let seen = store
            .was_processed(event_id)
            .await
            .map_err(|source| store_failure(event_id, source))?;
        if seen {
            DuplicateSkipped {
                labels: &labels,
                event_id,
            }
            .emit(metrics);
            return Ok(());
        }

        let position = ConsumedPosition {
            group: self.group.clone(),
            topic: received.topic.clone(),
            partition: received.partition,
            offset: received.offset.saturating_add(1),
        };
        let write_time = envelope.occurred_at.saturating_mul(1000);
        let mut last_table = "";
        for attempt in 1..=self.conflict_retry_limit {
            let effects = self.projector.project(store, &received).await?;
            let emits = !effects.emit.is_empty();
            let tx = self
                .context
                .encoder()
                .transaction(Some(event_id), effects)
                .await
                .map_err(|source| encode_failure(event_id, source))?
                .at_position(position.clone())
                .with_write_time(write_time);
            match store
                .apply(tx)
                .await
                .map_err(|source| store_failure(event_id, source))?
            {
                Outcome::Applied => {
                    if emits {
                        self.context.relay_wake().notify_one();
                    }
                    return Ok(());
                }
                Outcome::Duplicate => {
                    DuplicateSkipped {
                        labels: &labels,
                        event_id,
                    }
                    .emit(metrics);
                    return Ok(());
                }
                Outcome::Conflict { table, .. } => {
                    ProjectionConflict {
                        labels: &labels,
                        event_id,
                        table,
                        attempt,
                    }
                    .emit(metrics);
                    last_table = table;
                    if attempt < self.conflict_retry_limit {
                        tokio::time::sleep(conflict_pause(attempt)).await;
                    }
                }
            }
        }
        Err(HandlerError::retryable(ProjectionError::Contended {
            event_id,
            attempts: self.conflict_retry_limit,
            table: last_table,
        }))
    }
}

/// A malformed transaction (unknown table, a row written twice) is a bug
/// in the projector that the same event will hit again: dead-letter it so
/// the partition moves on. Everything else may pass.
fn store_failure(event_id: Uuid, source: ViewError) -> HandlerError {
    let permanent = matches!(
        source,
        ViewError::InvalidTransaction { .. } | ViewError::UnknownTable { .. }
    );
    let error = ProjectionError::Store { event_id, source };
    if permanent {
        HandlerError::permanent(error)
    } else {
        HandlerError::retryable(error)
    }
}

/// An event that violates its own schema always will; a registry that
/// cannot be reached may come back.
fn encode_failure(event_id: Uuid, source: EncodeError) -> HandlerError {
    let transient = match &source {
        EncodeError::Registry { source, .. } => source.is_transient(),
        EncodeError::Contract(_) => false,
    };
    let error = ProjectionError::Encode { event_id, source };
    if transient {
        HandlerError::retryable(error)
    } else {
        HandlerError::permanent(error)
    }
}

/// Random pause in `[0, min(2^attempt ms, MAX_CONFLICT_PAUSE)]`.
pub(crate) fn conflict_pause(attempt: u32) -> Duration {
    let bound = 1u64
        .checked_shl(attempt.min(16))
        .unwrap_or(u64::MAX)
        .min(u64::try_from(MAX_CONFLICT_PAUSE.as_millis()).unwrap_or(u64::MAX));
    // A v4 uuid is 122 random bits: randomness without another dependency.
    let random = Uuid::new_v4().as_u64_pair().0;
    Duration::from_micros(random % (bound * 1000 + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_pauses_are_bounded() {
        for attempt in 0..40 {
            let pause = conflict_pause(attempt);
            assert!(pause <= MAX_CONFLICT_PAUSE, "{attempt}: {pause:?}");
            assert!(pause <= Duration::from_millis(1 << attempt.min(16)));
        }
    }
}
