//! The test broker itself: a real tansu process reached over TCP by rdkafka.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer},
    message::{Header, Headers as _, OwnedHeaders},
    producer::{FutureProducer, FutureRecord},
};
use tributary_testkit::{Storage, TestBroker, unique_name};

#[tokio::test]
async fn a_produced_record_is_consumed_over_tcp() {
    let broker = TestBroker::start().await;
    let topic = unique_name("testkit");
    broker.create_topic(&topic, 3).await;

    let producer: FutureProducer = broker
        .client_config()
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    producer
        .send(
            FutureRecord::to(&topic).key("k").payload("hello"),
            Duration::from_secs(10),
        )
        .await
        .expect("delivery report");

    let consumer: StreamConsumer = broker
        .client_config()
        .set("group.id", unique_name("testkit-group"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let message = tokio::time::timeout(Duration::from_secs(60), consumer.stream().next())
        .await
        .expect("a message within 60s")
        .expect("stream open")
        .expect("no consumer error");
    assert_eq!(message.payload(), Some(&b"hello"[..]));
    assert_eq!(message.key(), Some(&b"k"[..]));
}

#[tokio::test]
async fn brokers_started_side_by_side_are_independent() {
    let (a, b) = tokio::join!(TestBroker::start(), TestBroker::start());
    assert_ne!(a.bootstrap_servers(), b.bootstrap_servers());
}

// The fixes `scripts/setup` applies to tansu 0.6.0
// (`scripts/tansu/fixes.patch`). Fixes 1-4 on both storages: unpatched,
// every one of these tests fails on at least one of them. Fix 5 is a cost,
// not a behaviour; its test pins what the fix must keep.

/// Sends one record keyed `k` and waits for its delivery report.
async fn send(producer: &FutureProducer, topic: &str, payload: &str) {
    producer
        .send(
            FutureRecord::to(topic).key("k").payload(payload),
            Duration::from_secs(10),
        )
        .await
        .expect("delivery report");
}

/// A consumer assigned partition 0 of `topic` from `offset` (no group
/// membership), with `fetch_wait_ms` as its `fetch.wait.max.ms`.
fn assigned(
    broker: &TestBroker,
    topic: &str,
    offset: Offset,
    fetch_wait_ms: u32,
) -> StreamConsumer {
    let group = unique_name("testkit-group");
    assigned_in_group(broker, &group, topic, offset, fetch_wait_ms)
}

/// Like [`assigned`], committing (when asked) under `group`.
fn assigned_in_group(
    broker: &TestBroker,
    group: &str,
    topic: &str,
    offset: Offset,
    fetch_wait_ms: u32,
) -> StreamConsumer {
    let consumer: StreamConsumer = broker
        .client_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", fetch_wait_ms.to_string())
        .set("socket.timeout.ms", "120000")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, offset)
        .expect("offset");
    consumer.assign(&assignment).expect("assign");
    consumer
}

/// The payload of the next record `consumer` receives within `within`.
async fn next_payload(consumer: &StreamConsumer, within: Duration, what: &str) -> String {
    let message = tokio::time::timeout(within, consumer.stream().next())
        .await
        .unwrap_or_else(|_| panic!("{what} within {within:?}"))
        .expect("stream open")
        .expect("no consumer error");
    String::from_utf8_lossy(message.payload().unwrap_or_default()).into_owned()
}

/// What a consumer relies on after a crash or rebalance: starting from an
/// offset in the middle of a producer's batch (where a commit usually lands)
/// reads from exactly that offset, and on to the end.
async fn a_fetch_from_inside_a_batch_starts_at_that_offset(storage: Storage) {
    let broker = TestBroker::start_on(storage).await;
    let topic = unique_name("testkit-mid-batch");
    broker.create_topic(&topic, 1).await;
    let producer: FutureProducer = broker
        .client_config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "200")
        .create()
        .expect("producer");
    // Enqueued together within the linger time: one batch, then a second.
    for range in [0..50, 50..60] {
        let payloads: Vec<String> = range.map(|i| format!("m{i}")).collect();
        futures::future::join_all(payloads.iter().map(|p| send(&producer, &topic, p))).await;
    }

    let consumer = assigned(&broker, &topic, Offset::Offset(25), 500);
    let mut payloads = Vec::new();
    while payloads.len() < 35 {
        payloads.push(next_payload(&consumer, Duration::from_secs(30), "a record").await);
    }
    let expected: Vec<String> = (25..60).map(|i| format!("m{i}")).collect();
    assert_eq!(payloads, expected);
}

