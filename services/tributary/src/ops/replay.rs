//! Replaying a range of a topic: resolve the range (offsets or times) per
//! partition, then decode each record through the registry for printing or
//! copy it byte for byte to another topic.

use std::time::Duration;

use serde::Serialize;
use tributary_bus::{EventCodec, RawProducer};

use super::{
    Cluster, OpsError,
    reader::{PartitionRange, RawRecord},
    seek,
};

/// One end of a replay range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Offset(i64),
    /// Unix ms.
    Time(i64),
}

/// What to replay. `from` is inclusive, `to` exclusive; missing ends are
/// the start and the current end of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplaySpec {
    pub topic: String,
    pub partition: Option<i32>,
    pub from: Option<Bound>,
    pub to: Option<Bound>,
}

/// A decoded event as one JSON line of `replay --print`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecodedRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<String>,
    /// Record full name, e.g. `io.tributary.orders.OrderPlaced`; `None` when
    /// the payload could not be decoded.
    pub event_type: Option<String>,
    pub event: Option<serde_json::Value>,
    /// Why decoding failed, when it did.
    pub error: Option<String>,
}

/// Resolves `spec` into `[start, end)` per partition, clamped to the log.
pub async fn resolve_ranges(
    cluster: &Cluster,
    spec: &ReplaySpec,
) -> Result<Vec<PartitionRange>, OpsError> {
    let mut ids = cluster.partitions(&spec.topic).await?;
    if let Some(p) = spec.partition {
        if !ids.contains(&p) {
            return Err(OpsError::UnknownPartition {
                topic: spec.topic.clone(),
                partition: p,
            });
        }
        ids = vec![p];
    }
    let marks = cluster.watermarks(&spec.topic, &ids).await?;
    let from_times = match spec.from {
        Some(Bound::Time(ms)) => {
            Some(seek::offsets_for_time(cluster, &spec.topic, &marks, ms).await?)
        }
        _ => None,
    };
    let to_times = match spec.to {
        Some(Bound::Time(ms)) => {
            Some(seek::offsets_for_time(cluster, &spec.topic, &marks, ms).await?)
        }
        _ => None,
    };
    let mut ranges = Vec::with_capacity(ids.len());
    for p in ids {
        let (low, high) = marks.get(&p).copied().unwrap_or((0, 0));
        let at = |times: &Option<std::collections::BTreeMap<i32, Option<i64>>>| {
            times
                .as_ref()
                .and_then(|t| t.get(&p).copied().flatten())
                .unwrap_or(high)
        };
        let start = match spec.from {
            None => low,
            Some(Bound::Offset(o)) => o,
            Some(Bound::Time(_)) => at(&from_times),
        }
        .clamp(low, high);
        let end = match spec.to {
            None => high,
            Some(Bound::Offset(o)) => o,
            Some(Bound::Time(_)) => at(&to_times),
        }
        .clamp(start, high);
        ranges.push(PartitionRange {
            partition: p,
            start,
            end,
        });
    }
    Ok(ranges)
}

/// Decodes `record` through the registry; a record that does not decode is
/// returned with its error, so one bad record does not end a replay.
pub async fn decode_record(codec: &EventCodec, record: &RawRecord) -> DecodedRecord {
    let (event_type, event, error) = match record.payload.as_deref() {
        None => (None, None, Some("message has no payload".to_owned())),
        Some(payload) => match codec.decode(payload).await {
            Err(e) => (None, None, Some(e.to_string())),
            Ok(event) => match serde_json::to_value(&event) {
                Ok(json) => (Some(event.full_name().to_owned()), Some(json), None),
                Err(e) => (
                    Some(event.full_name().to_owned()),
                    None,
                    Some(e.to_string()),
                ),
            },
        },
    };
    DecodedRecord {
        topic: record.topic.clone(),
        partition: record.partition,
        offset: record.offset,
        timestamp_ms: record.timestamp_ms,
        key: record.key_text(),
        event_type,
        event,
        error,
    }
}

/// Copies `record` (payload, key, headers) to `topic`.
pub async fn copy_record(
    producer: &RawProducer,
    topic: &str,
    record: &RawRecord,
) -> Result<(), String> {
    producer
        .send_raw(
            topic,
            record.key.as_deref(),
            record.payload.as_deref().unwrap_or_default(),
            &record.headers,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Paces a loop to at most `per_second` iterations a second (no limit when
/// `None`), by sleeping until each iteration's slot.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Option<Duration>,
    next: tokio::time::Instant,
}

impl RateLimiter {
    pub fn new(per_second: Option<f64>) -> Self {
        let interval = per_second
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64(1.0 / r));
        RateLimiter {
            interval,
            next: tokio::time::Instant::now(),
        }
    }

    /// Waits for the next slot.
    pub async fn acquire(&mut self) {
        let Some(interval) = self.interval else {
            return;
        };
        let now = tokio::time::Instant::now();
        if self.next > now {
            tokio::time::sleep_until(self.next).await;
        } else {
            // Do not bank unused slots after a pause: no bursts.
            self.next = now;
        }
        self.next += interval;
    }
}
