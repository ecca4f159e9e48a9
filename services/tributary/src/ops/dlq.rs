//! Dead-letter topics (`<topic>.<group>.dlq`): summaries, single records,
//! and redelivery to the source topic.
//!
//! A DLQ record is the original bytes, key and headers plus the failure
//! headers the bus wrote (`tributary.error*`, `tributary.attempt`,
//! `tributary.source.*`). Redelivery strips those, keeps everything else,
//! and counts redeliveries in [`REDELIVERY_HEADER`], so the consumer starts
//! again at attempt 1 while the record still shows its history. Records stay
//! in the DLQ (Kafka cannot delete single records); handlers are idempotent
//! by event id, so redelivering twice causes no duplicate effect.

use std::collections::BTreeMap;

use serde::Serialize;
use tributary_bus::{
    EventCodec, RawProducer,
    headers::{MessageHeaders, names},
};

use super::{
    Cluster, OpsError,
    reader::{PartitionRange, RawRecord, read_all},
    replay::{DecodedRecord, decode_record},
};

/// Counts how often a record was redelivered from a DLQ.
pub const REDELIVERY_HEADER: &str = "tributary.redelivery";

/// Headers that describe a failure and are removed on redelivery.
const FAILURE_HEADERS: &[&str] = &[
    names::ERROR,
    names::ERROR_REASON,
    names::ATTEMPT,
    names::SOURCE_TOPIC,
    names::SOURCE_PARTITION,
    names::SOURCE_OFFSET,
    names::RETRY_NOT_BEFORE,
];

/// Reason shown for records whose failure headers are unreadable.
pub const MALFORMED: &str = "malformed";

/// `<topic>.<group>.dlq` split into (source topic, group): contract topic
/// names have no dots, group names may.
pub fn parse_dlq_name(name: &str) -> Option<(String, String)> {
    let stem = name.strip_suffix(".dlq")?;
    let (topic, group) = stem.split_once('.')?;
    (!topic.is_empty() && !group.is_empty()).then(|| (topic.to_owned(), group.to_owned()))
}

/// The failure recorded on a DLQ record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    pub error: String,
    pub reason: String,
    pub attempts: u32,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
}

/// Reads the failure headers; `Err` names what is missing or invalid.
pub fn parse_failure(h: &MessageHeaders) -> Result<Failure, String> {
    let text = |name: &str| {
        h.get_str(name)
            .map(str::to_owned)
            .ok_or_else(|| format!("header `{name}` is missing or not UTF-8"))
    };
    fn number<T: std::str::FromStr>(name: &str, value: String) -> Result<T, String> {
        value
            .trim()
            .parse()
            .map_err(|_| format!("header `{name}` is not a number: `{value}`"))
    }
    Ok(Failure {
        error: text(names::ERROR)?,
        reason: text(names::ERROR_REASON)?,
        attempts: number(names::ATTEMPT, text(names::ATTEMPT)?)?,
        source_topic: text(names::SOURCE_TOPIC)?,
        source_partition: number(names::SOURCE_PARTITION, text(names::SOURCE_PARTITION)?)?,
        source_offset: number(names::SOURCE_OFFSET, text(names::SOURCE_OFFSET)?)?,
    })
}

/// The headers a redelivered record carries: the original ones, failure
/// bookkeeping removed, the redelivery count incremented.
pub fn redelivery_headers(h: &MessageHeaders) -> MessageHeaders {
    let previous: u32 = h
        .get_str(REDELIVERY_HEADER)
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut out = h.clone();
    for name in FAILURE_HEADERS {
        out.remove(name);
    }
    out.set(REDELIVERY_HEADER, previous.saturating_add(1).to_string());
    out
}

/// `dlq list`: one DLQ topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DlqSummary {
    pub topic: String,
    pub source_topic: String,
    pub group: String,
    pub count: u64,
    pub oldest_ms: Option<i64>,
    /// Reason code → count; unreadable records count under [`MALFORMED`].
    pub reasons: BTreeMap<String, u64>,
}

/// `dlq show`: one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DlqEntry {
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<String>,
    pub failure: Failure,
    pub decoded: DecodedRecord,
}

/// Every DLQ topic (of `group` when given) with its counts and reasons.
pub async fn list(cluster: &Cluster, group: Option<&str>) -> Result<Vec<DlqSummary>, OpsError> {
    let mut out = Vec::new();
    for topic in cluster.topics().await? {
        let Some((source_topic, dlq_group)) = parse_dlq_name(&topic.name) else {
            continue;
        };
        if group.is_some_and(|g| g != dlq_group) {
            continue;
        }
        let records = read_topic(cluster, &topic.name).await?;
        let mut reasons = BTreeMap::new();
        for r in &records {
            let reason =
                parse_failure(&r.headers).map_or_else(|_| MALFORMED.to_owned(), |f| f.reason);
            *reasons.entry(reason).or_insert(0) += 1;
        }
        out.push(DlqSummary {
            count: records.len() as u64,
            oldest_ms: records.iter().filter_map(|r| r.timestamp_ms).min(),
            topic: topic.name,
            source_topic,
            group: dlq_group,
            reasons,
        });
    }
    Ok(out)
}

