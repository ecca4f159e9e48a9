//! Issue 4 items 1 and 4 on the whole platform: `tributary up` runs the
//! RabbitMQ bridge, and a bridge killed with SIGKILL mid-run resumes from its
//! committed offset. Every order of the run reaches RabbitMQ as an
//! `order.placed` and a terminal event, decoded through the platform's own
//! registry; redeliveries after the kill are counted, never lost.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties,
    options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions},
    types::FieldTable,
};
use tributary::load::{self, Observer};
use tributary_bridge::{names::Names, topology};
use tributary_bus::EventCodec;
use tributary_contracts::events::AnyEvent;
use tributary_registry::{ClientConfig, RegistryClient};
use tributary_testkit::{unique_name, wait_until};
use uuid::Uuid;

use crate::platform::{Platform, Start};

const AMQP_URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_runs_the_bridge_and_a_killed_bridge_loses_nothing() {
    let prefix = format!("{}.", unique_name("e2e-bridge"));
    let platform = Platform::start(Start {
        bridge: true,
        env: vec![
            ("TRIBUTARY__BRIDGE__AMQP_URL", AMQP_URL.to_owned()),
            ("TRIBUTARY__BRIDGE__AMQP_NAME_PREFIX", prefix.clone()),
            // The queues of this test live as long as the test.
            ("TRIBUTARY__BRIDGE__QUEUE_TYPE", "classic".to_owned()),
        ],
        ..Start::default()
    })
    .await;
    let names = Names::new(&prefix, "");
    let rabbit = Rabbit::connect().await;
    let queue = rabbit.subscribe(&names.egress_exchange("orders")).await;

    let (observer, mut progress) = Observer::new();
    let options = load::LoadOptions {
        observer: Some(observer),
        ..platform.load_options(60, 10.0)
    };
    let run = tokio::spawn(load::run(options));
    tokio::time::timeout(
        Duration::from_secs(120),
        progress.wait_for(|stats| stats.sent >= 20),
    )
    .await
    .expect("the run sends its first orders")
    .expect("the run is alive");
    let pid = platform.kill("bridge-1");
    eprintln!("killed bridge-1 (pid {pid}) after 20 orders");
    platform
        .wait_restarted("bridge-1", pid, &platform.bridge_url())
        .await;

    let report = run.await.expect("the run task").expect("the run starts");
    let text = report.render();
    assert!(report.invariants_hold(), "invariants violated:\n{text}");
    assert_eq!(report.outcomes.pending, 0, "{text}");
    let accepted: BTreeSet<Uuid> = report
        .record
        .orders
        .iter()
        .filter(|o| o.kind.is_some())
        .map(|o| o.id)
        .collect();
    assert!(!accepted.is_empty(), "{text}");

    // Every order's placement and outcome arrives on RabbitMQ.
    let codec = EventCodec::new(
        RegistryClient::new(&platform.registry_url(), ClientConfig::default())
            .expect("registry client"),
    );
    let mut seen = Seen::default();
    let mut deliveries = rabbit.consume(&queue).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while !(seen.placed_orders() == accepted && seen.decided_orders() == accepted) {
        assert!(
            Instant::now() < deadline,
            "after 90 s RabbitMQ had {} of {} placements and {} decisions",
            seen.placed.len(),
            accepted.len(),
            seen.decided.len()
        );
        let Ok(next) = tokio::time::timeout(Duration::from_millis(500), deliveries.next()).await
        else {
            continue;
        };
        let delivery = next
            .expect("the test consumer stays open")
            .expect("a delivery");
        let event = codec
            .decode(&delivery.data)
            .await
            .expect("bridged bytes decode through the registry");
        seen.record(&event, &delivery.properties);
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
    }
    eprintln!(
        "{} orders: {} placements and {} decisions on RabbitMQ, {} redelivered after the kill",
        accepted.len(),
        seen.placed.len(),
        seen.decided.len(),
        seen.duplicates()
    );
    rabbit.cleanup(&names, &queue).await;
}

/// What arrived on RabbitMQ, by order id: event ids per order.
#[derive(Default)]
struct Seen {
    placed: BTreeMap<Uuid, BTreeSet<String>>,
    decided: BTreeMap<Uuid, BTreeSet<String>>,
    deliveries: usize,
}

impl Seen {
    fn record(&mut self, event: &AnyEvent, properties: &BasicProperties) {
        self.deliveries += 1;
        let event_id = properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .expect("every bridged message carries its event id");
        assert_eq!(event_id, event.envelope().event_id.to_string());
        match event {
            AnyEvent::OrderPlaced(e) => {
                self.placed.entry(e.order_id).or_default().insert(event_id);
            }
            AnyEvent::OrderConfirmed(e) => {
                self.decided.entry(e.order_id).or_default().insert(event_id);
            }
            AnyEvent::OrderCancelled(e) => {
                self.decided.entry(e.order_id).or_default().insert(event_id);
            }
            _ => {}
        }
    }

    fn placed_orders(&self) -> BTreeSet<Uuid> {
        self.placed.keys().copied().collect()
    }

    fn decided_orders(&self) -> BTreeSet<Uuid> {
        self.decided.keys().copied().collect()
    }

    /// Deliveries beyond one per distinct event (allowed: deduplicable by id).
    fn duplicates(&self) -> usize {
        let distinct: usize = self
            .placed
            .values()
            .chain(self.decided.values())
            .map(BTreeSet::len)
            .sum();
        self.deliveries.saturating_sub(distinct)
    }
}

/// The test's own AMQP connection.
struct Rabbit {
    connection: Connection,
    channel: Channel,
}

impl Rabbit {
    async fn connect() -> Rabbit {
        let connection = Connection::connect(AMQP_URL, ConnectionProperties::default())
            .await
            .expect("RabbitMQ is running (scripts/setup starts it)");
        let channel = connection.create_channel().await.expect("channel");
        Rabbit {
            connection,
            channel,
        }
    }

    /// A pub-sub queue of this test bound to `exchange`, once the bridge has
    /// declared the exchange.
    async fn subscribe(&self, exchange: &str) -> String {
        let queue = unique_name("e2e-bridge-orders");
        self.channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("declare the test queue");
        let connection = &self.connection;
        wait_until(
            Duration::from_secs(60),
            "the bridge declared its exchanges",
            || {
                let (queue, exchange) = (queue.clone(), exchange.to_owned());
                async move {
                    // A failed bind closes its channel: try on a fresh one.
                    let Ok(channel) = connection.create_channel().await else {
                        return false;
                    };
                    channel
                        .queue_bind(
                            queue.as_str().into(),
                            exchange.as_str().into(),
                            "#".into(),
                            QueueBindOptions::default(),
                            FieldTable::default(),
                        )
                        .await
                        .is_ok()
                }
            },
        )
        .await;
        queue
    }

    async fn consume(&self, queue: &str) -> lapin::Consumer {
        self.channel
            .basic_consume(
                queue.into(),
                unique_name("e2e-consumer").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("consume the test queue")
    }

    /// Deletes the test queue and everything the bridge declared under the
    /// test's prefix.
    async fn cleanup(&self, names: &Names, queue: &str) {
        let mut declared = names.declared(tributary_contracts::TOPICS.iter().map(|t| t.name));
        declared.queues.push(queue.to_owned());
        let _ = topology::delete(&self.channel, &declared).await;
    }
}
