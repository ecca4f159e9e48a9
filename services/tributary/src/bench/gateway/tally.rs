//! Counting what the gateway's outbox relay put on the broker's `orders`
//! topic, between rounds.
//!
//! The count comes from reading the topic, not from its watermarks: tansu's
//! memory storage answers a `ListOffsets` for the latest offset with the
//! last *batch's* base offset + 1, and the relay publishes in batches. No
//! reader runs while a round runs (it would take CPU from the servers):
//! after each gateway round a fresh consumer reads on from where the last
//! one stopped until the topic holds every order accepted so far. (A
//! paused, long-lived reader would do, but destroying a consumer that had
//! paused its partitions hung in librdkafka's destroy in our runs against
//! tansu.)

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use rdkafka::{
    ClientConfig, Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer as _},
};

use crate::bench::{BenchEnv, BenchError, env::unique_name};

/// One metadata request at most.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the reading of one topic stands.
pub(crate) struct Tally {
    config: ClientConfig,
    topic: String,
    /// The next offset to read, by partition.
    next: BTreeMap<i32, Offset>,
    seen: u64,
}

impl Tally {
    /// Nothing read yet of `topic`, every partition from the beginning.
    pub(crate) async fn start(env: &BenchEnv, topic: &str) -> Result<Tally, BenchError> {
        // The runtime's consumer settings, as the services read with.
        let config = env
            .bus_config()
            .consumer_client_config(&unique_name("bench-gateway-tally"));
        let topic = topic.to_owned();
        blocking(move || {
            let consumer: BaseConsumer = config
                .create()
                .map_err(BenchError::kafka("orders reader"))?;
            let metadata = consumer
                .fetch_metadata(Some(&topic), REQUEST_TIMEOUT)
                .map_err(BenchError::kafka("orders reader metadata"))?;
            let next = metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic)
                .flat_map(|t| t.partitions())
                .map(|p| (p.id(), Offset::Beginning))
                .collect();
            Ok(Tally {
                config,
                topic,
                next,
                seen: 0,
            })
        })
        .await
    }

    /// Reads on until `total` records were seen since the start (or
    /// `timeout` passed); returns the time it took and the count.
    pub(crate) async fn until(
        &mut self,
        total: u64,
        timeout: Duration,
    ) -> Result<(Duration, u64), BenchError> {
        let config = self.config.clone();
        let topic = self.topic.clone();
        let mut next = self.next.clone();
        let mut seen = self.seen;
        let (took, next, seen) = blocking(move || {
            let started = Instant::now();
            let consumer: BaseConsumer = config
                .create()
                .map_err(BenchError::kafka("orders reader"))?;
            let mut assignment = TopicPartitionList::new();
            for (&partition, &offset) in &next {
                assignment
                    .add_partition_offset(&topic, partition, offset)
                    .map_err(BenchError::kafka("orders reader assignment"))?;
            }
            consumer
                .assign(&assignment)
                .map_err(BenchError::kafka("orders reader assign"))?;
            while seen < total && started.elapsed() < timeout {
                match consumer.poll(Duration::from_millis(50)) {
                    Some(Ok(message)) => {
                        next.insert(message.partition(), Offset::Offset(message.offset() + 1));
                        seen += 1;
                    }
                    Some(Err(source)) => return Err(BenchError::kafka("orders reader")(source)),
                    None => {}
                }
            }
            Ok((started.elapsed(), next, seen))
        })
        .await?;
        self.next = next;
        self.seen = seen;
        if seen < total {
            return Err(BenchError::Timeout {
                what: format!(
                    "the gateway's outbox relay ({seen} of {total} orders on the broker)"
                ),
                after: timeout,
            });
        }
        Ok((took, seen))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, BenchError> + Send + 'static,
) -> Result<T, BenchError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| BenchError::Task {
            what: "orders reader",
            detail: e.to_string(),
        })?
}
