//! `views rebuild`: replay a service's topics from the start of the log into
//! a fresh shadow copy of its view, compare it with the live copy, and — when
//! asked and only when every table matches — switch the service to it.
//!
//! The rebuild reads with plain partition assignment (a throwaway reader,
//! never a committed group), up to the positions the live view recorded
//! for its consumer group, so both copies reflect the same input. Each event
//! goes through the service's own projector and is applied with its event id
//! and position, exactly as the live runtime applies it — but events the
//! projector would emit are dropped: a rebuild must never publish.
//! Partitions are read separately and merged by record timestamp, so events
//! of one saga that travel on different topics and partitions are applied in
//! the order they were written (per-key order is kept: one key lives on one
//! partition).
//!
//! The switch is [`promote_shadow`], atomic on both view backends. A running
//! service has the live store open (and on ScyllaDB keeps the keyspace it
//! opened), so switching is refused while the service's consumer group has
//! active members — checked before the rebuild starts and again right before
//! the switch — and also when the live view moved on while the rebuild ran
//! (the comparison would no longer be at the same offsets).

use std::{sync::Arc, time::Instant};

use serde::Serialize;
use tributary_bus::{EventCodec, Received};
use tributary_service::Projector;
use tributary_views::{
    CompareOptions, ConsumedPosition, Namespace, RowDifference, TableDef, Transaction, ViewStore,
    ViewsConfig, compare_tables, open_bulk_load, open_store, promote_shadow,
};

use super::{
    Cluster, OpsError,
    groups::ensure_inactive,
    progress::Progress,
    reader::{PartitionRange, RawRecord, read_ranges},
};

/// What to rebuild: the parts of a service definition that matter.
#[derive(Clone)]
pub struct RebuildTarget {
    pub service: &'static str,
    pub group: String,
    pub tables: Vec<TableDef>,
    pub topics: Vec<&'static str>,
    pub projector: Arc<dyn Projector>,
}

impl std::fmt::Debug for RebuildTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RebuildTarget")
            .field("service", &self.service)
            .field("topics", &self.topics)
            .finish_non_exhaustive()
    }
}

/// One table's verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableReport {
    pub table: String,
    pub matches: bool,
    pub live_rows: u64,
    pub rebuilt_rows: u64,
    /// One line per differing row (`partition/clustering: what`).
    pub differences: Vec<String>,
    pub truncated: bool,
}

/// The result of a rebuild.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RebuildReport {
    pub service: String,
    pub shadow: String,
    pub events: u64,
    /// Events the projector rejected (they are in the live DLQ too).
    pub rejected: Vec<String>,
    pub tables: Vec<TableReport>,
    pub matches: bool,
    /// True only when the service now reads and writes the rebuilt copy.
    pub switched: bool,
    /// Seconds spent reading, projecting and applying (not verifying).
    pub rebuild_seconds: f64,
    /// `events / rebuild_seconds`: the rebuild rate.
    pub events_per_second: f64,
    /// Seconds spent comparing the copies.
    pub verify_seconds: f64,
}

/// How to run a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildOptions {
    /// The shadow namespace to rebuild into; it must not hold a rebuild yet.
    pub shadow: String,
    /// Switch the service to the rebuilt copy when it matches.
    pub switch: bool,
    /// No progress output (JSON mode, tests).
    pub quiet: bool,
}

/// What a switch refusal says the operator was trying to do.
const SWITCHING: &str = "switching its view to a rebuilt copy";

