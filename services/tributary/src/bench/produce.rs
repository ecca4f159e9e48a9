//! `tributary bench produce`: our typed produce path against raw rdkafka.
//!
//! - **Ours**: `EventProducer::send` of `OrderPlaced` events, i.e. Avro
//!   encoding, framing, CloudEvents and trace headers, the send span,
//!   metrics, and waiting for the delivery report.
//! - **Raw**: a `FutureProducer` created from the very same librdkafka
//!   configuration (idempotent, `acks=all`, same linger and timeouts)
//!   sending the same framed bytes with the same key and headers, prepared
//!   before the clock starts.
//!
//! Both run at the same concurrency (1 send in flight, then `in_flight`
//! sends in flight through `buffer_unordered`), alternating which goes first
//! each round. A third line, raw with every message in flight at once, shows
//! what the broker itself can take.

use std::time::{Duration, Instant};

use futures::{
    StreamExt as _, TryStreamExt as _, channel::oneshot::Canceled, stream, stream::FuturesUnordered,
};
use rdkafka::{
    error::KafkaError,
    message::OwnedHeaders,
    producer::{FutureProducer, FutureRecord, future_producer::OwnedDeliveryResult},
    types::RDKafkaErrorCode,
};
use serde::Serialize;
use tributary_bus::{EventCodec, EventProducer, headers::event_headers};
use tributary_contracts::{Event as _, TOPICS, events::OrderPlaced};
use tributary_telemetry::Metrics;

use super::{
    BenchEnv, BenchError, CpuPerEvent, Payload, Table,
    cpu::CpuMeter,
    env::unique_name,
    error::bounded,
    fixtures::order_placed,
    report::{thousands, times},
    stats::{median, rate, ratio},
};

/// Upper bound on one side of one round.
const SIDE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a raw send may wait for room in librdkafka's queue.
const QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// The throughput goal for our path relative to raw rdkafka.
pub const GOAL: f64 = 0.9;

/// What to run.
#[derive(Debug, Clone)]
pub struct ProduceOptions {
    /// Events per side per round at `in_flight` concurrency.
    pub events: u64,
    /// Events per side per round with one send in flight (each send waits
    /// for its delivery report, so this is latency-bound: keep it small).
    pub sequential_events: u64,
    /// Sends in flight in the pipelined variant.
    pub in_flight: usize,
    pub rounds: usize,
    pub payload: Payload,
    /// Events each side sends before the first round (connections, producer
    /// id, schema registration, caches).
    pub warmup: u64,
}

/// One variant's figures: per-round rates and their medians.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub name: String,
    pub in_flight: usize,
    pub events: u64,
    pub ours_events_per_sec: Vec<f64>,
    pub raw_events_per_sec: Vec<f64>,
    pub ratio_by_round: Vec<f64>,
    pub ours_median: f64,
    pub raw_median: f64,
    /// Median of the per-round ratios (each round measured both sides).
    pub ratio_median: f64,
    /// CPU per event of the client process and the broker, per round.
    pub ours_cpu: Vec<CpuPerEvent>,
    pub raw_cpu: Vec<CpuPerEvent>,
    /// Medians of the above.
    pub ours_cpu_median: CpuPerEvent,
    pub raw_cpu_median: CpuPerEvent,
    /// What the raw side gets for free: encoding, headers and a trace
    /// context per event, done before its clock starts (µs/event, median).
    pub prepare_us_per_event: f64,
    #[serde(skip)]
    prepare_samples: Vec<f64>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ProduceReport {
    pub environment: String,
    pub payload: Payload,
    pub framed_bytes_per_event: usize,
    pub rounds: usize,
    pub variants: Vec<VariantReport>,
    /// Raw rdkafka with every message of a round in flight at once: the
    /// broker's ceiling on this machine, for reference.
    pub raw_all_in_flight_events_per_sec: Vec<f64>,
    pub raw_all_in_flight_median: f64,
    pub goal: f64,
}

impl ProduceReport {
    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "variant",
            "in flight",
            "events",
            "ours events/s",
            "raw events/s",
            "ratio (median)",
            "ratio by round",
            "goal",
            "client CPU µs/event ours / raw",
            "broker CPU µs/event ours / raw",
            "encode+headers µs/event",
        ]);
        for v in &self.variants {
            table.row([
                v.name.clone(),
                v.in_flight.to_string(),
                v.events.to_string(),
                thousands(v.ours_median),
                thousands(v.raw_median),
                times(v.ratio_median),
                v.ratio_by_round
                    .iter()
                    .map(|r| format!("{r:.2}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                goal_cell(v.ratio_median, self.goal),
                format!(
                    "{:.1} / {:.1}",
                    v.ours_cpu_median.client_us, v.raw_cpu_median.client_us
                ),
                match (v.ours_cpu_median.broker_us, v.raw_cpu_median.broker_us) {
                    (Some(o), Some(r)) => format!("{o:.1} / {r:.1}"),
                    _ => "-".to_owned(),
                },
                format!("{:.1}", v.prepare_us_per_event),
            ]);
        }
        table.row([
            "raw, all in flight (reference)".to_owned(),
            "all".to_owned(),
            self.variants
                .last()
                .map(|v| v.events.to_string())
                .unwrap_or_default(),
            String::new(),
            thousands(self.raw_all_in_flight_median),
        ]);
        table
    }
}

