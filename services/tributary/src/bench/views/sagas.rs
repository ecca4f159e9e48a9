//! The backlog of `bench views`: whole order sagas, as the services would
//! have published them, on private copies of the three topics the orders
//! service consumes.
//!
//! Every saga is coherent: reactions carry the ids the reacting service
//! would derive from their cause (`Envelope::caused_by` with the services'
//! own step names), so the orders service recognises the `OrderConfirmed` /
//! `OrderCancelled` in the backlog as the terminal events it decided itself
//! instead of adopting someone else's decision. Record timestamps increase
//! by one millisecond per event in saga order, which makes the rebuild's
//! timestamp merge replay exactly the production order.

use std::{collections::BTreeMap, time::Duration};

use futures::{StreamExt as _, channel::oneshot::Canceled, stream::FuturesOrdered};
use rdkafka::{
    error::KafkaError,
    producer::{
        DeliveryFuture, FutureProducer, FutureRecord, future_producer::OwnedDeliveryResult,
    },
    types::RDKafkaErrorCode,
};
use serde::Serialize;
use tributary_bus::{EventCodec, headers::event_headers};
use tributary_contracts::{
    Envelope,
    events::{
        AnyEvent, CancellationReason, OrderCancelled, OrderConfirmed, OrderPlaced,
        PaymentAuthorized, PaymentDeclined, ReservedLine, StockRejected, StockReleased,
        StockReserved, StockShortfall,
    },
};
use tributary_orders::domain::{PRODUCER as ORDERS, STEP_CANCEL, STEP_CONFIRM};
use uuid::Uuid;

use crate::{
    bench::{
        BenchEnv, BenchError, Payload,
        fixtures::{order_placed, released_lines},
    },
    ops::reader::RawRecord,
};

/// Messages waiting for their delivery report at most while filling.
const WINDOW: usize = 10_000;
/// Step names of the inventory's and the payments' reactions (their
/// services' own constants are private; only the orders' steps decide ids
/// that the orders projector compares).
const STEP_RESERVE: &str = "inventory.reserve";
const STEP_RELEASE: &str = "inventory.release";
const STEP_AUTHORIZE: &str = "payments.authorize";
/// Unit prices of the fixture SKUs, by position in the order's lines.
const PRICES_CENTS: [i64; 3] = [4_999, 27_900, 1_299];

/// The private topics standing in for `orders`, `inventory` and `payments`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SagaTopics {
    pub orders: &'static str,
    pub inventory: &'static str,
    pub payments: &'static str,
}

impl SagaTopics {
    /// The private topic for an event's contract topic.
    fn of(&self, event: &AnyEvent) -> &'static str {
        match event.topic() {
            "inventory" => self.inventory,
            "payments" => self.payments,
            _ => self.orders,
        }
    }

    pub(crate) fn all(&self) -> Vec<&'static str> {
        vec![self.orders, self.inventory, self.payments]
    }
}

/// How the sagas of the backlog end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SagaMix {
    /// Reserved, authorized, confirmed (4 events).
    pub confirmed: u64,
    /// Reserved, declined, cancelled, released (5 events).
    pub payment_declined: u64,
    /// Rejected for want of stock, cancelled (3 events).
    pub stock_rejected: u64,
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Confirmed,
    PaymentDeclined,
    StockRejected,
}

impl Ending {
    /// 7 in 10 orders are confirmed, 2 declined by the payment provider, 1
    /// rejected for want of stock.
    fn of(seq: u64) -> Ending {
        match seq % 10 {
            7 | 8 => Ending::PaymentDeclined,
            9 => Ending::StockRejected,
            _ => Ending::Confirmed,
        }
    }
}

/// What was written, in production order.
#[derive(Debug)]
pub(crate) struct Filled {
    /// Every record with the partition and offset the broker gave it.
    pub records: Vec<RawRecord>,
    pub mix: SagaMix,
    /// Events per private topic.
    pub by_topic: BTreeMap<String, u64>,
    /// Confluent-framed payload bytes.
    pub payload_bytes: u64,
}

