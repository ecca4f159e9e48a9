//! Issue 3 item 8: redelivered events change nothing. After a run, every
//! message of every contract topic is produced again, byte for byte (key,
//! payload, headers, partition), as a broker redelivery or a producer retry
//! would; once every consumer group has consumed the copies, the invariants
//! still hold and the order statuses, stock and notification counts are
//! exactly what they were.

use std::{collections::BTreeMap, time::Duration};

use rdkafka::{
    ClientConfig, Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
    producer::{FutureProducer, FutureRecord},
};
use tributary::load;
use tributary_testkit::wait_until;

use crate::{
    platform::{Platform, Start},
    support::{SERVICE_GROUPS, assert_clean_run, metric_sum},
};

const KAFKA_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_events_change_nothing() {
    let platform = Platform::start(Start::default()).await;
    let options = platform.load_options(200, 50.0);
    let report = load::run(options.clone())
        .await
        .expect("the load run starts");
    assert_clean_run(&report);
    let before = report.observed.clone();

    let bootstrap = platform.bootstrap_servers();
    let copied = tokio::task::spawn_blocking({
        let bootstrap = bootstrap.clone();
        move || read_all(&bootstrap)
    })
    .await
    .expect("reading the topics");
    let total: usize = copied.values().map(Vec::len).sum();
    assert!(
        total > 1_000,
        "only {total} messages on the contract topics"
    );
    let high_watermarks = produce_again(&bootstrap, copied).await;
    eprintln!("re-produced {total} messages");

    // Settled = every group has committed past the copies on every
    // partition it consumes (one where it had committed an offset before).
    wait_until(
        Duration::from_secs(120),
        "every consumer group consumed the redelivered copies",
        || {
            let bootstrap = bootstrap.clone();
            let high_watermarks = high_watermarks.clone();
            async move {
                tokio::task::spawn_blocking(move || groups_caught_up(&bootstrap, &high_watermarks))
                    .await
                    .unwrap_or(false)
            }
        },
    )
    .await;

    let duplicates = metric_sum(
        &platform.metrics(&platform.service_url("orders", 1)).await,
        "tributary_events_duplicate_total",
    );
    assert!(
        duplicates > 0.0,
        "the orders service recorded no duplicate: the copies never reached it"
    );

    let after = load::verify(&options, &report.record)
        .await
        .expect("the check runs");
    for invariant in &after.invariants {
        assert!(invariant.holds, "after redelivery: {invariant:?}");
    }
    assert_eq!(
        before.orders, after.observed.orders,
        "order statuses changed"
    );
    assert_eq!(before.stock, after.observed.stock, "stock changed");
    assert_eq!(
        before.notifications, after.observed.notifications,
        "notification counts changed"
    );
    assert_eq!(before.payments, after.observed.payments, "payments changed");
    assert_eq!(
        before.reservations, after.observed.reservations,
        "reservations changed"
    );
}

/// One consumed message, owned.
#[derive(Debug, Clone)]
struct Copy {
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: Option<rdkafka::message::OwnedHeaders>,
}

type Partitions = BTreeMap<(String, i32), Vec<Copy>>;

/// Every message of every contract topic, per partition, up to the high
/// watermarks seen at the start.
fn read_all(bootstrap: &str) -> Partitions {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", tributary_testkit::unique_name("e2e-redelivery"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    let mut wanted: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for topic in tributary_contracts::TOPICS {
        // `up` may create more partitions than the contract's default.
        let metadata = consumer
            .fetch_metadata(Some(topic.name), KAFKA_TIMEOUT)
            .expect("metadata");
        let count = metadata.topics().first().map_or(0, |t| {
            i32::try_from(t.partitions().len()).expect("partition count")
        });
        for partition in 0..count {
            let (low, high) = consumer
                .fetch_watermarks(topic.name, partition, KAFKA_TIMEOUT)
                .expect("watermarks");
            if high > low {
                assignment
                    .add_partition_offset(topic.name, partition, Offset::Offset(low))
                    .expect("assignment");
                wanted.insert((topic.name.to_owned(), partition), high);
            }
        }
    }
    consumer.assign(&assignment).expect("assign");
    let mut copies: Partitions = BTreeMap::new();
    let mut remaining = wanted.len();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while remaining > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "reading the topics took too long"
        );
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let message = message.expect("a message");
        let key = (message.topic().to_owned(), message.partition());
        let Some(&high) = wanted.get(&key) else {
            continue;
        };
        if message.offset() >= high {
            continue;
        }
        copies.entry(key).or_default().push(Copy {
            key: message.key().map(<[u8]>::to_vec),
            payload: message.payload().map(<[u8]>::to_vec),
            headers: message.headers().map(|h| h.detach()),
        });
        if message.offset() == high - 1 {
            remaining -= 1;
        }
    }
    copies
}

/// Produces every copy to its own topic and partition; returns the new high
/// watermark of each partition written.
async fn produce_again(bootstrap: &str, copies: Partitions) -> BTreeMap<(String, i32), i64> {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    let mut high = BTreeMap::new();
    for ((topic, partition), messages) in copies {
        let mut last = 0;
        for copy in messages {
            let mut record: FutureRecord<'_, [u8], [u8]> =
                FutureRecord::to(&topic).partition(partition);
            if let Some(key) = &copy.key {
                record = record.key(key.as_slice());
            }
            if let Some(payload) = &copy.payload {
                record = record.payload(payload.as_slice());
            }
            if let Some(headers) = copy.headers {
                record = record.headers(headers);
            }
            let delivered = producer
                .send(record, KAFKA_TIMEOUT)
                .await
                .unwrap_or_else(|(error, _)| panic!("re-producing to {topic}: {error}"));
            last = delivered.offset;
        }
        high.insert((topic, partition), last + 1);
    }
    high
}

/// Whether every group's committed offset reached `high` on each partition
/// where the group has committed anything.
fn groups_caught_up(bootstrap: &str, high: &BTreeMap<(String, i32), i64>) -> bool {
    let mut partitions = TopicPartitionList::new();
    for (topic, partition) in high.keys() {
        partitions.add_partition(topic, *partition);
    }
    SERVICE_GROUPS.iter().all(|group| {
        let Ok(consumer) = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", *group)
            .set("enable.auto.commit", "false")
            .create::<BaseConsumer>()
        else {
            return false;
        };
        let Ok(committed) = consumer.committed_offsets(partitions.clone(), KAFKA_TIMEOUT) else {
            return false;
        };
        committed.elements().iter().all(|element| {
            let wanted = high
                .get(&(element.topic().to_owned(), element.partition()))
                .copied()
                .unwrap_or(0);
            match element.offset() {
                Offset::Offset(offset) => offset >= wanted,
                // Never committed here: the group does not consume this topic.
                _ => true,
            }
        })
    })
}