#[tokio::test]
async fn on_memory_a_fetch_from_inside_a_batch_starts_at_that_offset() {
    a_fetch_from_inside_a_batch_starts_at_that_offset(Storage::Memory).await;
}

#[tokio::test]
async fn on_sqlite_a_fetch_from_inside_a_batch_starts_at_that_offset() {
    a_fetch_from_inside_a_batch_starts_at_that_offset(Storage::Sqlite).await;
}

/// A fetch that finds records answers at once: the client's
/// `fetch.wait.max.ms` is how long to wait when there is nothing to read,
/// not a delay added to every answer. The wait here is far longer than the
/// test's bound, so only a broker that sleeps it out fails (unpatched tansu
/// 0.6.0 answers after half of it).
async fn a_fetch_that_finds_records_does_not_wait(storage: Storage) {
    let broker = TestBroker::start_on(storage).await;
    let topic = unique_name("testkit-fetch-wait");
    broker.create_topic(&topic, 1).await;
    let producer: FutureProducer = broker.client_config().create().expect("producer");
    send(&producer, &topic, "ready").await;
    let consumer = assigned(&broker, &topic, Offset::Beginning, 50_000);
    let what = "the record well before the 50 s fetch wait";
    assert_eq!(
        next_payload(&consumer, Duration::from_secs(15), what).await,
        "ready"
    );
}

#[tokio::test]
async fn on_memory_a_fetch_that_finds_records_does_not_wait() {
    a_fetch_that_finds_records_does_not_wait(Storage::Memory).await;
}

#[tokio::test]
async fn on_sqlite_a_fetch_that_finds_records_does_not_wait() {
    a_fetch_that_finds_records_does_not_wait(Storage::Sqlite).await;
}

/// A fetch that found nothing and waits out `fetch.wait.max.ms` answers as
/// soon as a record is written, so a consumer at the end of its partitions
/// sees new records at once whatever its wait (unpatched tansu 0.6.0 looks
/// again only when the wait ends, here after 25 s).
async fn a_waiting_fetch_wakes_when_a_record_is_written(storage: Storage) {
    let broker = TestBroker::start_on(storage).await;
    let topic = unique_name("testkit-fetch-wake");
    broker.create_topic(&topic, 1).await;
    let producer: FutureProducer = broker.client_config().create().expect("producer");
    let consumer = assigned(&broker, &topic, Offset::Beginning, 50_000);
    // Once the first record has arrived, the consumer's next fetch is the
    // one waiting at the end of the partition.
    send(&producer, &topic, "first").await;
    let first = next_payload(&consumer, Duration::from_secs(15), "the first record").await;
    assert_eq!(first, "first");
    send(&producer, &topic, "second").await;
    let what = "the second record well before the 50 s fetch wait";
    assert_eq!(
        next_payload(&consumer, Duration::from_secs(15), what).await,
        "second"
    );
}

#[tokio::test]
async fn on_memory_a_waiting_fetch_wakes_when_a_record_is_written() {
    a_waiting_fetch_wakes_when_a_record_is_written(Storage::Memory).await;
}

#[tokio::test]
async fn on_sqlite_a_waiting_fetch_wakes_when_a_record_is_written() {
    a_waiting_fetch_wakes_when_a_record_is_written(Storage::Sqlite).await;
}

