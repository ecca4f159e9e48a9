//! The Kafka side: one topic, the runtime's producer configuration
//! (idempotent, `acks=all`) through raw rdkafka, and `StreamConsumer`s with
//! the runtime's consumer configuration in one or more groups.

use std::{collections::HashMap, sync::Arc, time::Duration};

use futures::StreamExt as _;
use rdkafka::{
    Message as _, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer as _, StreamConsumer},
    error::KafkaError,
    message::{Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
    types::RDKafkaErrorCode,
};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tributary_bus::BusConfig;

use super::{
    collector::Collector,
    pace::{Confirm, Publisher},
    rig::{AckPolicy, READY_TIMEOUT, Read, RigSpec, Work},
    stamp::{HEADER, Stamp},
};
use crate::bench::{BenchEnv, BenchError, env::unique_name};

/// Pause before retrying a send librdkafka's full queue refused.
const QUEUE_FULL_PAUSE: Duration = Duration::from_millis(1);

/// A topic with its producer and consumers.
pub(crate) struct KafkaRig {
    producer: FutureProducer,
    config: BusConfig,
    topic: String,
    consumers: Vec<Arc<StreamConsumer>>,
    tasks: Vec<JoinHandle<()>>,
    stop: CancellationToken,
}

impl KafkaRig {
    /// Creates a fresh topic, starts the consumers and waits until every
    /// group has every partition assigned.
    pub async fn start(
        env: &BenchEnv,
        partitions: i32,
        spec: RigSpec,
        collector: &Arc<Collector>,
    ) -> Result<KafkaRig, BenchError> {
        let topic = unique_name("bench-compare");
        env.create_topic(&topic, partitions).await?;
        let config = env.bus_config();
        let producer: FutureProducer = config
            .producer_client_config()
            .create()
            .map_err(BenchError::kafka("producer"))?;
        let mut rig = KafkaRig {
            producer,
            config,
            topic,
            consumers: Vec::new(),
            tasks: Vec::new(),
            stop: CancellationToken::new(),
        };
        let mut groups = Vec::new();
        for _ in 0..spec.groups {
            if spec.consumers == 0 {
                break;
            }
            let name = unique_name("bench-compare-group");
            let mut members = Vec::new();
            for _ in 0..spec.consumers {
                let consumer = Arc::new(subscribe(&rig.config, &name, &rig.topic, true)?);
                rig.tasks.push(tokio::spawn(consume(
                    consumer.clone(),
                    spec.work,
                    collector.clone(),
                    rig.stop.clone(),
                )));
                members.push(consumer.clone());
                rig.consumers.push(consumer);
            }
            groups.push(members);
        }
        if let Err(error) = wait_assigned(&groups, partitions).await {
            rig.stop().await;
            return Err(error);
        }
        Ok(rig)
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn config(&self) -> &BusConfig {
        &self.config
    }

    /// Stops the consumers (they leave their groups).
    pub async fn stop(self) {
        self.stop.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
        let consumers = self.consumers;
        // Closing leaves the group, which blocks: not on a runtime worker.
        let _ = tokio::task::spawn_blocking(move || drop(consumers)).await;
    }
}

impl Publisher for KafkaRig {
    async fn enqueue(
        &self,
        stamp: &Stamp,
        key: &[u8],
        payload: &[u8],
    ) -> Result<Confirm, BenchError> {
        let header = stamp.encode();
        loop {
            let record = FutureRecord::to(&self.topic)
                .key(key)
                .payload(payload)
                .headers(OwnedHeaders::new().insert(Header {
                    key: HEADER,
                    value: Some(&header[..]),
                }));
            match self.producer.send_result(record) {
                Ok(delivery) => {
                    return Ok(Box::pin(async move {
                        match delivery.await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err((source, _))) => Err(BenchError::kafka("delivery")(source)),
                            Err(_) => Err(BenchError::Task {
                                what: "kafka delivery",
                                detail: "the producer went away".to_owned(),
                            }),
                        }
                    }));
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                    tokio::time::sleep(QUEUE_FULL_PAUSE).await;
                }
                Err((source, _)) => return Err(BenchError::kafka("produce")(source)),
            }
        }
    }
}

/// A consumer of `group` subscribed to `topic`; `auto_commit` false for
/// readers that commit by hand.
fn subscribe(
    config: &BusConfig,
    group: &str,
    topic: &str,
    auto_commit: bool,
) -> Result<StreamConsumer, BenchError> {
    let mut client = config.consumer_client_config(group);
    client.set("auto.offset.reset", "earliest");
    if !auto_commit {
        client.set("enable.auto.commit", "false");
    }
    let consumer: StreamConsumer = client.create().map_err(BenchError::kafka("consumer"))?;
    consumer
        .subscribe(&[topic])
        .map_err(BenchError::kafka("subscribe"))?;
    Ok(consumer)
}

fn stamp_of(message: &impl rdkafka::Message) -> Option<Stamp> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == HEADER)
        .and_then(|h| h.value)
        .and_then(Stamp::decode)
}