pub(crate) fn goal_cell(value: f64, goal: f64) -> String {
    if value >= goal {
        format!("≥ {goal} met")
    } else {
        format!("≥ {goal} NOT met")
    }
}

/// A record as the raw side sends it, built before the clock starts.
struct RawRecord {
    key: String,
    payload: Vec<u8>,
    headers: OwnedHeaders,
}

/// The two producers under test.
struct Sides {
    ours: EventProducer,
    raw: FutureProducer,
    codec: EventCodec,
    raw_topic: String,
    broker_pid: Option<u32>,
}

/// Wall-clock time of one side's run, and its CPU meter.
type Timed = (Duration, CpuMeter);

pub async fn run(env: &BenchEnv, options: &ProduceOptions) -> Result<ProduceReport, BenchError> {
    if options.rounds == 0 || options.events == 0 || options.in_flight == 0 {
        return Err(BenchError::Argument {
            arg: "--rounds/--events/--in-flight",
            detail: "must be at least 1".to_owned(),
        });
    }
    // The typed path publishes to the contract topic; the raw side gets a
    // topic of its own with the same partition count, so both logs grow alike.
    let partitions = TOPICS
        .iter()
        .find(|t| t.name == OrderPlaced::TOPIC)
        .map_or(12, |t| t.partitions);
    if !env.owns_broker() {
        tracing::warn!(
            topic = OrderPlaced::TOPIC,
            "the typed side publishes benchmark OrderPlaced events to the contract topic of this existing broker"
        );
    }
    env.create_topic(OrderPlaced::TOPIC, partitions).await?;
    let raw_topic = unique_name("bench-produce-raw");
    env.create_topic(&raw_topic, partitions).await?;

    let config = env.bus_config();
    let codec = EventCodec::new(env.registry().clone());
    let sides = Sides {
        ours: EventProducer::connect(&config, codec.clone(), Metrics::new()).await?,
        raw: config
            .producer_client_config()
            .create()
            .map_err(BenchError::kafka("raw producer"))?,
        codec,
        raw_topic,
        broker_pid: env.broker_pid(),
    };

    let framed_bytes_per_event = sides
        .codec
        .encode(&order_placed(0, options.payload))
        .await?
        .len();
    if options.warmup > 0 {
        let events = fresh_events(options.warmup, options.payload);
        sides.send_ours(&events, options.in_flight).await?;
        let records = sides.raw_records(&events).await?;
        sides.send_raw(records, options.in_flight).await?;
    }

    let plan = [
        ("one at a time", 1, options.sequential_events.max(1)),
        ("pipelined", options.in_flight, options.events),
    ];
    let mut variants: Vec<VariantReport> = plan
        .iter()
        .map(|(name, k, n)| VariantReport {
            name: (*name).to_owned(),
            in_flight: *k,
            events: *n,
            ours_events_per_sec: Vec::new(),
            raw_events_per_sec: Vec::new(),
            ratio_by_round: Vec::new(),
            ours_median: 0.0,
            raw_median: 0.0,
            ratio_median: 0.0,
            ours_cpu: Vec::new(),
            raw_cpu: Vec::new(),
            ours_cpu_median: CpuPerEvent::default(),
            raw_cpu_median: CpuPerEvent::default(),
            prepare_us_per_event: 0.0,
            prepare_samples: Vec::new(),
        })
        .collect();
    let mut burst = Vec::new();

    for round in 0..options.rounds {
        for variant in &mut variants {
            let events = fresh_events(variant.events, options.payload);
            let preparing = Instant::now();
            let records = sides.raw_records(&events).await?;
            variant
                .prepare_samples
                .push(preparing.elapsed().as_secs_f64() * 1e6 / variant.events as f64);
            let n = variant.events;
            let ((ours, ours_cpu), (raw, raw_cpu)) = if round % 2 == 0 {
                let ours = sides.send_ours(&events, variant.in_flight).await?;
                (ours, sides.send_raw(records, variant.in_flight).await?)
            } else {
                let raw = sides.send_raw(records, variant.in_flight).await?;
                (sides.send_ours(&events, variant.in_flight).await?, raw)
            };
            variant.ours_cpu.push(ours_cpu.per_event(n));
            variant.raw_cpu.push(raw_cpu.per_event(n));
            let (ours, raw) = (rate(n, ours), rate(n, raw));
            tracing::info!(
                round,
                variant = %variant.name,
                ours = ours.round(),
                raw = raw.round(),
                ratio = ratio(ours, raw),
                "produce round"
            );
            variant.ours_events_per_sec.push(ours);
            variant.raw_events_per_sec.push(raw);
            variant.ratio_by_round.push(ratio(ours, raw));
        }
        let events = fresh_events(options.events, options.payload);
        let records = sides.raw_records(&events).await?;
        burst.push(rate(options.events, sides.send_raw_burst(records).await?.0));
    }
    for v in &mut variants {
        v.ours_median = median(&v.ours_events_per_sec).unwrap_or(0.0);
        v.raw_median = median(&v.raw_events_per_sec).unwrap_or(0.0);
        v.ratio_median = median(&v.ratio_by_round).unwrap_or(0.0);
        v.ours_cpu_median = median_cpu(&v.ours_cpu);
        v.raw_cpu_median = median_cpu(&v.raw_cpu);
        v.prepare_us_per_event = median(&v.prepare_samples).unwrap_or(0.0);
    }
    Ok(ProduceReport {
        environment: env.describe(),
        payload: options.payload,
        framed_bytes_per_event,
        rounds: options.rounds,
        variants,
        raw_all_in_flight_median: median(&burst).unwrap_or(0.0),
        raw_all_in_flight_events_per_sec: burst,
        goal: GOAL,
    })
}

