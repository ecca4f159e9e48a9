//! The scenario on RabbitMQ: the service's queue bound to the topic
//! exchanges the bridge's egress publishes to, messages published exactly
//! as the egress forwards them.

use std::time::Duration;

use async_trait::async_trait;
use lapin::{
    Channel, Connection, ConnectionProperties,
    options::{
        BasicPublishOptions, ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
};
use tokio_util::sync::CancellationToken;
use tributary_bridge::{
    Bridge, BridgeConfig, QueueType, RabbitSources, consumer::queue_name, names::Names,
    properties::to_amqp,
};
use tributary_bus::headers::MessageHeaders;
use tributary_telemetry::Metrics;
use tributary_testkit::{unique_name, wait_until};

use crate::{
    gate::Gate,
    helpers::{Env, GROUP, Running},
    kafka::KafkaFeed,
    scenario::{Feed, one_notification_per_order},
};

fn amqp_url() -> String {
    std::env::var("TRIBUTARY_AMQP_URL")
        .unwrap_or_else(|_| tributary_bridge::defaults::AMQP_URL.to_owned())
}

struct RabbitFeed {
    channel: Channel,
    names: Names,
    connection: Connection,
}

impl RabbitFeed {
    async fn connect(config: &BridgeConfig) -> RabbitFeed {
        let connection = Connection::connect(&config.amqp_url, ConnectionProperties::default())
            .await
            .expect("rabbitmq reachable (run scripts/ensure-rabbitmq)");
        let channel = connection.create_channel().await.expect("channel");
        RabbitFeed {
            channel,
            names: Names::new(&config.amqp_name_prefix, ""),
            connection,
        }
    }

    fn queue(&self) -> String {
        queue_name(&self.names, GROUP)
    }

    /// Deletes the test's queues and exchanges (best effort).
    async fn cleanup(&self) {
        let queue = self.queue();
        for q in [queue.clone(), format!("{queue}.dead")] {
            let _ = self
                .channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let unroutable = self.names.unroutable_queue();
        let _ = self
            .channel
            .queue_delete(unroutable.as_str().into(), QueueDeleteOptions::default())
            .await;
        let mut exchanges = vec![format!("{queue}.dlx"), self.names.unroutable_exchange()];
        exchanges.extend(["orders", "users"].map(|t| self.names.egress_exchange(t)));
        for e in exchanges {
            let _ = self
                .channel
                .exchange_delete(e.as_str().into(), ExchangeDeleteOptions::default())
                .await;
        }
    }
}

#[async_trait]
impl Feed for RabbitFeed {
    async fn publish(
        &self,
        topic: &str,
        event_type: &str,
        key: &[u8],
        payload: &[u8],
        headers: &MessageHeaders,
    ) {
        let properties = to_amqp(headers, Some(key), None, event_type);
        self.channel
            .basic_publish(
                self.names.egress_exchange(topic).as_str().into(),
                event_type.into(),
                BasicPublishOptions::default(),
                payload,
                properties,
            )
            .await
            .expect("publish")
            .await
            .expect("publish confirm");
    }

    /// The service's dead-letter queue holds every topic's poison messages.
    async fn dead_letters(&self, _topic: &str) -> u64 {
        let dead = format!("{}.dead", self.queue());
        // A passive declare of a missing queue closes its channel: use a
        // throwaway one.
        let Ok(channel) = self.connection.create_channel().await else {
            return 0;
        };
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let count = channel
            .queue_declare(dead.as_str().into(), passive, Default::default())
            .await
            .map_or(0, |ok| u64::from(ok.message_count()));
        let _ = channel.close(200, "counted".into()).await;
        count
    }
}

/// Events go to Kafka, the bridge's egress forwards them to the exchanges;
/// dead letters are the service's dead-letter queue.
struct BridgedFeed {
    kafka: KafkaFeed,
    rabbit: RabbitFeed,
}

#[async_trait]
impl Feed for BridgedFeed {
    async fn publish(
        &self,
        topic: &str,
        event_type: &str,
        key: &[u8],
        payload: &[u8],
        headers: &MessageHeaders,
    ) {
        self.kafka
            .publish(topic, event_type, key, payload, headers)
            .await;
    }

    async fn dead_letters(&self, topic: &str) -> u64 {
        self.rabbit.dead_letters(topic).await
    }
}

fn bridge_config() -> BridgeConfig {
    BridgeConfig {
        amqp_url: amqp_url(),
        queue_type: QueueType::Quorum,
        amqp_name_prefix: format!("{}.", unique_name("test.notifications")),
        reconnect_initial_backoff: Duration::from_millis(100),
        reconnect_max_backoff: Duration::from_secs(1),
        ..BridgeConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_rabbitmq_one_notification_per_order_and_poison_to_the_dead_queue() {
    let env = Env::start().await;
    let config = bridge_config();
    let feed = RabbitFeed::connect(&config).await;
    let app = Running::start(&env, &RabbitSources::new(config)).await;
    one_notification_per_order(&env, &app, &feed).await;
    app.stop().await;
    feed.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_rabbitmq_an_unreachable_broker_stops_the_build_naming_the_setting() {
    let env = Env::start().await;
    let config = BridgeConfig {
        amqp_url: "amqp://guest:guest@127.0.0.1:1/%2f".into(),
        ..bridge_config()
    };
    let definition = tributary_notifications::definition(Default::default());
    let error = tributary_service::Application::build_with_source(
        definition,
        env.config(),
        tributary_telemetry::Metrics::new(),
        &RabbitSources::new(config),
    )
    .await
    .expect_err("no rabbitmq there");
    let message = error.to_string();
    assert!(
        message.contains("rabbitmq") && message.contains(GROUP),
        "{message}"
    );
    assert!(
        std::error::Error::source(&error)
            .is_some_and(|s| s.to_string().contains("bridge.amqp_url")),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn through_the_bridge_egress_kafka_events_reach_the_service_on_rabbitmq() {
    let env = Env::start().await;
    let config = BridgeConfig {
        group: unique_name("tributary.bridge"),
        topics: vec!["orders".into(), "users".into()],
        ingress: false,
        ..bridge_config()
    };
    let rabbit = RabbitFeed::connect(&config).await;
    let app = Running::start(&env, &RabbitSources::new(config.clone())).await;
    let bridge = Bridge::build(config, env.config().bus, Metrics::new())
        .await
        .expect("the bridge builds");
    let connected = bridge.connected();
    let status = bridge.group_status().expect("egress on");
    let stop = CancellationToken::new();
    let task = tokio::spawn(bridge.run(stop.clone()));
    wait_until(
        Duration::from_secs(60),
        "the bridge to connect and own the orders and users partitions",
        || {
            let owned = status
                .borrow()
                .assigned
                .iter()
                .filter(|(t, _)| !t.ends_with(".retry"))
                .count();
            let up = connected();
            async move { up && owned == 3 }
        },
    )
    .await;

    let feed = BridgedFeed {
        kafka: KafkaFeed::connect(&env).await,
        rabbit,
    };
    one_notification_per_order(&env, &app, &feed).await;

    app.stop().await;
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("the bridge stops in time")
        .expect("bridge task joins")
        .expect("the bridge ran without error");
    feed.rabbit.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_rabbitmq_not_ready_while_disconnected_and_resumes_after() {
    let env = Env::start().await;
    let direct = bridge_config();
    let gate = Gate::open_to(&direct.amqp_url).await;
    let gated = BridgeConfig {
        amqp_url: gate.url(&direct.amqp_url),
        ..direct.clone()
    };
    let feed = RabbitFeed::connect(&direct).await;
    let app = Running::start(&env, &RabbitSources::new(gated)).await;
    app.wait_ready().await;

    gate.shut();
    wait_until(
        Duration::from_secs(30),
        "/health/ready to answer 503 while rabbitmq is unreachable",
        || async {
            let response = app.get("/health/ready").await;
            response.starts_with("HTTP/1.1 503") && response.contains("not subscribed")
        },
    )
    .await;
    // Published while the service is away: the queue keeps it.
    let order = one_confirmed_order(&env, &feed).await;

    gate.reopen();
    app.wait_ready().await;
    wait_until(
        Duration::from_secs(30),
        "the order published while disconnected to be notified",
        || {
            let done = app
                .channel
                .delivered()
                .iter()
                .any(|n| n.subject_id == order);
            async move { done }
        },
    )
    .await;
    app.stop().await;
    feed.cleanup().await;
}

/// Publishes one `OrderConfirmed` through `feed`; returns its order id.
async fn one_confirmed_order(env: &Env, feed: &RabbitFeed) -> uuid::Uuid {
    use tributary_contracts::{Envelope, Event as _, events::OrderConfirmed};
    let order_id = uuid::Uuid::new_v4();
    let event = OrderConfirmed {
        envelope: Envelope::originating("orders", order_id.to_string(), 1_700_000_000_000),
        order_id,
        customer_id: uuid::Uuid::new_v4(),
        total_cents: 990,
    };
    let payload = env.codec.encode(&event).await.expect("encode");
    let headers =
        tributary_bus::headers::event_headers(&event.envelope, OrderConfirmed::EVENT_TYPE, None);
    feed.publish(
        OrderConfirmed::TOPIC,
        OrderConfirmed::EVENT_TYPE,
        event.key().as_bytes(),
        &payload,
        &headers,
    )
    .await;
    order_id
}