/// Rebuilds `target`'s view into a shadow namespace, compares, and switches
/// when `options.switch` is set and every table matches.
pub async fn rebuild(
    cluster: &Cluster,
    codec: &EventCodec,
    views: &ViewsConfig,
    target: &RebuildTarget,
    options: &RebuildOptions,
) -> Result<RebuildReport, OpsError> {
    let store_err = |e: tributary_views::ViewError| OpsError::InvalidArgument(e.to_string());
    let shadow = options.shadow.as_str();
    let namespace = Namespace::shadow(shadow).map_err(store_err)?;
    if options.switch {
        // Refuse before doing any work: the switch could not happen anyway.
        ensure_inactive(cluster, &target.group, SWITCHING).await?;
    }
    let live = open_store(views, target.service, &target.tables)
        .await
        .map_err(store_err)?;
    let positions = live.positions(&target.group).await.map_err(store_err)?;
    if positions.is_empty() {
        return Err(OpsError::InvalidArgument(format!(
            "the {} view has recorded no consumed position for group {}: nothing to rebuild against",
            target.service, target.group
        )));
    }
    // Nothing else writes the shadow, so its applies go in large groups.
    let rebuilt = open_bulk_load(views, target.service, &namespace, &target.tables)
        .await
        .map_err(store_err)?;
    if !rebuilt
        .positions(&target.group)
        .await
        .map_err(store_err)?
        .is_empty()
    {
        return Err(OpsError::InvalidArgument(format!(
            "shadow `{shadow}` of {} already holds a rebuild; pick another --shadow name",
            target.service
        )));
    }
    let started = Instant::now();

    // [low, live position) on every partition, one reader per partition:
    // the merge below needs each partition's oldest record at hand, and a
    // reader of a whole topic hands over its partitions one after another.
    let mut readers = Vec::new();
    let mut total = 0;
    for topic in &target.topics {
        let ids = cluster.partitions(topic).await?;
        let marks = cluster.watermarks(topic, &ids).await?;
        let ranges: Vec<PartitionRange> = marks
            .iter()
            .map(|(&partition, &(low, _))| {
                let end = positions
                    .iter()
                    .find(|p| p.topic == *topic && p.partition == partition)
                    .map_or(low, |p| p.offset.max(low));
                PartitionRange {
                    partition,
                    start: low,
                    end,
                }
            })
            .collect();
        total += ranges.iter().map(PartitionRange::len).sum::<u64>();
        for range in ranges.iter().filter(|r| !r.is_empty()) {
            readers.push(read_ranges(cluster.bootstrap(), topic, &[*range]));
        }
    }

    let mut progress = Progress::new(&format!("rebuild {}", target.service), total, options.quiet);
    let mut heads: Vec<Option<RawRecord>> = Vec::with_capacity(readers.len());
    for rx in &mut readers {
        heads.push(rx.recv().await.transpose()?);
    }
    let mut events = 0;
    let mut rejected = Vec::new();
    // Merge: always the head with the oldest timestamp next.
    while let Some(i) = oldest(&heads) {
        let Some(record) = heads[i].take() else { break };
        heads[i] = readers[i].recv().await.transpose()?;
        progress.inc();
        events += 1;
        if let Err(e) = apply(codec, rebuilt.as_ref(), target, &record).await {
            rejected.push(format!(
                "{}/{}@{}: {e}",
                record.topic, record.partition, record.offset
            ));
        }
    }
    rebuilt.finish().await.map_err(store_err)?;
    progress.finish();
    let rebuild_seconds = started.elapsed().as_secs_f64();

    let verify_started = Instant::now();
    let mut tables = Vec::new();
    for table in &target.tables {
        let c = compare_tables(
            live.as_ref(),
            rebuilt.as_ref(),
            table.name,
            CompareOptions::default(),
        )
        .await
        .map_err(store_err)?;
        tables.push(TableReport {
            table: c.table.clone(),
            matches: c.matches(),
            live_rows: c.live.rows,
            rebuilt_rows: c.rebuilt.rows,
            differences: c.differences.iter().map(describe).collect(),
            truncated: c.truncated,
        });
    }
    let verify_seconds = verify_started.elapsed().as_secs_f64();
    let matches = tables.iter().all(|t| t.matches);
    drop(rebuilt);
    let switched = if options.switch && matches {
        ensure_inactive(cluster, &target.group, SWITCHING).await?;
        let now = live.positions(&target.group).await.map_err(store_err)?;
        if now != positions {
            return Err(OpsError::InvalidArgument(format!(
                "the live {} view consumed more events while the rebuild ran, so the copies \
                 were not compared at the same offsets; nothing was switched (stop the \
                 service and rebuild again)",
                target.service
            )));
        }
        drop(live);
        promote_shadow(views, target.service, shadow, &target.tables)
            .await
            .map_err(store_err)?;
        true
    } else {
        false
    };
    Ok(RebuildReport {
        service: target.service.to_owned(),
        shadow: shadow.to_owned(),
        events,
        matches,
        rejected,
        tables,
        switched,
        rebuild_seconds,
        events_per_second: rate(events, rebuild_seconds),
        verify_seconds,
    })
}

/// Events per second, 0 for an empty or instant run.
fn rate(events: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        events as f64 / seconds
    } else {
        0.0
    }
}

/// Projects one record and applies its writes (never its emits) with the
/// event id and position, as the live runtime does.
pub async fn apply(
    codec: &EventCodec,
    store: &dyn ViewStore,
    target: &RebuildTarget,
    record: &RawRecord,
) -> Result<(), String> {
    let payload = record.payload.as_deref().ok_or("no payload")?;
    let event = codec.decode(payload).await.map_err(|e| e.to_string())?;
    let event_id = event.envelope().event_id;
    let write_time = event.envelope().occurred_at.saturating_mul(1000);
    if store
        .was_processed(event_id)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(());
    }
    let received = Received {
        event,
        topic: record.topic.clone(),
        partition: record.partition,
        offset: record.offset,
        key: record.key.clone(),
        attempt: 1,
        timestamp_ms: record.timestamp_ms,
    };
    let effects = target
        .projector
        .project(store, &received)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = Transaction::for_event(event_id)
        .at_position(ConsumedPosition {
            group: target.group.clone(),
            topic: record.topic.clone(),
            partition: record.partition,
            offset: record.offset.saturating_add(1),
        })
        .with_write_time(write_time);
    tx.writes = effects.writes;
    store.apply(tx).await.map_err(|e| e.to_string())?;
    Ok(())
}

fn oldest(heads: &[Option<RawRecord>]) -> Option<usize> {
    heads
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.as_ref().map(|r| (r.timestamp_ms.unwrap_or(i64::MIN), i)))
        .min()
        .map(|(_, i)| i)
}

fn describe(d: &RowDifference) -> String {
    match d {
        RowDifference::MissingFromRebuilt { live } => {
            format!(
                "{}/{}: missing from the rebuilt copy",
                live.partition, live.clustering
            )
        }
        RowDifference::OnlyInRebuilt { rebuilt } => {
            format!(
                "{}/{}: only in the rebuilt copy",
                rebuilt.partition, rebuilt.clustering
            )
        }
        RowDifference::ValueDiffers { live, rebuilt } => format!(
            "{}/{}: live {} != rebuilt {}",
            live.partition,
            live.clustering,
            String::from_utf8_lossy(&live.value),
            String::from_utf8_lossy(&rebuilt.value)
        ),
    }
}

/// A fresh shadow namespace name (`rb` + 8 hex digits, within the limit).
pub fn fresh_shadow_name() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("rb{}", &id[..8])
}