pub(crate) fn median_cpu(samples: &[CpuPerEvent]) -> CpuPerEvent {
    let client: Vec<f64> = samples.iter().map(|c| c.client_us).collect();
    let broker: Vec<f64> = samples.iter().filter_map(|c| c.broker_us).collect();
    CpuPerEvent {
        client_us: median(&client).unwrap_or(0.0),
        broker_us: median(&broker),
    }
}

fn fresh_events(n: u64, payload: Payload) -> Vec<OrderPlaced> {
    (0..n).map(|seq| order_placed(seq, payload)).collect()
}

impl Sides {
    /// Our path, `k` sends in flight; the time until every delivery report.
    async fn send_ours(&self, events: &[OrderPlaced], k: usize) -> Result<Timed, BenchError> {
        bounded("typed produce", SIDE_TIMEOUT, async {
            let cpu = CpuMeter::start(self.broker_pid);
            let started = Instant::now();
            stream::iter(events)
                .map(|event| self.ours.send(event))
                .buffer_unordered(k)
                .try_for_each(|_| futures::future::ready(Ok(())))
                .await?;
            Ok((started.elapsed(), cpu))
        })
        .await
    }

    /// The same framed bytes, key and headers our path would send, with the
    /// trace header of a fresh span as ours carries one.
    async fn raw_records(&self, events: &[OrderPlaced]) -> Result<Vec<RawRecord>, BenchError> {
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let span = tracing::info_span!("bench_send");
            let trace = tributary_telemetry::inject(&span);
            records.push(RawRecord {
                key: event.order_id.to_string(),
                payload: self.codec.encode(event).await?,
                headers: event_headers(&event.envelope, OrderPlaced::EVENT_TYPE, trace).to_kafka(),
            });
        }
        Ok(records)
    }

    /// Raw rdkafka, `k` sends in flight; the time until every delivery report.
    async fn send_raw(&self, records: Vec<RawRecord>, k: usize) -> Result<Timed, BenchError> {
        let topic = self.raw_topic.as_str();
        let raw = &self.raw;
        bounded("raw produce", SIDE_TIMEOUT, async {
            let cpu = CpuMeter::start(self.broker_pid);
            let started = Instant::now();
            stream::iter(records)
                .map(|r| async move {
                    let record = FutureRecord::to(topic)
                        .key(r.key.as_bytes())
                        .payload(r.payload.as_slice())
                        .headers(r.headers);
                    raw.send(record, QUEUE_TIMEOUT)
                        .await
                        .map_err(|(source, _)| BenchError::kafka("raw delivery")(source))
                })
                .buffer_unordered(k)
                .try_for_each(|_| futures::future::ready(Ok(())))
                .await?;
            Ok((started.elapsed(), cpu))
        })
        .await
    }

    /// Raw rdkafka, everything enqueued at once (as long as librdkafka's
    /// queue has room), then every delivery report awaited.
    async fn send_raw_burst(&self, records: Vec<RawRecord>) -> Result<Timed, BenchError> {
        bounded("raw produce (all in flight)", SIDE_TIMEOUT, async {
            let cpu = CpuMeter::start(self.broker_pid);
            let started = Instant::now();
            let mut reports = FuturesUnordered::new();
            for r in records {
                let mut record = FutureRecord::to(self.raw_topic.as_str())
                    .key(r.key.as_bytes())
                    .payload(r.payload.as_slice())
                    .headers(r.headers);
                loop {
                    match self.raw.send_result(record) {
                        Ok(report) => {
                            reports.push(report);
                            break;
                        }
                        Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                            record = back;
                            settle(reports.next().await)?;
                        }
                        Err((source, _)) => return Err(BenchError::kafka("raw send")(source)),
                    }
                }
            }
            while let Some(report) = reports.next().await {
                settle(Some(report))?;
            }
            Ok((started.elapsed(), cpu))
        })
        .await
    }
}

fn settle(report: Option<Result<OwnedDeliveryResult, Canceled>>) -> Result<(), BenchError> {
    match report {
        None | Some(Ok(Ok(_))) => Ok(()),
        Some(Ok(Err((source, _)))) => Err(BenchError::kafka("raw delivery")(source)),
        Some(Err(Canceled)) => Err(BenchError::kafka("raw delivery")(KafkaError::Canceled)),
    }
}
