//! RabbitMQ going away mid-stream (every connection cut, new ones refused
//! for a while): the bridge reconnects with backoff and loses nothing in
//! either direction; duplicates only where a confirm or ack was lost.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use lapin::BasicProperties;
use rdkafka::Message as _;
use tributary_bridge::QueueType;
use tributary_testkit::wait_until;

use crate::{
    helpers::{TestApp, read_topic, user},
    proxy::FaultyProxy,
};

fn upstream() -> SocketAddr {
    let url = crate::helpers::amqp_url();
    let authority = url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .map(|a| a.rsplit('@').next().unwrap_or(a))
        .expect("amqp url has a host");
    authority.parse().expect("amqp url host is an ip:port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_survives_rabbitmq_going_away_without_losing_events() {
    let app = TestApp::start(QueueType::Quorum).await;
    let proxy = FaultyProxy::start(upstream()).await;
    let mut config = app.config.clone();
    config.amqp_url = format!("amqp://guest:guest@{}/%2f", proxy.addr);
    config.confirm_window = 8;
    let subscriber = app.subscribe(&app.names.egress_exchange("users")).await;
    let bridge = app.bridge_with(config).await;
    let producer = app.producer().await;

    let total = 400;
    let mut expected = Vec::new();
    for n in 0..total {
        let event = user(n);
        app.produce(&producer, &event).await;
        expected.push(event.envelope.event_id.to_string());
    }
    let stats = bridge.stats.clone();
    wait_until(
        Duration::from_secs(30),
        "some events bridged before the cut",
        || {
            let published = stats.snapshot().published;
            async move { published >= 30 }
        },
    )
    .await;
    proxy.cut();
    // Meanwhile an AMQP-only producer keeps publishing to the ingress
    // (directly, not through the proxy).
    let mut ingress_sent = Vec::new();
    for n in 0..50 {
        let event = user(10_000 + n);
        let payload = app.codec.encode(&event).await.expect("encode");
        app.publish(
            &app.names.ingress_exchange("users"),
            "user.registered",
            &payload,
            BasicProperties::default(),
        )
        .await;
        ingress_sent.push(event.envelope.event_id);
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // the outage lasts a while
    let during = stats.snapshot().published;
    proxy.restore();

    let received = app.take_at_least(&subscriber, &expected).await;
    let mut counts: HashMap<String, u32> = HashMap::new();
    for id in &received {
        *counts.entry(id.clone()).or_default() += 1;
    }
    let lost = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    let duplicated: u32 = counts.values().map(|c| c - 1).sum();

    // Kafka holds the 400 produced plus the 50 ingested ones.
    let kafka = read_topic(
        app.broker.bootstrap_servers(),
        &app.kafka_topic("users"),
        total + 50,
    )
    .await;
    let ingested: std::collections::HashSet<Vec<u8>> = kafka
        .iter()
        .filter_map(|m| {
            use rdkafka::message::Headers as _;
            m.headers()?
                .iter()
                .find(|h| h.key == "ce_id")
                .and_then(|h| h.value.map(<[u8]>::to_vec))
        })
        .collect();
    let ingress_lost = ingress_sent
        .iter()
        .filter(|id| !ingested.contains(id.to_string().as_bytes()))
        .count();
    let snapshot = bridge.stats.snapshot();
    eprintln!(
        "rabbitmq outage: published before/while cut {during}, lost {lost}, duplicated {duplicated}, \
         republished {}, ingress lost {ingress_lost}",
        snapshot.republished
    );
    assert_eq!(lost, 0, "egress lost events");
    assert_eq!(ingress_lost, 0, "ingress lost events");
    assert!(during < total as u64, "the cut happened mid-stream");
    bridge.stop().await;
    app.cleanup(&[&subscriber]).await;
}
