//! Reading a bounded range of a topic: per partition `[start, end)`, with
//! `end` fixed when the read starts, so a busy topic still terminates.
//!
//! librdkafka polling is blocking; a dedicated blocking task feeds a
//! bounded channel, so a slow consumer of the records (decoding, printing,
//! producing) slows the read instead of buffering without bound. Records
//! cross the channel in batches: one at a time, a reader ahead of its
//! consumer woke the other thread for every record, which cost a rebuild
//! more than decoding did.

use std::{
    collections::{BTreeMap, VecDeque},
    time::{Duration, Instant},
};

use rdkafka::{
    Message as _, Offset,
    consumer::{BaseConsumer, Consumer as _},
};
use serde::Serialize;
use tokio::sync::mpsc;
use tributary_bus::headers::MessageHeaders;

use super::{
    OpsError,
    cluster::{base_config, tpl},
};

/// Records per batch, and batches in flight between the reader thread and
/// the async side (at most 256 records buffered).
const BATCH_RECORDS: usize = 64;
const CHANNEL_BATCHES: usize = 4;
/// A partly filled batch goes out once its first record is this old, so a
/// slow trickle of records is not held back.
const BATCH_MAX_AGE: Duration = Duration::from_millis(20);
/// A read that makes no progress for this long fails instead of hanging.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The offsets `[start, end)` to read from one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartitionRange {
    pub partition: i32,
    pub start: i64,
    pub end: i64,
}

impl PartitionRange {
    pub fn len(&self) -> u64 {
        u64::try_from(self.end - self.start).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One record as read: bytes, key and headers untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp_ms: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: MessageHeaders,
}

impl RawRecord {
    /// The key as text (lossy), for display and filters.
    pub fn key_text(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned())
    }
}

/// The records of a [`read_ranges`] as they arrive.
#[derive(Debug)]
pub struct RangeReader {
    batches: mpsc::Receiver<Result<Vec<RawRecord>, OpsError>>,
    buffered: VecDeque<RawRecord>,
}

impl RangeReader {
    /// The next record; `None` after the last one, or after an error (which
    /// is the last item).
    pub async fn recv(&mut self) -> Option<Result<RawRecord, OpsError>> {
        loop {
            if let Some(record) = self.buffered.pop_front() {
                return Some(Ok(record));
            }
            match self.batches.recv().await? {
                Ok(batch) => self.buffered.extend(batch),
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// Starts reading `ranges` of `topic`; records arrive in offset order per
/// partition.
pub fn read_ranges(bootstrap: &str, topic: &str, ranges: &[PartitionRange]) -> RangeReader {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let bootstrap = bootstrap.to_owned();
    let topic = topic.to_owned();
    let ranges: Vec<PartitionRange> = ranges.iter().copied().filter(|r| !r.is_empty()).collect();
    tokio::task::spawn_blocking(move || {
        let mut out = BatchSender::new(tx);
        let read = read_blocking(&bootstrap, &topic, &ranges, &mut out);
        // What was read before an error still arrives, the error last.
        if out.flush().is_ok()
            && let Err(e) = read
        {
            let _ = out.tx.blocking_send(Err(e));
        }
    });
    RangeReader {
        batches: rx,
        buffered: VecDeque::new(),
    }
}

/// Gathers records into batches on the reader thread.
struct BatchSender {
    tx: mpsc::Sender<Result<Vec<RawRecord>, OpsError>>,
    batch: Vec<RawRecord>,
    first_at: Instant,
}

/// The receiver went away: the caller stopped reading.
struct Gone;

impl BatchSender {
    fn new(tx: mpsc::Sender<Result<Vec<RawRecord>, OpsError>>) -> Self {
        BatchSender {
            tx,
            batch: Vec::with_capacity(BATCH_RECORDS),
            first_at: Instant::now(),
        }
    }

    fn push(&mut self, record: RawRecord) -> Result<(), Gone> {
        if self.batch.is_empty() {
            self.first_at = Instant::now();
        }
        self.batch.push(record);
        if self.batch.len() >= BATCH_RECORDS || self.first_at.elapsed() >= BATCH_MAX_AGE {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Gone> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH_RECORDS));
        self.tx.blocking_send(Ok(batch)).map_err(|_| Gone)
    }
}

/// Reads every range to the end, in the caller's memory: for small topics
/// (a DLQ) where the whole content is wanted at once.
pub async fn read_all(
    bootstrap: &str,
    topic: &str,
    ranges: &[PartitionRange],
) -> Result<Vec<RawRecord>, OpsError> {
    let mut rx = read_ranges(bootstrap, topic, ranges);
    let mut out = Vec::new();
    while let Some(record) = rx.recv().await {
        out.push(record?);
    }
    Ok(out)
}

fn read_blocking(
    bootstrap: &str,
    topic: &str,
    ranges: &[PartitionRange],
    out: &mut BatchSender,
) -> Result<(), OpsError> {
    if ranges.is_empty() {
        return Ok(());
    }
    let consumer: BaseConsumer = base_config(bootstrap)
        .create()
        .map_err(OpsError::kafka("creating a reader"))?;
    let assignment = tpl(
        topic,
        ranges
            .iter()
            .map(|r| (r.partition, Offset::Offset(r.start))),
    )?;
    consumer
        .assign(&assignment)
        .map_err(OpsError::kafka(format!("assigning {topic}")))?;
    let mut remaining: BTreeMap<i32, i64> = ranges.iter().map(|r| (r.partition, r.end)).collect();
    let mut last_progress = Instant::now();
    while !remaining.is_empty() {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let Some(&end) = remaining.get(&m.partition()) else {
                    continue;
                };
                if m.offset() >= end {
                    remaining.remove(&m.partition());
                    continue;
                }
                let record = RawRecord {
                    topic: topic.to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp_ms: m.timestamp().to_millis(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().map(<[u8]>::to_vec),
                    headers: MessageHeaders::from_kafka(m.headers()),
                };
                if m.offset() + 1 >= end {
                    remaining.remove(&m.partition());
                }
                if out.push(record).is_err() {
                    return Ok(());
                }
            }
            Some(Err(e)) => {
                return Err(OpsError::Kafka {
                    action: format!("reading {topic}"),
                    source: e,
                });
            }
            None => {
                // Nothing more for now: hand over what is waiting.
                if out.flush().is_err() {
                    return Ok(());
                }
                // Gaps (control records, compaction) can hide the last
                // offsets: a partition whose position passed its end is done.
                if let Ok(position) = consumer.position() {
                    for e in position.elements() {
                        if let Offset::Offset(o) = e.offset()
                            && remaining.get(&e.partition()).is_some_and(|&end| o >= end)
                        {
                            remaining.remove(&e.partition());
                        }
                    }
                }
                if last_progress.elapsed() > STALL_TIMEOUT {
                    return Err(OpsError::Stalled {
                        topic: topic.to_owned(),
                        seconds: STALL_TIMEOUT.as_secs(),
                    });
                }
            }
        }
    }
    Ok(())
}
