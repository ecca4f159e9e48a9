//! The test broker itself: a real tansu process reached over TCP by rdkafka.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{Consumer, StreamConsumer},
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

/// What `tributary up` relies on after a crash or rebalance: on SQLite
/// storage, a consumer that starts from an offset in the middle of a
/// producer's batch (where a commit usually lands) reads from exactly that
/// offset. (On tansu 0.6.0's memory storage it reads nothing.)
#[tokio::test]
async fn on_sqlite_a_fetch_from_inside_a_batch_starts_at_that_offset() {
    let broker = TestBroker::start_on(Storage::Sqlite).await;
    let topic = unique_name("testkit-mid-batch");
    broker.create_topic(&topic, 1).await;
    let producer: FutureProducer = broker
        .client_config()
        .set("enable.idempotence", "true")
        .set("linger.ms", "200")
        .create()
        .expect("producer");
    // Enqueued together within the linger time: one batch.
    let sends = (0..50).map(|i| {
        let payload = format!("m{i}");
        let producer = producer.clone();
        let topic = topic.clone();
        async move {
            producer
                .send(
                    FutureRecord::to(&topic).key("k").payload(&payload),
                    Duration::from_secs(10),
                )
                .await
                .expect("delivery report")
        }
    });
    let deliveries = futures::future::join_all(sends).await;
    assert_eq!(deliveries.last().map(|d| d.offset), Some(49));

    let consumer: StreamConsumer = broker
        .client_config()
        .set("group.id", unique_name("testkit-group"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(&topic, 0, Offset::Offset(25))
        .expect("offset");
    consumer.assign(&assignment).expect("assign");
    let message = tokio::time::timeout(Duration::from_secs(30), consumer.stream().next())
        .await
        .expect("a message within 30s")
        .expect("stream open")
        .expect("no consumer error");
    assert_eq!(message.offset(), 25);
    assert_eq!(message.payload(), Some(&b"m25"[..]));
}