/// What `groups describe` and every "is the group active?" check rely on:
/// DescribeGroups lists the members of a group that has been joined, each
/// with its subscription and its assignment (fix 7; both were empty), and
/// names the assignor.
async fn a_joined_group_can_be_described(storage: Storage) {
    let broker = TestBroker::start_on(storage).await;
    let topic = unique_name("testkit-describe");
    broker.create_topic(&topic, 1).await;
    let group = unique_name("testkit-group");
    let producer: FutureProducer = broker.client_config().create().expect("producer");
    send(&producer, &topic, "joined").await;
    let member: StreamConsumer = broker
        .client_config()
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    member.subscribe(&[&topic]).expect("subscribe");
    // A record delivered means the join and the assignment are done. It is
    // committed too, as a running service's group would have: memory
    // storage lists (and librdkafka then describes) only groups with
    // committed offsets.
    let message = tokio::time::timeout(Duration::from_secs(60), member.stream().next())
        .await
        .expect("a message within 60s")
        .expect("stream open")
        .expect("no consumer error");
    member
        .commit_message(&message, CommitMode::Sync)
        .expect("commit");
    drop(message);

    let admin: BaseConsumer = broker.client_config().create().expect("client");
    let groups = tokio::task::spawn_blocking(move || {
        admin
            .fetch_group_list(Some(&group), Duration::from_secs(10))
            .map(|list| {
                list.groups()
                    .iter()
                    .map(|g| {
                        let names_topic = |bytes: Option<&[u8]>| {
                            bytes.is_some_and(|b| {
                                b.windows(topic.len()).any(|w| w == topic.as_bytes())
                            })
                        };
                        let members: Vec<(bool, bool)> = g
                            .members()
                            .iter()
                            .map(|m| (names_topic(m.metadata()), names_topic(m.assignment())))
                            .collect();
                        (g.name().to_owned(), g.protocol().to_owned(), members)
                    })
                    .collect::<Vec<_>>()
            })
    })
    .await
    .expect("describe task")
    .expect("DescribeGroups answered");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0].1, "range", "the assignor: {groups:?}");
    assert_eq!(
        groups[0].2,
        [(true, true)],
        "one member, subscribed to and assigned the topic: {groups:?}"
    );
    drop(member);
}

#[tokio::test]
async fn on_memory_a_joined_group_can_be_described() {
    a_joined_group_can_be_described(Storage::Memory).await;
}

#[tokio::test]
async fn on_sqlite_a_joined_group_can_be_described() {
    a_joined_group_can_be_described(Storage::Sqlite).await;
}

/// What fix 5 (statements kept per SQLite connection) must not break: a
/// statement run again answers the new question, not the rest of the last
/// answer. Every round writes more records with headers, then reads the
/// partition from the start, its watermarks and the group's committed
/// offset again; each of those reuses statements an earlier round ran (a
/// statement reused without a reset would continue its old result set or
/// ignore the new parameters).
#[tokio::test]
async fn on_sqlite_repeated_reads_see_every_new_write() {
    let broker = TestBroker::start_on(Storage::Sqlite).await;
    let topic = unique_name("testkit-reused");
    broker.create_topic(&topic, 1).await;
    let group = unique_name("testkit-group");
    let producer: FutureProducer = broker.client_config().create().expect("producer");
    let mut written = Vec::new();
    for round in 0..4 {
        for i in 0..3 {
            let payload = format!("r{round}m{i}");
            let headers = OwnedHeaders::new().insert(Header {
                key: "seq",
                value: Some(payload.as_bytes()),
            });
            producer
                .send(
                    FutureRecord::to(&topic)
                        .key("k")
                        .payload(&payload)
                        .headers(headers),
                    Duration::from_secs(10),
                )
                .await
                .expect("delivery report");
            written.push(payload);
        }
        let end = i64::try_from(written.len()).expect("small count");

        let reader = assigned_in_group(&broker, &group, &topic, Offset::Beginning, 500);
        let mut read = Vec::new();
        while read.len() < written.len() {
            let message = tokio::time::timeout(Duration::from_secs(30), reader.stream().next())
                .await
                .unwrap_or_else(|_| panic!("round {round}: record {} within 30 s", read.len()))
                .expect("stream open")
                .expect("no consumer error");
            let payload = String::from_utf8_lossy(message.payload().unwrap_or_default());
            let header = message
                .headers()
                .and_then(|h| h.iter().find(|h| h.key == "seq"))
                .and_then(|h| h.value)
                .map(|v| String::from_utf8_lossy(v).into_owned());
            assert_eq!(header.as_deref(), Some(&*payload), "round {round}: header");
            read.push(payload.into_owned());
        }
        assert_eq!(
            read, written,
            "round {round}: the whole partition, in order"
        );

        let mut commit = TopicPartitionList::new();
        commit
            .add_partition_offset(&topic, 0, Offset::Offset(end - 1))
            .expect("offset");
        reader.commit(&commit, CommitMode::Sync).expect("commit");
        let watched = topic.clone();
        let (marks, committed) = tokio::task::spawn_blocking(move || {
            let marks = reader
                .fetch_watermarks(&watched, 0, Duration::from_secs(10))
                .expect("watermarks");
            let committed = reader
                .committed(Duration::from_secs(10))
                .expect("committed offsets");
            (marks, committed.elements()[0].offset())
        })
        .await
        .expect("admin task");
        assert_eq!(marks, (0, end), "round {round}: watermarks");
        assert_eq!(
            committed,
            Offset::Offset(end - 1),
            "round {round}: committed"
        );
    }
}
