//! The scenario on Kafka: the default transport, as a reference.

use std::time::Duration;

use async_trait::async_trait;
use rdkafka::{
    ClientConfig,
    consumer::{BaseConsumer, Consumer as _},
};
use tributary_bus::{RawProducer, consumer::dlq_topic, headers::MessageHeaders};
use tributary_service::KafkaSources;
use tributary_telemetry::Metrics;

use crate::{
    helpers::{Env, GROUP, Running},
    scenario::{Feed, one_notification_per_order},
};

/// Produces to the broker as the platform's services do; dead letters are
/// the group's DLQ topic.
pub struct KafkaFeed {
    producer: RawProducer,
    bootstrap: String,
}

impl KafkaFeed {
    pub async fn connect(env: &Env) -> KafkaFeed {
        KafkaFeed {
            producer: RawProducer::connect(&env.config().bus, Metrics::new())
                .await
                .expect("producer"),
            bootstrap: env.broker.bootstrap_servers().to_owned(),
        }
    }
}

#[async_trait]
impl Feed for KafkaFeed {
    async fn publish(
        &self,
        topic: &str,
        _event_type: &str,
        key: &[u8],
        payload: &[u8],
        headers: &MessageHeaders,
    ) {
        self.producer
            .send_raw(topic, Some(key), payload, headers)
            .await
            .expect("produce");
    }

    async fn dead_letters(&self, topic: &str) -> u64 {
        let bootstrap = self.bootstrap.clone();
        let dlq = dlq_topic(topic, GROUP);
        tokio::task::spawn_blocking(move || message_count(&bootstrap, &dlq))
            .await
            .expect("watermark task")
    }
}

/// Messages in `topic` (0 while it does not exist yet).
fn message_count(bootstrap: &str, topic: &str) -> u64 {
    let Ok(consumer) = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create::<BaseConsumer>()
    else {
        return 0;
    };
    let Ok(metadata) = consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) else {
        return 0;
    };
    let mut total = 0;
    for t in metadata.topics() {
        for p in t.partitions() {
            if let Ok((low, high)) =
                consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(5))
            {
                total += u64::try_from(high - low).unwrap_or(0);
            }
        }
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_kafka_one_notification_per_order_and_poison_to_the_dlq_topic() {
    let env = Env::start().await;
    let app = Running::start(&env, &KafkaSources::new(env.config().bus)).await;
    let feed = KafkaFeed::connect(&env).await;
    one_notification_per_order(&env, &app, &feed).await;
    app.stop().await;
}