/// The records of `dlq` (optionally only the one at `partition`/`offset`),
/// decoded. A malformed record is an error naming it.
pub async fn show(
    cluster: &Cluster,
    codec: &EventCodec,
    dlq: &str,
    partition: Option<i32>,
    offset: Option<i64>,
) -> Result<Vec<DlqEntry>, OpsError> {
    check_dlq_name(dlq)?;
    let mut records = read_topic(cluster, dlq).await?;
    records.retain(|r| partition.is_none_or(|p| p == r.partition));
    if let Some(o) = offset {
        records.retain(|r| r.offset == o);
        if records.is_empty() {
            return Err(OpsError::NoSuchRecord {
                topic: dlq.to_owned(),
                partition: partition.unwrap_or(0),
                offset: o,
            });
        }
    }
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let failure = failure_of(&r)?;
        out.push(DlqEntry {
            partition: r.partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key_text(),
            decoded: decode_record(codec, &r).await,
            failure,
        });
    }
    Ok(out)
}

/// Which DLQ records to redeliver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedeliverFilter {
    pub reason: Option<String>,
    pub key: Option<String>,
}

/// One record that would move (or moved) back to its source topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redelivery {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub reason: String,
    pub to_topic: String,
    #[serde(skip)]
    pub record: RawRecord,
}

/// Selects the records `filter` matches. Every record of the DLQ must be
/// readable, so a malformed one stops the plan before anything moves.
pub async fn plan_redeliver(
    cluster: &Cluster,
    dlq: &str,
    filter: &RedeliverFilter,
) -> Result<Vec<Redelivery>, OpsError> {
    check_dlq_name(dlq)?;
    let records = read_topic(cluster, dlq).await?;
    let mut out = Vec::new();
    for r in records {
        let failure = failure_of(&r)?;
        if filter.reason.as_ref().is_some_and(|x| *x != failure.reason)
            || filter
                .key
                .as_ref()
                .is_some_and(|k| r.key.as_deref() != Some(k.as_bytes()))
        {
            continue;
        }
        out.push(Redelivery {
            partition: r.partition,
            offset: r.offset,
            key: r.key_text(),
            reason: failure.reason,
            to_topic: failure.source_topic,
            record: r,
        });
    }
    Ok(out)
}

/// Produces each planned record to its source topic; returns how many.
pub async fn redeliver(producer: &RawProducer, plan: &[Redelivery]) -> Result<usize, OpsError> {
    for (done, item) in plan.iter().enumerate() {
        let headers = redelivery_headers(&item.record.headers);
        producer
            .send_raw(
                &item.to_topic,
                item.record.key.as_deref(),
                item.record.payload.as_deref().unwrap_or_default(),
                &headers,
            )
            .await
            .map_err(|e| OpsError::Produce {
                topic: item.to_topic.clone(),
                done,
                detail: e.to_string(),
            })?;
    }
    Ok(plan.len())
}

fn check_dlq_name(dlq: &str) -> Result<(), OpsError> {
    parse_dlq_name(dlq)
        .map(|_| ())
        .ok_or_else(|| OpsError::NotADlqTopic(dlq.to_owned()))
}

fn failure_of(r: &RawRecord) -> Result<Failure, OpsError> {
    parse_failure(&r.headers).map_err(|detail| OpsError::MalformedDlqRecord {
        topic: r.topic.clone(),
        partition: r.partition,
        offset: r.offset,
        detail,
    })
}

async fn read_topic(cluster: &Cluster, topic: &str) -> Result<Vec<RawRecord>, OpsError> {
    let ids = cluster.partitions(topic).await?;
    let marks = cluster.watermarks(topic, &ids).await?;
    let ranges: Vec<PartitionRange> = marks
        .iter()
        .map(|(&partition, &(start, end))| PartitionRange {
            partition,
            start,
            end,
        })
        .collect();
    read_all(cluster.bootstrap(), topic, &ranges).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_dlq_names() {
        assert_eq!(
            parse_dlq_name("orders.tributary.notifications.dlq"),
            Some(("orders".into(), "tributary.notifications".into()))
        );
        assert_eq!(parse_dlq_name("orders.dlq"), None);
        assert_eq!(parse_dlq_name("orders"), None);
    }

    #[test]
    fn redelivery_strips_failure_headers_and_counts() {
        let h: MessageHeaders = [
            ("ce_id", "x"),
            (names::ERROR, "boom"),
            (names::ERROR_REASON, "handler"),
            (names::ATTEMPT, "5"),
            (names::SOURCE_TOPIC, "orders"),
            (names::SOURCE_PARTITION, "1"),
            (names::SOURCE_OFFSET, "7"),
        ]
        .into_iter()
        .collect();
        let f = parse_failure(&h).expect("well-formed");
        assert_eq!((f.attempts, f.source_offset), (5, 7));
        let out = redelivery_headers(&h);
        assert_eq!(out.get_str("ce_id"), Some("x"));
        assert_eq!(out.get_str(REDELIVERY_HEADER), Some("1"));
        assert!(FAILURE_HEADERS.iter().all(|n| out.get(n).is_none()));
        assert_eq!(
            redelivery_headers(&out).get_str(REDELIVERY_HEADER),
            Some("2")
        );
    }

    #[test]
    fn missing_headers_are_reported() {
        let h: MessageHeaders = [(names::ERROR, "boom")].into_iter().collect();
        let e = parse_failure(&h).expect_err("malformed");
        assert!(e.contains(names::ERROR_REASON), "{e}");
    }
}
