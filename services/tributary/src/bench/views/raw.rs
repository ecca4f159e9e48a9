//! The baseline of `bench views`: a plain rdkafka consumer with the
//! runtime's consumer configuration (so the same `fetch.wait.max.ms` and
//! queue sizes) reading the same topics from their start to their end,
//! doing nothing with the records.
//!
//! It is timed two ways from one read, one per thing it is compared with:
//!
//! - **from start**: the clock starts before the consumer is created and
//!   asks for the partitions, as the rebuild's does (its rate counts from
//!   the same point), and stops at the last record;
//! - **first to last record**: the live path is timed from its first applied
//!   event, after its group join, so it is compared with the part of the
//!   read that moves records.

use std::time::{Duration, Instant};

use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
};

use crate::bench::{BenchEnv, BenchError, env::unique_name, raw_consumer::raw_consumer_config};

/// One metadata request at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// A read that receives nothing for this long has failed.
const STALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The two timings of one raw read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRead {
    /// From before the client is created to the last record.
    pub from_start: Duration,
    /// From the first record to the last.
    pub first_to_last: Duration,
}

/// Reads every partition of `topics` from the beginning until `expected`
/// records (the whole backlog) arrived.
///
/// The end is the known record count, not the partitions' high
/// watermarks: tansu's memory storage answers a `ListOffsets` for the
/// latest offset with the last *batch's* base offset + 1, which undercounts
/// any partition written in batches. (The rebuild is not affected: it
/// reads up to the positions the live view recorded.)
pub(crate) async fn read(
    env: &BenchEnv,
    topics: &[&'static str],
    expected: u64,
) -> Result<RawRead, BenchError> {
    let bus = env.bus_config();
    let config = raw_consumer_config(&bus, &unique_name("bench-views-raw"));
    let topics: Vec<&'static str> = topics.to_vec();
    tokio::task::spawn_blocking(move || read_blocking(&config, &topics, expected))
        .await
        .map_err(|e| BenchError::Task {
            what: "raw consumer",
            detail: e.to_string(),
        })?
}

fn read_blocking(
    config: &ClientConfig,
    topics: &[&str],
    expected: u64,
) -> Result<RawRead, BenchError> {
    let started = Instant::now();
    let consumer: BaseConsumer = config.create().map_err(BenchError::kafka("raw consumer"))?;
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer
            .fetch_metadata(Some(topic), REQUEST_TIMEOUT)
            .map_err(BenchError::kafka("raw consumer metadata"))?;
        for partition in metadata
            .topics()
            .iter()
            .filter(|t| t.name() == *topic)
            .flat_map(|t| t.partitions())
        {
            assignment
                .add_partition_offset(topic, partition.id(), Offset::Beginning)
                .map_err(BenchError::kafka("raw consumer assignment"))?;
        }
    }
    consumer
        .assign(&assignment)
        .map_err(BenchError::kafka("raw consumer assign"))?;

    let mut first = None;
    let mut read = 0_u64;
    let mut last_progress = Instant::now();
    while read < expected {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let now = Instant::now();
                first.get_or_insert(now);
                last_progress = now;
                std::hint::black_box(message.payload());
                read += 1;
            }
            Some(Err(source)) => return Err(BenchError::kafka("raw consume")(source)),
            None if last_progress.elapsed() > STALL_TIMEOUT => {
                return Err(BenchError::Timeout {
                    what: format!("raw consumer ({read} of {expected} records)"),
                    after: STALL_TIMEOUT,
                });
            }
            None => {}
        }
    }
    let finished = Instant::now();
    Ok(RawRead {
        from_start: finished.duration_since(started),
        first_to_last: first.map_or(Duration::ZERO, |f| finished.duration_since(f)),
    })
}
