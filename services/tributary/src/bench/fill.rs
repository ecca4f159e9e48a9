//! Filling a topic with a backlog of framed events, fast: a raw producer
//! with big batches and many messages in flight. Not a measurement, only the
//! set-up of the consumer benchmarks.

use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream::FuturesUnordered};
use rdkafka::{
    error::KafkaError,
    producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer as _},
    types::RDKafkaErrorCode,
};
use tributary_bus::headers::event_headers;
use tributary_contracts::{Event as _, encode_body, events::OrderPlaced, frame};

use super::{
    BenchEnv, BenchError,
    fixtures::{Payload, order_placed},
};

/// Messages waiting for their delivery report at most; bounds the filler's
/// own memory while keeping librdkafka's batches full.
const WINDOW: usize = 100_000;
/// How long the final flush may take.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// What was written.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Backlog {
    pub events: u64,
    /// Framed payload bytes (headers and keys not counted).
    pub payload_bytes: u64,
    pub elapsed_ms: u128,
}

/// Writes `events` framed `OrderPlaced` events, with the headers the typed
/// producer adds, to `topic`.
pub(crate) async fn fill_backlog(
    env: &BenchEnv,
    topic: &str,
    events: u64,
    payload: Payload,
) -> Result<Backlog, BenchError> {
    let schema_id = env
        .registry()
        .register(&OrderPlaced::subject(), OrderPlaced::SCHEMA_JSON)
        .await?;
    let mut client = env.bus_config().producer_client_config();
    client
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000");
    let producer: FutureProducer = client.create().map_err(BenchError::kafka("filler"))?;

    let started = Instant::now();
    let mut in_flight = FuturesUnordered::new();
    let mut payload_bytes = 0_u64;
    for seq in 0..events {
        let event = order_placed(seq, payload);
        let framed = frame(schema_id, &encode_body(&event)?);
        payload_bytes += framed.len() as u64;
        let key = event.order_id.to_string();
        let headers = event_headers(&event.envelope, OrderPlaced::EVENT_TYPE, None).to_kafka();
        let mut record = FutureRecord::to(topic)
            .key(key.as_bytes())
            .payload(framed.as_slice())
            .headers(headers);
        loop {
            if in_flight.len() >= WINDOW {
                settle_one(&mut in_flight).await?;
            }
            match producer.send_result(record) {
                Ok(delivery) => {
                    in_flight.push(delivery);
                    break;
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    if in_flight.is_empty() {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    } else {
                        settle_one(&mut in_flight).await?;
                    }
                }
                Err((source, _)) => return Err(BenchError::kafka("filler send")(source)),
            }
        }
        if (seq + 1) % 100_000 == 0 {
            tracing::info!(topic, written = seq + 1, of = events, "filling the backlog");
        }
    }
    while !in_flight.is_empty() {
        settle_one(&mut in_flight).await?;
    }
    let flusher = producer.clone();
    tokio::task::spawn_blocking(move || flusher.flush(FLUSH_TIMEOUT))
        .await
        .map_err(|e| BenchError::Task {
            what: "filler flush",
            detail: e.to_string(),
        })?
        .map_err(BenchError::kafka("filler flush"))?;
    Ok(Backlog {
        events,
        payload_bytes,
        elapsed_ms: started.elapsed().as_millis(),
    })
}

async fn settle_one(in_flight: &mut FuturesUnordered<DeliveryFuture>) -> Result<(), BenchError> {
    match in_flight.next().await {
        None | Some(Ok(Ok(_))) => Ok(()),
        Some(Ok(Err((source, _)))) => Err(BenchError::kafka("filler delivery")(source)),
        Some(Err(_canceled)) => Err(BenchError::kafka("filler delivery")(KafkaError::Canceled)),
    }
}
