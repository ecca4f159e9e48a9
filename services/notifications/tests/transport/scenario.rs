//! One scenario, any transport: the behaviour the service must show whether
//! it consumes from Kafka or from RabbitMQ.

use std::{collections::HashMap, time::Duration};

use async_trait::async_trait;
use tributary_bus::headers::{MessageHeaders, event_headers};
use tributary_contracts::{
    Envelope, Event,
    events::{CancellationReason, NotificationKind, OrderCancelled, OrderConfirmed},
};
use tributary_testkit::wait_until;
use uuid::Uuid;

use crate::helpers::{Env, Running};

/// How the test puts messages where the service consumes them.
#[async_trait]
pub trait Feed: Send + Sync {
    /// Publishes one message of contract topic `topic` as the platform
    /// does: on Kafka as the producer writes it, on RabbitMQ as the
    /// bridge's egress forwards it.
    async fn publish(
        &self,
        topic: &str,
        event_type: &str,
        key: &[u8],
        payload: &[u8],
        headers: &MessageHeaders,
    );

    /// Messages of topic `topic` the service gave up on (dead-letter topic
    /// or queue).
    async fn dead_letters(&self, topic: &str) -> u64;
}

/// Encodes `event` (Confluent-framed Avro) and publishes it with its
/// headers and key.
async fn publish<E: Event>(env: &Env, feed: &dyn Feed, event: &E) {
    let payload = env.codec.encode(event).await.expect("encode");
    let headers = event_headers(event.envelope(), E::EVENT_TYPE, None);
    feed.publish(
        E::TOPIC,
        E::EVENT_TYPE,
        event.key().as_bytes(),
        &payload,
        &headers,
    )
    .await;
}

fn confirmed() -> OrderConfirmed {
    let order_id = Uuid::new_v4();
    OrderConfirmed {
        envelope: Envelope::originating("orders", order_id.to_string(), 1_700_000_000_000),
        order_id,
        customer_id: Uuid::new_v4(),
        total_cents: 4_200,
    }
}

fn cancelled() -> OrderCancelled {
    let order_id = Uuid::new_v4();
    OrderCancelled {
        envelope: Envelope::originating("orders", order_id.to_string(), 1_700_000_000_000),
        order_id,
        customer_id: Uuid::new_v4(),
        reason: CancellationReason::PaymentDeclined,
        detail: None,
    }
}

/// Order A confirmed (published twice: a redelivery), order B cancelled, a
/// message that is no event at all, then order C confirmed: exactly one
/// notification per order, the poison message dead-lettered, and the
/// service still consuming (C) and ready afterwards.
pub async fn one_notification_per_order(env: &Env, app: &Running, feed: &dyn Feed) {
    app.wait_ready().await;
    let (a, b, c) = (confirmed(), cancelled(), confirmed());
    publish(env, feed, &a).await;
    publish(env, feed, &a).await;
    publish(env, feed, &b).await;
    let poison = event_headers(&a.envelope, OrderConfirmed::EVENT_TYPE, None);
    feed.publish(
        "orders",
        OrderConfirmed::EVENT_TYPE,
        a.order_id.to_string().as_bytes(),
        b"not a framed avro event",
        &poison,
    )
    .await;
    publish(env, feed, &c).await;

    let orders = [a.order_id, b.order_id, c.order_id];
    wait_until(
        Duration::from_secs(60),
        "a notification per order, the duplicate skipped, the poison dead-lettered",
        || async {
            let delivered = app.channel.delivered();
            orders
                .iter()
                .all(|id| delivered.iter().any(|n| n.subject_id == *id))
                && app.duplicates("orders") >= 1
                && feed.dead_letters("orders").await == 1
        },
    )
    .await;

    let mut per_order: HashMap<Uuid, Vec<NotificationKind>> = HashMap::new();
    for n in app.channel.delivered() {
        per_order.entry(n.subject_id).or_default().push(n.kind);
    }
    assert_eq!(per_order.len(), 3, "{per_order:?}");
    assert_eq!(per_order[&a.order_id], [NotificationKind::OrderConfirmed]);
    assert_eq!(per_order[&b.order_id], [NotificationKind::OrderCancelled]);
    assert_eq!(per_order[&c.order_id], [NotificationKind::OrderConfirmed]);
    assert_eq!(app.duplicates("orders"), 1);
    assert!(
        app.get("/health/ready").await.starts_with("HTTP/1.1 200"),
        "still ready after the poison message"
    );
}