/// The events of the `seq`-th saga, timestamps from `first_ms` on, one
/// millisecond apart.
fn saga(seq: u64, first_ms: i64) -> Vec<AnyEvent> {
    let mut at = first_ms;
    let mut next = || {
        let t = at;
        at += 1;
        t
    };
    let mut placed: OrderPlaced = order_placed(seq, Payload::Realistic);
    placed.envelope.occurred_at = next();
    let (order_id, customer_id) = (placed.order_id, placed.customer_id);
    let mut events = vec![AnyEvent::OrderPlaced(placed.clone())];
    let ending = Ending::of(seq);

    if let Ending::StockRejected = ending {
        let line = &placed.lines[0];
        let rejected = StockRejected {
            envelope: Envelope::caused_by(&placed.envelope, STEP_RESERVE, "inventory", next()),
            order_id,
            customer_id,
            reason: "insufficient stock".to_owned(),
            shortfalls: vec![StockShortfall {
                sku: line.sku.clone(),
                requested: line.quantity,
                available: 0,
            }],
        };
        let cancelled = OrderCancelled {
            envelope: Envelope::caused_by(&rejected.envelope, STEP_CANCEL, ORDERS, next()),
            order_id,
            customer_id,
            reason: CancellationReason::StockRejected,
            detail: Some(rejected.reason.clone()),
        };
        events.push(AnyEvent::StockRejected(rejected));
        events.push(AnyEvent::OrderCancelled(cancelled));
        return events;
    }

    let lines: Vec<ReservedLine> = placed
        .lines
        .iter()
        .zip(PRICES_CENTS.iter().cycle())
        .map(|(line, &unit_price_cents)| ReservedLine {
            sku: line.sku.clone(),
            quantity: line.quantity,
            unit_price_cents,
        })
        .collect();
    let total_cents = lines
        .iter()
        .map(|l| l.unit_price_cents * i64::from(l.quantity))
        .sum();
    let reserved = StockReserved {
        envelope: Envelope::caused_by(&placed.envelope, STEP_RESERVE, "inventory", next()),
        order_id,
        customer_id,
        lines,
        total_cents,
    };
    if let Ending::PaymentDeclined = ending {
        let declined = PaymentDeclined {
            envelope: Envelope::caused_by(&reserved.envelope, STEP_AUTHORIZE, "payments", next()),
            order_id,
            customer_id,
            amount_cents: total_cents,
            reason: "insufficient_funds".to_owned(),
        };
        let cancelled = OrderCancelled {
            envelope: Envelope::caused_by(&declined.envelope, STEP_CANCEL, ORDERS, next()),
            order_id,
            customer_id,
            reason: CancellationReason::PaymentDeclined,
            detail: Some(declined.reason.clone()),
        };
        let released = StockReleased {
            envelope: Envelope::caused_by(&declined.envelope, STEP_RELEASE, "inventory", next()),
            order_id,
            lines: released_lines(&placed),
            reason: "payment_declined".to_owned(),
        };
        events.push(AnyEvent::StockReserved(reserved));
        events.push(AnyEvent::PaymentDeclined(declined));
        events.push(AnyEvent::OrderCancelled(cancelled));
        events.push(AnyEvent::StockReleased(released));
        return events;
    }

    let authorized = PaymentAuthorized {
        envelope: Envelope::caused_by(&reserved.envelope, STEP_AUTHORIZE, "payments", next()),
        order_id,
        customer_id,
        payment_id: Uuid::new_v4(),
        amount_cents: total_cents,
        provider_reference: format!("ch_{}", Uuid::new_v4().simple()),
    };
    let confirmed = OrderConfirmed {
        envelope: Envelope::caused_by(&authorized.envelope, STEP_CONFIRM, ORDERS, next()),
        order_id,
        customer_id,
        total_cents,
    };
    events.push(AnyEvent::StockReserved(reserved));
    events.push(AnyEvent::PaymentAuthorized(authorized));
    events.push(AnyEvent::OrderConfirmed(confirmed));
    events
}

/// A record and the broker's answer to its send.
type Settled = (RawRecord, Result<OwnedDeliveryResult, Canceled>);

