//! Offsets by time that can be trusted.
//!
//! Kafka answers "first offset with timestamp >= T" from its time index;
//! some Kafka-compatible brokers (tansu 0.6 among them) answer with the
//! start of the log whatever T is. Each answer is therefore checked against
//! the records around it (two reads), and a wrong one is replaced by a scan
//! of the partition, so a reset by time moves a group to exactly the first
//! event at or after T on any broker.

use std::collections::BTreeMap;

use super::{
    Cluster, OpsError,
    reader::{PartitionRange, read_ranges},
};

/// The first offset at or after `time_ms` per partition (`None` = every
/// event is older), given the partitions' `(low, high)` watermarks.
pub async fn offsets_for_time(
    cluster: &Cluster,
    topic: &str,
    marks: &BTreeMap<i32, (i64, i64)>,
    time_ms: i64,
) -> Result<BTreeMap<i32, Option<i64>>, OpsError> {
    let ids: Vec<i32> = marks.keys().copied().collect();
    let answers = cluster.offsets_for_time(topic, &ids, time_ms).await?;
    let mut out = BTreeMap::new();
    for (&p, &(low, high)) in marks {
        if high <= low {
            out.insert(p, None);
            continue;
        }
        let answer = answers.get(&p).copied().flatten();
        let trusted = match answer {
            Some(o) if o >= low && o < high => {
                let at_or_after = cluster
                    .timestamp_at(topic, p, o)
                    .await?
                    .is_some_and(|ts| ts >= time_ms);
                let before = o == low
                    || cluster
                        .timestamp_at(topic, p, o - 1)
                        .await?
                        .is_some_and(|ts| ts < time_ms);
                at_or_after && before
            }
            Some(_) => false,
            None => cluster
                .timestamp_at(topic, p, high - 1)
                .await?
                .is_some_and(|ts| ts < time_ms),
        };
        let offset = if trusted {
            answer
        } else {
            scan(cluster, topic, p, low, high, time_ms).await?
        };
        out.insert(p, offset);
    }
    Ok(out)
}

/// Reads `[low, high)` until the first record at or after `time_ms`.
async fn scan(
    cluster: &Cluster,
    topic: &str,
    partition: i32,
    low: i64,
    high: i64,
    time_ms: i64,
) -> Result<Option<i64>, OpsError> {
    let range = PartitionRange {
        partition,
        start: low,
        end: high,
    };
    let mut rx = read_ranges(cluster.bootstrap(), topic, &[range]);
    while let Some(record) = rx.recv().await {
        let record = record?;
        if record.timestamp_ms.is_some_and(|ts| ts >= time_ms) {
            return Ok(Some(record.offset));
        }
    }
    Ok(None)
}
