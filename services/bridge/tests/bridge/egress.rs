//! Kafka → RabbitMQ.

use std::{collections::HashMap, time::Duration};

use lapin::types::ShortString;
use tributary_bridge::QueueType;
use tributary_contracts::Event as _;
use tributary_testkit::wait_until;

use crate::helpers::{TestApp, amqp_header, confirmed, user};

/// Bridged messages carry the identical bytes and every Kafka header, with
/// the event id as `message_id`, persistent delivery and the event type as
/// routing key; a message nobody is bound for is dead-lettered and counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_events_arrive_on_rabbitmq_byte_for_byte() {
    let app = TestApp::start(QueueType::Quorum).await;
    let subscriber = app.subscribe(&app.names.egress_exchange("users")).await;
    let bridge = app.bridge().await;
    let producer = app.producer().await;

    let mut sent = HashMap::new();
    for n in 0..5 {
        let event = user(n);
        let payload = app.produce(&producer, &event).await;
        sent.insert(event.envelope.event_id.to_string(), (event, payload));
    }
    // orders: no queue bound to the orders exchange.
    let lost = confirmed(1);
    app.produce(&producer, &lost).await;

    let received = app.take(&subscriber, 5).await;
    for delivery in &received {
        let id = delivery
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str)
            .expect("message_id")
            .to_owned();
        let (event, payload) = sent.get(&id).expect("a sent event");
        assert_eq!(&delivery.data, payload, "payload bytes");
        assert_eq!(delivery.routing_key.as_str(), "user.registered");
        assert_eq!(delivery.properties.delivery_mode(), &Some(2));
        assert_eq!(
            delivery
                .properties
                .correlation_id()
                .as_ref()
                .map(ShortString::as_str),
            Some(event.envelope.correlation_id.as_str())
        );
        let expected =
            tributary_bus::headers::event_headers(&event.envelope, "user.registered", None);
        for (name, value) in expected.iter() {
            assert_eq!(
                amqp_header(delivery, name).as_deref(),
                Some(value),
                "header {name}"
            );
        }
        assert_eq!(
            amqp_header(delivery, "traceparent").as_deref(),
            Some(&b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"[..])
        );
        assert_eq!(
            amqp_header(delivery, "partition_key"),
            Some(event.key().as_bytes().to_vec())
        );
    }
    let mut ids: Vec<_> = received
        .iter()
        .filter_map(|d| d.properties.message_id().clone())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "every event once");

    let unroutable = app.take(&app.names.unroutable_queue(), 1).await;
    assert_eq!(
        unroutable[0]
            .properties
            .message_id()
            .as_ref()
            .map(ShortString::as_str),
        Some(lost.envelope.event_id.to_string().as_str())
    );
    assert_eq!(
        amqp_header(&unroutable[0], "x-tributary-error-reason").as_deref(),
        Some(&b"unroutable"[..])
    );
    let stats = bridge.stats.clone();
    wait_until(
        Duration::from_secs(10),
        "the returned message to be counted",
        || {
            let s = stats.snapshot();
            async move { s.returned == 1 && s.published >= 5 }
        },
    )
    .await;
    bridge.stop().await;
    app.cleanup(&[&subscriber]).await;
}
