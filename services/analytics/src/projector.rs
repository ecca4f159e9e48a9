//! The analytics projector: every event of every topic updates its source
//! partition's watermark row, totals row and window shard, and the running
//! saga table.

use std::sync::Arc;

use async_trait::async_trait;
use thiserror::Error;
use tributary_bus::{HandlerError, Received};
use tributary_service::{Clock, Effects, Projector, Versioned};
use tributary_views::{ClusteringOrder, Expect, ViewError, ViewStore, Write};

use crate::domain::{Fact, Rules, saga_duration_ms};
use crate::views::{
    ALL, CLOCKS, MAX_SOURCES, OrderStart, STARTS, SourceTotals, TOTALS, WINDOWS, WindowShard,
    bucket_key, shard_key, source_key,
};

/// Why an event could not be projected (the cause of the [`HandlerError`]).
#[derive(Debug, Error)]
pub enum ProjectError {
    /// Reading the view failed.
    #[error("analytics view read failed: {0}")]
    View(#[from] ViewError),
    /// A row could not be serialized (a bug in a row type).
    #[error("cannot serialize an analytics row: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl From<ProjectError> for HandlerError {
    /// Stored rows this code cannot read, and rows it cannot write, will
    /// not fix themselves: dead-letter the event. Everything else (a busy or
    /// unreachable store) is worth a retry.
    fn from(error: ProjectError) -> Self {
        let permanent = match &error {
            ProjectError::View(e) => matches!(
                e,
                ViewError::Corrupted { .. }
                    | ViewError::UnknownTable { .. }
                    | ViewError::InvalidName { .. }
                    | ViewError::InvalidTransaction { .. }
                    | ViewError::InvalidConfig { .. }
            ),
            ProjectError::Serialize(_) => true,
        };
        if permanent {
            HandlerError::permanent(error)
        } else {
            HandlerError::retryable(error)
        }
    }
}

/// Projects every consumed event into the analytics view.
#[derive(Debug, Clone)]
pub struct AnalyticsProjector {
    rules: Rules,
    clock: Arc<dyn Clock>,
}

impl AnalyticsProjector {
    /// A projector applying `rules`, with `clock` as processing time (idle
    /// partitions, future events).
    pub fn new(rules: Rules, clock: Arc<dyn Clock>) -> Self {
        AnalyticsProjector { rules, clock }
    }

    async fn decide(
        &self,
        view: &dyn ViewStore,
        received: &Received,
    ) -> Result<Effects, ProjectError> {
        let now = self.clock.now_ms();
        let event_time = received.event.envelope().occurred_at;
        let fact = Fact::of(&received.event);
        let topic = received.topic.as_str();
        let partition = received.partition;
        let source = source_key(topic, partition);

        let clocks = CLOCKS
            .partition(view, ALL, ClusteringOrder::Ascending, MAX_SOURCES)
            .await?;
        let stored_totals = TOTALS.get(view, ALL, &source).await?;
        let (mut totals, totals_expect) = current(stored_totals, || SourceTotals {
            topic: topic.to_owned(),
            partition,
            ..SourceTotals::default()
        });

        let values: Vec<_> = clocks.iter().map(|c| c.value.clone()).collect();
        let placement = match self.rules.place(&values, topic, partition, event_time, now) {
            Ok(placement) => placement,
            Err(refusal) => {
                tracing::warn!(
                    topic,
                    partition,
                    offset = received.offset,
                    event_time,
                    ?refusal,
                    "event time cannot be windowed; counted as refused"
                );
                totals.refused_events = totals.refused_events.saturating_add(1);
                return Ok(Effects::none().write(TOTALS.put(
                    ALL,
                    &source,
                    &totals,
                    totals_expect,
                )?));
            }
        };

        let own_clock = clocks
            .iter()
            .find(|c| c.value.topic == topic && c.value.partition == partition);
        let mut effects = Effects::none().write(CLOCKS.put(
            ALL,
            &source,
            &placement.advance.clock,
            expect_of(own_clock),
        )?);

        let (duration, start_write) = self.saga(view, &fact, event_time).await?;
        if let Some(write) = start_write {
            effects = effects.write(write);
        }

        let window_start = placement.window_start_ms;
        let bucket = bucket_key(self.rules.window.bucket_of(window_start));
        let shard_id = shard_key(window_start, topic, partition);
        let (mut shard, shard_expect) =
            current(WINDOWS.get(view, &bucket, &shard_id).await?, || {
                WindowShard {
                    window_start_ms: window_start,
                    topic: topic.to_owned(),
                    partition,
                    aggregates: Default::default(),
                }
            });
        if placement.late {
            tracing::debug!(
                topic,
                partition,
                offset = received.offset,
                event_time,
                window_start,
                "late event for a final window; counted, not applied"
            );
            shard.aggregates.count_late();
            totals.aggregates.count_late();
        } else {
            shard.aggregates.apply(topic, &fact, duration);
            totals.aggregates.apply(topic, &fact, duration);
        }
        Ok(effects
            .write(WINDOWS.put(&bucket, &shard_id, &shard, shard_expect)?)
            .write(TOTALS.put(ALL, &source, &totals, totals_expect)?))
    }

    /// The saga bookkeeping of `fact`: the duration of a saga it ends (when
    /// its start is known) and the write to the running-saga table.
    ///
    /// Starts are recorded even for late placements, so that a saga ending
    /// on time still gets its duration; a duplicate placement keeps the
    /// earliest start. Ends delete the start whether or not they are late.
    async fn saga(
        &self,
        view: &dyn ViewStore,
        fact: &Fact,
        event_time: i64,
    ) -> Result<(Option<u64>, Option<Write>), ProjectError> {
        let Some(order_id) = fact.order_id() else {
            return Ok((None, None));
        };
        let key = order_id.to_string();
        let start = STARTS.get(view, &key, "").await?;
        if fact.is_terminal() {
            Ok(match start {
                Some(start) => (
                    Some(saga_duration_ms(start.value.placed_at_ms, event_time)),
                    Some(STARTS.delete(&key, "", Expect::Version(start.version))),
                ),
                None => (None, None),
            })
        } else {
            let write = match start {
                Some(start) if start.value.placed_at_ms <= event_time => None,
                other => Some(STARTS.put(
                    &key,
                    "",
                    &OrderStart {
                        placed_at_ms: event_time,
                    },
                    expect_of(other.as_ref()),
                )?),
            };
            Ok((None, write))
        }
    }
}

#[async_trait]
impl Projector for AnalyticsProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> Result<Effects, HandlerError> {
        self.decide(view, event).await.map_err(HandlerError::from)
    }
}

/// The stored value (or a fresh one) and the expectation that makes the
/// write a compare-and-set on what was read.
fn current<T>(stored: Option<Versioned<T>>, fresh: impl FnOnce() -> T) -> (T, Expect) {
    match stored {
        Some(Versioned { value, version }) => (value, Expect::Version(version)),
        None => (fresh(), Expect::Absent),
    }
}

fn expect_of<T>(stored: Option<&Versioned<T>>) -> Expect {
    stored.map_or(Expect::Absent, |s| Expect::Version(s.version))
}
