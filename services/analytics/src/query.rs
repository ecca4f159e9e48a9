//! Reading the analytics view: windows of a range (shards merged), the
//! watermark, and the all-time totals. Shared by the HTTP API and the
//! metrics refresher.

use std::collections::BTreeMap;

use tributary_views::{ClusteringOrder, ViewError, ViewStore};

use crate::domain::{Aggregates, PartitionClock, Rules, WINDOWS_PER_BUCKET};
use crate::views::{ALL, CLOCKS, MAX_SOURCES, TOTALS, WINDOWS, bucket_key};

/// Most windows one range query may cover (a day of one-minute windows).
pub const MAX_WINDOWS_PER_QUERY: i64 = 1_440;

/// Why a range query was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// `from` is not before `to`.
    #[error("`from` ({from_ms}) must be before `to` ({to_ms})")]
    EmptyRange { from_ms: i64, to_ms: i64 },
    /// The range covers more windows than one answer may hold.
    #[error("the range covers {windows} windows; at most {max} per request")]
    TooManyWindows { windows: i64, max: i64 },
    /// The view could not be read.
    #[error(transparent)]
    View(#[from] ViewError),
}

/// One window with its shards merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowSnapshot {
    pub start_ms: i64,
    pub end_ms: i64,
    /// `end <= watermark`: the aggregates will not change any more.
    pub is_final: bool,
    pub aggregates: Aggregates,
}

/// The watermark as seen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatermarkStatus {
    /// The global watermark; `None` before any event.
    pub watermark_ms: Option<i64>,
    /// Every source partition's row, ordered by topic and partition.
    pub partitions: Vec<PartitionClock>,
}

/// All-time totals over every source partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    pub aggregates: Aggregates,
    pub refused_events: u64,
}

/// Read access to the analytics view.
#[derive(Debug, Clone, Copy)]
pub struct AnalyticsQueries<'a> {
    pub store: &'a dyn ViewStore,
    pub rules: Rules,
}

impl AnalyticsQueries<'_> {
    /// The watermark at processing time `now_ms`.
    pub async fn watermark(&self, now_ms: i64) -> Result<WatermarkStatus, ViewError> {
        let partitions: Vec<PartitionClock> = CLOCKS
            .partition(self.store, ALL, ClusteringOrder::Ascending, MAX_SOURCES)
            .await?
            .into_iter()
            .map(|row| row.value)
            .collect();
        Ok(WatermarkStatus {
            watermark_ms: self.rules.watermark.global(&partitions, now_ms),
            partitions,
        })
    }

    /// Every window overlapping `[from_ms, to_ms)`, oldest first, including
    /// empty ones, with finality judged by `watermark_ms`.
    pub async fn windows(
        &self,
        from_ms: i64,
        to_ms: i64,
        watermark_ms: Option<i64>,
    ) -> Result<Vec<WindowSnapshot>, QueryError> {
        if from_ms >= to_ms {
            return Err(QueryError::EmptyRange { from_ms, to_ms });
        }
        let spec = self.rules.window;
        let count = spec.count_between(from_ms, to_ms);
        if count > MAX_WINDOWS_PER_QUERY {
            return Err(QueryError::TooManyWindows {
                windows: count,
                max: MAX_WINDOWS_PER_QUERY,
            });
        }
        let starts: Vec<i64> = spec.starts_between(from_ms, to_ms).collect();
        let mut merged: BTreeMap<i64, Aggregates> =
            starts.iter().map(|s| (*s, Aggregates::default())).collect();
        let (Some(first), Some(last)) = (starts.first(), starts.last()) else {
            return Ok(Vec::new());
        };
        let span = spec.size_ms() * WINDOWS_PER_BUCKET;
        let mut bucket = spec.bucket_of(*first);
        while bucket <= *last {
            let limit = MAX_SOURCES.saturating_mul(WINDOWS_PER_BUCKET as usize);
            let shards = WINDOWS
                .partition(
                    self.store,
                    &bucket_key(bucket),
                    ClusteringOrder::Ascending,
                    limit,
                )
                .await?;
            for shard in shards {
                if let Some(window) = merged.get_mut(&shard.value.window_start_ms) {
                    window.merge(&shard.value.aggregates);
                }
            }
            bucket += span;
        }
        Ok(merged
            .into_iter()
            .map(|(start_ms, aggregates)| WindowSnapshot {
                start_ms,
                end_ms: spec.end_of(start_ms),
                is_final: self.rules.is_final(start_ms, watermark_ms),
                aggregates,
            })
            .collect())
    }

    /// The newest final window under `watermark_ms`, if any window is final.
    pub async fn latest_final_window(
        &self,
        watermark_ms: Option<i64>,
    ) -> Result<Option<WindowSnapshot>, QueryError> {
        let Some(watermark) = watermark_ms else {
            return Ok(None);
        };
        let spec = self.rules.window;
        let start = spec.start_of(watermark).saturating_sub(spec.size_ms());
        if start < 0 {
            return Ok(None);
        }
        Ok(self
            .windows(start, spec.end_of(start), watermark_ms)
            .await?
            .into_iter()
            .next())
    }

    /// All-time totals.
    pub async fn totals(&self) -> Result<Totals, ViewError> {
        let rows = TOTALS
            .partition(self.store, ALL, ClusteringOrder::Ascending, MAX_SOURCES)
            .await?;
        Ok(rows.into_iter().fold(Totals::default(), |mut totals, row| {
            totals.aggregates.merge(&row.value.aggregates);
            totals.refused_events = totals
                .refused_events
                .saturating_add(row.value.refused_events);
            totals
        }))
    }
}