/// Writes `orders` sagas to `topics` with the headers the typed producer
/// adds and returns every record with its broker coordinates, in
/// production order.
pub(crate) async fn fill(
    env: &BenchEnv,
    codec: &EventCodec,
    topics: SagaTopics,
    orders: u64,
) -> Result<Filled, BenchError> {
    let mut client = env.bus_config().producer_client_config();
    client
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000");
    let producer: FutureProducer = client.create().map_err(BenchError::kafka("saga filler"))?;

    // Strictly increasing and in the past: 5 ms per saga is more than any
    // saga's length.
    let mut at =
        now_ms() - i64::try_from(orders.saturating_mul(5)).unwrap_or(i64::MAX / 2) - 60_000;
    let mut in_flight = FuturesOrdered::new();
    let mut filled = Filled {
        records: Vec::new(),
        mix: SagaMix::default(),
        by_topic: BTreeMap::new(),
        payload_bytes: 0,
    };
    for seq in 0..orders {
        let events = saga(seq, at);
        match Ending::of(seq) {
            Ending::Confirmed => filled.mix.confirmed += 1,
            Ending::PaymentDeclined => filled.mix.payment_declined += 1,
            Ending::StockRejected => filled.mix.stock_rejected += 1,
        }
        for event in events {
            at = event.envelope().occurred_at + 1;
            let topic = topics.of(&event);
            let payload = codec.encode_any(&event).await?;
            let key = event.key().into_owned();
            let headers = event_headers(event.envelope(), event.event_type(), None);
            let timestamp = event.envelope().occurred_at;
            filled.payload_bytes += payload.len() as u64;
            *filled.by_topic.entry(topic.to_owned()).or_default() += 1;
            let mut record = FutureRecord::to(topic)
                .key(key.as_bytes())
                .payload(payload.as_slice())
                .timestamp(timestamp)
                .headers(headers.to_kafka());
            let delivery = loop {
                if in_flight.len() >= WINDOW {
                    settle_one(&mut in_flight, &mut filled.records).await?;
                }
                match producer.send_result(record) {
                    Ok(delivery) => break delivery,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        record = back;
                        settle_one(&mut in_flight, &mut filled.records).await?;
                    }
                    Err((source, _)) => return Err(BenchError::kafka("saga filler send")(source)),
                }
            };
            let record = RawRecord {
                topic: topic.to_owned(),
                partition: -1,
                offset: -1,
                timestamp_ms: Some(timestamp),
                key: Some(key.into_bytes()),
                payload: Some(payload),
                headers,
            };
            in_flight.push_back(settle(record, delivery));
        }
    }
    while !in_flight.is_empty() {
        settle_one(&mut in_flight, &mut filled.records).await?;
    }
    Ok(filled)
}

async fn settle(record: RawRecord, delivery: DeliveryFuture) -> Settled {
    (record, delivery.await)
}

/// Waits for the oldest send and records where it landed.
async fn settle_one<F>(
    in_flight: &mut FuturesOrdered<F>,
    records: &mut Vec<RawRecord>,
) -> Result<(), BenchError>
where
    F: Future<Output = Settled>,
{
    let Some((mut record, outcome)) = in_flight.next().await else {
        // Nothing of ours in flight, yet librdkafka's queue is full (of the
        // idempotent producer's own retries): give it a moment.
        tokio::time::sleep(Duration::from_millis(5)).await;
        return Ok(());
    };
    match outcome {
        Ok(Ok(delivery)) => {
            record.partition = delivery.partition;
            record.offset = delivery.offset;
            records.push(record);
            Ok(())
        }
        Ok(Err((source, _))) => Err(BenchError::kafka("saga filler delivery")(source)),
        Err(_canceled) => Err(BenchError::kafka("saga filler delivery")(
            KafkaError::Canceled,
        )),
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use tributary_contracts::derived_event_id;

    use super::*;

    #[test]
    fn sagas_end_as_the_mix_says_with_the_orders_services_own_ids() {
        let lengths: Vec<usize> = (0..10).map(|seq| saga(seq, 0).len()).collect();
        assert_eq!(lengths, [4, 4, 4, 4, 4, 4, 4, 5, 5, 3]);

        let confirmed = saga(0, 1_000);
        let (AnyEvent::PaymentAuthorized(authorized), AnyEvent::OrderConfirmed(done)) =
            (&confirmed[2], &confirmed[3])
        else {
            panic!("unexpected saga {confirmed:?}");
        };
        assert_eq!(
            done.envelope.event_id,
            derived_event_id(authorized.envelope.event_id, STEP_CONFIRM)
        );
        let times: Vec<i64> = confirmed.iter().map(|e| e.envelope().occurred_at).collect();
        assert_eq!(times, [1_000, 1_001, 1_002, 1_003]);
        let order_ids: Vec<String> = confirmed.iter().map(|e| e.key().into_owned()).collect();
        assert!(
            order_ids.iter().all(|k| *k == order_ids[0]),
            "{order_ids:?}"
        );

        let declined = saga(7, 0);
        assert!(matches!(
            &declined[3],
            AnyEvent::OrderCancelled(c) if c.reason == CancellationReason::PaymentDeclined
        ));
        for event in confirmed.iter().chain(&declined).chain(&saga(9, 0)) {
            event
                .encode_body()
                .expect("every saga event fits its schema");
        }
    }
}
