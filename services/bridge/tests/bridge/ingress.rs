//! RabbitMQ → Kafka.

use std::time::Duration;

use lapin::BasicProperties;
use rdkafka::Message as _;
use tributary_bridge::QueueType;
use tributary_contracts::{Event as _, frame};
use tributary_testkit::wait_until;

use crate::helpers::{TestApp, amqp_header, read_topic, table, user};

/// A valid AMQP message reaches Kafka byte for byte with its headers and
/// key; garbage, a wrong magic byte, an unknown schema id, a routing key
/// that does not match the payload and an event of another topic are
/// dead-lettered with a reason, and the bridge keeps going.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn amqp_events_reach_kafka_and_invalid_ones_are_dead_lettered() {
    let app = TestApp::start(QueueType::Classic).await;
    let mut config = app.config.clone();
    config.egress = false;
    let bridge = app.bridge_with(config).await;
    let exchange = app.names.ingress_exchange("users");

    let first = user(1);
    let payload = app.codec.encode(&first).await.expect("encode");
    let props = BasicProperties::default()
        .with_message_id(first.envelope.event_id.to_string().as_str().into())
        .with_headers(table(&[(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        )]));
    app.publish(&exchange, "user.registered", &payload, props)
        .await;

    let (_, body) = tributary_contracts::unframe(&payload).expect("framed");
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("user.registered", b"gar".to_vec(), "too_short"),
        (
            "user.registered",
            [&[7u8][..], &payload[1..]].concat(),
            "wrong_magic_byte",
        ),
        ("user.registered", frame(999_999, body), "unknown_schema_id"),
        (
            "user.registered",
            [&payload[..5], &[0xff_u8; 3][..]].concat(),
            "decode",
        ),
        ("order.placed", payload.clone(), "wrong_topic"),
    ];
    for (key, bytes, _) in &bad {
        app.publish(&exchange, key, bytes, BasicProperties::default())
            .await;
    }
    // A users event published on the orders ingress with the right type.
    app.publish(
        &app.names.ingress_exchange("orders"),
        "order.confirmed",
        &payload,
        BasicProperties::default(),
    )
    .await;

    let second = user(2);
    let payload2 = app.codec.encode(&second).await.expect("encode");
    app.publish(
        &exchange,
        "user.registered",
        &payload2,
        BasicProperties::default(),
    )
    .await;

    let messages = read_topic(app.broker.bootstrap_servers(), &app.kafka_topic("users"), 2).await;
    let first_out = messages
        .iter()
        .find(|m| m.payload() == Some(payload.as_slice()))
        .expect("the first event in kafka, byte for byte");
    assert_eq!(first_out.key(), Some(first.key().as_bytes()));
    let header = |name: &str| {
        use rdkafka::message::Headers as _;
        first_out.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == name)
                .and_then(|h| h.value.map(<[u8]>::to_vec))
        })
    };
    assert_eq!(
        header("ce_id"),
        Some(first.envelope.event_id.to_string().into_bytes())
    );
    assert_eq!(
        header("ce_type").as_deref(),
        Some(&b"io.tributary.user.registered"[..])
    );
    assert_eq!(
        header("traceparent").as_deref(),
        Some(&b"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"[..])
    );
    assert!(
        messages
            .iter()
            .any(|m| m.payload() == Some(payload2.as_slice()))
    );

    let dead = app.take(&app.names.ingress_dead_queue(), 6).await;
    let mut reasons: Vec<String> = dead
        .iter()
        .map(|d| {
            let reason = amqp_header(d, "x-tributary-error-reason").expect("reason header");
            assert!(
                amqp_header(d, "x-tributary-error").is_some(),
                "error text header"
            );
            String::from_utf8(reason).expect("utf-8")
        })
        .collect();
    reasons.sort();
    let mut expected: Vec<String> = bad.iter().map(|(_, _, r)| (*r).to_owned()).collect();
    expected.push("event_type_mismatch".into());
    expected.sort();
    assert_eq!(reasons, expected);

    let stats = bridge.stats.clone();
    wait_until(Duration::from_secs(10), "ingress counters", || {
        let s = stats.snapshot();
        async move { s.ingested == 2 && s.ingress_dead_lettered == 6 }
    })
    .await;
    bridge.stop().await;
    app.cleanup(&[]).await;
}
