//! The test broker itself: a real tansu process reached over TCP by rdkafka.

use std::time::Duration;

use futures::StreamExt;
use rdkafka::{
    Message,
    consumer::{Consumer, StreamConsumer},
    producer::{FutureProducer, FutureRecord},
};
use tributary_testkit::{TestBroker, unique_name};

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
