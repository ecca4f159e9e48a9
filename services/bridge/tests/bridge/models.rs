//! Queuing and pub-sub on RabbitMQ with the same typed handler the Kafka
//! consumer groups run: competing consumers share one queue (each event
//! handled once overall); separate groups each get every event.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use lapin::BasicProperties;
use tokio_util::sync::CancellationToken;
use tributary_bridge::{QueueType, RabbitConsumer, properties::to_amqp};
use tributary_bus::{Handler, HandlerError, Received, headers::event_headers};
use tributary_contracts::Event as _;
use tributary_testkit::{unique_name, wait_until};
use uuid::Uuid;

use crate::helpers::{TestApp, user};

#[derive(Default)]
struct Recorder(Mutex<HashMap<Uuid, u32>>);

impl Recorder {
    fn total(&self) -> u32 {
        self.0.lock().expect("lock").values().sum()
    }
    fn distinct(&self) -> usize {
        self.0.lock().expect("lock").len()
    }
    fn ids(&self) -> HashMap<Uuid, u32> {
        self.0.lock().expect("lock").clone()
    }
}

#[async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: Received) -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(event.topic, "users");
        *self
            .0
            .lock()
            .expect("lock")
            .entry(event.event.envelope().event_id)
            .or_default() += 1;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queuing_and_pub_sub_on_rabbitmq_with_the_kafka_handler() {
    let app = TestApp::start(QueueType::Quorum).await;
    let mut config = app.config.clone();
    config.topics = vec!["users".into()];
    config.prefetch = 1;
    let stop = CancellationToken::new();
    let shared_group = unique_name("tributary.notifications");
    let other_group = unique_name("tributary.analytics");
    let (a, b, c) = (
        Arc::new(Recorder::default()),
        Arc::new(Recorder::default()),
        Arc::new(Recorder::default()),
    );
    let mut queues = Vec::new();
    let mut tasks = Vec::new();
    for (group, handler) in [(&shared_group, &a), (&shared_group, &b), (&other_group, &c)] {
        let consumer =
            RabbitConsumer::new(&config, group.as_str(), app.codec.clone(), handler.clone())
                .expect("consumer");
        queues.push(consumer.queue());
        tasks.push(tokio::spawn(consumer.run(stop.clone())));
    }
    // Both queues exist and are bound before anything is published.
    for queue in [&queues[0], &queues[2]] {
        let q = queue.clone();
        let amqp = &app.amqp;
        wait_until(
            Duration::from_secs(20),
            "the consumer queues to be declared",
            move || {
                let q = q.clone();
                async move {
                    // A passive declare of a missing queue closes its channel.
                    let Ok(channel) = amqp.create_channel().await else {
                        return false;
                    };
                    channel
                        .queue_declare(
                            q.as_str().into(),
                            lapin::options::QueueDeclareOptions {
                                passive: true,
                                ..Default::default()
                            },
                            Default::default(),
                        )
                        .await
                        .map(|ok| ok.consumer_count() > 0)
                        .unwrap_or(false)
                }
            },
        )
        .await;
    }

    let n = 40;
    for i in 0..n {
        let event = user(i);
        let payload = app.codec.encode(&event).await.expect("encode");
        let headers = event_headers(event.envelope(), "user.registered", None);
        let props: BasicProperties = to_amqp(
            &headers,
            Some(event.key().as_bytes()),
            None,
            "user.registered",
        );
        app.publish(
            &app.names.egress_exchange("users"),
            "user.registered",
            &payload,
            props,
        )
        .await;
    }
    wait_until(
        Duration::from_secs(30),
        "every event handled in both groups",
        || {
            let done = a.distinct() + b.distinct() == n && c.distinct() == n;
            async move { done }
        },
    )
    .await;
    stop.cancel();
    for task in tasks {
        task.await.expect("consumer task");
    }
    // Queuing: the two competing consumers split the events, none twice.
    assert_eq!(a.total() + b.total(), n as u32);
    assert!(
        a.distinct() > 0 && b.distinct() > 0,
        "both competing consumers got work"
    );
    assert!(a.ids().keys().all(|id| !b.ids().contains_key(id)));
    // Pub-sub: the other group saw every event.
    assert_eq!(c.distinct(), n);

    for q in &queues {
        let _ = app
            .channel
            .queue_delete(format!("{q}.dead").as_str().into(), Default::default())
            .await;
        let _ = app
            .channel
            .exchange_delete(format!("{q}.dlx").as_str().into(), Default::default())
            .await;
    }
    queues.dedup();
    app.cleanup(&queues.iter().map(String::as_str).collect::<Vec<_>>())
        .await;
}