/// A rig consumer: process, report, store the offset (auto-committed).
async fn consume(
    consumer: Arc<StreamConsumer>,
    work: Work,
    collector: Arc<Collector>,
    stop: CancellationToken,
) {
    let mut stream = consumer.stream();
    loop {
        let next = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            next = stream.next() => next,
        };
        match next {
            None => break,
            Some(Err(error)) => tracing::warn!(%error, "kafka consumer error"),
            Some(Ok(message)) => {
                if let Some(stamp) = stamp_of(&message) {
                    work.apply(&stamp).await;
                    collector.record(stamp);
                }
                if let Err(error) = consumer.store_offset_from_message(&message) {
                    tracing::warn!(%error, "storing an offset failed");
                }
            }
        }
    }
}

/// Waits until, in every group, the members together hold every partition
/// and each member holds some (when there are enough partitions), twice in
/// a row a little apart (a rebalance can still be under way after the first).
async fn wait_assigned(
    groups: &[Vec<Arc<StreamConsumer>>],
    partitions: i32,
) -> Result<(), BenchError> {
    if groups.is_empty() {
        return Ok(());
    }
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut settled = 0;
    loop {
        let ready = groups.iter().all(|members| {
            let counts: Vec<i32> = members
                .iter()
                .map(|c| c.assignment().map_or(0, |a| a.count() as i32))
                .collect();
            let everyone = members.len() > partitions as usize || counts.iter().all(|n| *n > 0);
            counts.iter().sum::<i32>() == partitions && everyone
        });
        settled = if ready { settled + 1 } else { 0 };
        if settled >= 2 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(BenchError::Timeout {
                what: "kafka consumer groups getting their partitions".to_owned(),
                after: READY_TIMEOUT,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// One consumer in `group` reading `topic` from the group's committed
/// offsets (the earliest for a new group) until it has `want` messages of
/// `point`, no message came for `idle`, or the policy makes it die.
pub(crate) async fn read_group(
    config: &BusConfig,
    topic: &str,
    group: &str,
    point: u32,
    want: u64,
    policy: AckPolicy,
    idle: Duration,
) -> Result<Vec<Read>, BenchError> {
    let auto = matches!(policy, AckPolicy::Each);
    let consumer = subscribe(config, group, topic, auto)?;
    let outcome = read_from(&consumer, point, want, policy, idle).await;
    if auto && outcome.is_ok() {
        // Make the group's position durable before leaving.
        let _ = consumer.commit_consumer_state(CommitMode::Sync);
    }
    // A reader that "dies" closes without committing what it processed
    // since its last commit; closing blocks, so not on a runtime worker.
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    outcome
}

/// The offsets `group` has committed on `topic`, read from the broker, by
/// partition (partitions without a commit are absent). What a crashed
/// consumer had acknowledged is measured this way rather than inferred from
/// its commit policy.
pub(crate) async fn committed(
    config: &BusConfig,
    group: &str,
    topic: &str,
) -> Result<HashMap<i32, i64>, BenchError> {
    let consumer: BaseConsumer = config
        .consumer_client_config(group)
        .create()
        .map_err(BenchError::kafka("offsets client"))?;
    let topic = topic.to_owned();
    let read = move || {
        let metadata = consumer
            .fetch_metadata(Some(&topic), READY_TIMEOUT)
            .map_err(BenchError::kafka("metadata"))?;
        let mut request = TopicPartitionList::new();
        for partition in metadata.topics().iter().flat_map(|t| t.partitions()) {
            request.add_partition(&topic, partition.id());
        }
        let committed = consumer
            .committed_offsets(request, READY_TIMEOUT)
            .map_err(BenchError::kafka("committed offsets"))?;
        Ok(committed
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| BenchError::Task {
            what: "reading committed offsets",
            detail: e.to_string(),
        })?
}

async fn read_from(
    consumer: &StreamConsumer,
    point: u32,
    want: u64,
    policy: AckPolicy,
    idle: Duration,
) -> Result<Vec<Read>, BenchError> {
    let mut reads = Vec::new();
    let mut stream = consumer.stream();
    // The first message can take a group join; idleness counts after it.
    let mut wait = READY_TIMEOUT;
    while (reads.len() as u64) < want {
        let message = match tokio::time::timeout(wait, stream.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(message)) => message.map_err(BenchError::kafka("consume"))?,
        };
        wait = idle;
        let Some(stamp) = stamp_of(&message) else {
            continue;
        };
        if stamp.point != point {
            continue;
        }
        reads.push(Read {
            stamp,
            redelivered: false,
            position: Some((message.partition(), message.offset())),
        });
        match policy {
            AckPolicy::Each => consumer
                .store_offset_from_message(&message)
                .map_err(BenchError::kafka("store offset"))?,
            AckPolicy::BatchThenDie { every, die_after } => {
                let n = reads.len() as u64;
                if n >= die_after {
                    break;
                }
                // Stored offsets are what a commit sends; without the
                // commit they die with the consumer.
                consumer
                    .store_offset_from_message(&message)
                    .map_err(BenchError::kafka("store offset"))?;
                if every > 0 && n.is_multiple_of(every) {
                    consumer
                        .commit_consumer_state(CommitMode::Sync)
                        .map_err(BenchError::kafka("commit"))?;
                }
            }
        }
    }
    Ok(reads)
}
