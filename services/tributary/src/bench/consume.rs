//! `tributary bench consume`: our consumer-group runner against raw rdkafka
//! draining the same backlog.
//!
//! The backlog (`events` framed `OrderPlaced` events) is written once. Each
//! round, every side drains it from the start under a fresh group id:
//!
//! - **Ours**: `ConsumerGroup` with a no-op typed handler. Our path includes
//!   unframing, the Avro decode into `AnyEvent`, the process span, metrics,
//!   per-partition workers and storing each offset after its handler.
//! - **Raw**: a `StreamConsumer` built from the same librdkafka configuration
//!   (but for the per-queue prefetch bounds, see `raw_consumer`) reading
//!   the main queue and storing each offset (what any at-least-once consumer
//!   must do), without looking at the payload.
//! - **Raw + decode**: the same, also unframing and decoding each payload
//!   into `AnyEvent`: the fair baseline for a typed consumer.
//!
//! Each side counts in its handler and stops at `events`; throughput runs
//! from its first event to its last, so group joins are not in it. The order
//! of the sides rotates every round.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt as _;
use rdkafka::{
    Message as _,
    consumer::{Consumer as _, StreamConsumer},
};
use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tributary_bus::{BusConfig, ConsumerGroup, EventCodec};
use tributary_contracts::{Event as _, events::AnyEvent, events::OrderPlaced, unframe};
use tributary_telemetry::Metrics;

use super::{
    BenchEnv, BenchError, CpuPerEvent, Payload, Table,
    cpu::CpuMeter,
    env::unique_name,
    error::bounded,
    fill::{Backlog, fill_backlog},
    handler::{CountingHandler, Progress, Stalls, stop_group},
    produce::{goal_cell, median_cpu},
    raw_consumer::raw_consumer_config,
    report::{thousands, times},
    stats::{median, rate, ratio},
};

/// Upper bound on one side of one round, group join included.
const SIDE_TIMEOUT: Duration = Duration::from_secs(600);
/// The throughput goal for our runner relative to raw rdkafka.
pub const GOAL: f64 = 0.9;

/// What to run.
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    /// Backlog size; each side drains all of it every round.
    pub events: u64,
    /// Partitions of the backlog topic.
    pub partitions: i32,
    pub rounds: usize,
    pub payload: Payload,
}

/// The sides, in the order they run in round 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Ours,
    Raw,
    RawDecode,
}

const SIDES: [Side; 3] = [Side::Ours, Side::Raw, Side::RawDecode];

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Ours => "ours: ConsumerGroup + no-op typed handler",
            Side::Raw => "raw StreamConsumer (no decode)",
            Side::RawDecode => "raw StreamConsumer + unframe + Avro decode",
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ConsumeReport {
    pub environment: String,
    pub payload: Payload,
    pub partitions: i32,
    pub rounds: usize,
    pub backlog: Backlog,
    pub ours_events_per_sec: Vec<f64>,
    pub raw_events_per_sec: Vec<f64>,
    pub raw_decode_events_per_sec: Vec<f64>,
    /// Ours / raw (no decode), per round.
    pub ratio_vs_raw: Vec<f64>,
    /// Ours / raw + decode, per round.
    pub ratio_vs_raw_decode: Vec<f64>,
    pub ours_median: f64,
    pub raw_median: f64,
    pub raw_decode_median: f64,
    pub ratio_vs_raw_median: f64,
    pub ratio_vs_raw_decode_median: f64,
    /// CPU per event of the client process and the broker, per round, in
    /// side order ours, raw, raw + decode (group join and leave included).
    pub cpu_by_round: [Vec<CpuPerEvent>; 3],
    /// Medians of the above, same order.
    pub cpu_median: [CpuPerEvent; 3],
    /// Pauses between consecutive events, per round, same order.
    pub stalls_by_round: [Vec<Stalls>; 3],
    pub goal: f64,
}

impl ConsumeReport {
    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "side",
            "events/s (median)",
            "ours ÷ this (median)",
            "ratio by round",
            "goal",
            "client CPU µs/event",
            "broker CPU µs/event",
            "stalled ms by round",
        ]);
        let cpu = |i: usize| {
            let c: CpuPerEvent = self.cpu_median[i];
            [
                format!("{:.1}", c.client_us),
                c.broker_us.map_or("-".to_owned(), |b| format!("{b:.1}")),
                self.stalls_by_round[i]
                    .iter()
                    .map(|s| format!("{:.0}", s.stalled_ms))
                    .collect::<Vec<_>>()
                    .join(" "),
            ]
        };
        let by_round = |r: &[f64]| {
            r.iter()
                .map(|x| format!("{x:.2}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let [c0, c1, c2] = cpu(0);
        table.row([
            Side::Ours.label().to_owned(),
            thousands(self.ours_median),
            String::new(),
            String::new(),
            String::new(),
            c0,
            c1,
            c2,
        ]);
        let [c0, c1, c2] = cpu(1);
        table.row([
            Side::Raw.label().to_owned(),
            thousands(self.raw_median),
            times(self.ratio_vs_raw_median),
            by_round(&self.ratio_vs_raw),
            goal_cell(self.ratio_vs_raw_median, self.goal),
            c0,
            c1,
            c2,
        ]);
        let [c0, c1, c2] = cpu(2);
        table.row([
            Side::RawDecode.label().to_owned(),
            thousands(self.raw_decode_median),
            times(self.ratio_vs_raw_decode_median),
            by_round(&self.ratio_vs_raw_decode),
            goal_cell(self.ratio_vs_raw_decode_median, self.goal),
            c0,
            c1,
            c2,
        ]);
        table
    }
}

pub async fn run(env: &BenchEnv, options: &ConsumeOptions) -> Result<ConsumeReport, BenchError> {
    if options.rounds == 0 || options.events < 2 || options.partitions < 1 {
        return Err(BenchError::Argument {
            arg: "--rounds/--events/--partitions",
            detail: "need at least 1 round, 2 events and 1 partition".to_owned(),
        });
    }
    let topic = unique_name("bench-consume");
    env.create_topic(&topic, options.partitions).await?;
    tracing::info!(%topic, events = options.events, "writing the backlog");
    let backlog = fill_backlog(env, &topic, options.events, options.payload).await?;
    let schema_id = env
        .registry()
        .register(&OrderPlaced::subject(), OrderPlaced::SCHEMA_JSON)
        .await?;

    let config = env.bus_config();
    let codec = EventCodec::new(env.registry().clone());
    let mut results: [Vec<f64>; 3] = Default::default();
    let mut cpu_by_round: [Vec<CpuPerEvent>; 3] = Default::default();
    let mut stalls_by_round: [Vec<Stalls>; 3] = Default::default();
    for round in 0..options.rounds {
        for i in 0..SIDES.len() {
            let side_index = (i + round) % SIDES.len();
            let side = SIDES[side_index];
            let cpu = CpuMeter::start(env.broker_pid());
            let (elapsed, stalls) = match side {
                Side::Ours => drain_ours(&config, &topic, &codec, options.events).await?,
                Side::Raw => drain_raw(&config, &topic, None, options.events).await?,
                Side::RawDecode => {
                    drain_raw(&config, &topic, Some(schema_id), options.events).await?
                }
            };
            // The first event starts the clock: `events - 1` intervals.
            let events_per_sec = rate(options.events - 1, elapsed);
            tracing::info!(
                round,
                ?side,
                events_per_sec = events_per_sec.round(),
                ?stalls,
                "consume round"
            );
            results[side_index].push(events_per_sec);
            stalls_by_round[side_index].push(stalls);
            cpu_by_round[side_index].push(cpu.per_event(options.events));
        }
    }
    let [ours, raw, raw_decode] = results;
    let per_round = |theirs: &[f64]| -> Vec<f64> {
        ours.iter()
            .zip(theirs)
            .map(|(o, t)| ratio(*o, *t))
            .collect()
    };
    let ratio_vs_raw = per_round(&raw);
    let ratio_vs_raw_decode = per_round(&raw_decode);
    Ok(ConsumeReport {
        environment: env.describe(),
        payload: options.payload,
        partitions: options.partitions,
        rounds: options.rounds,
        backlog,
        ours_median: median(&ours).unwrap_or(0.0),
        raw_median: median(&raw).unwrap_or(0.0),
        raw_decode_median: median(&raw_decode).unwrap_or(0.0),
        ratio_vs_raw_median: median(&ratio_vs_raw).unwrap_or(0.0),
        ratio_vs_raw_decode_median: median(&ratio_vs_raw_decode).unwrap_or(0.0),
        ours_events_per_sec: ours,
        raw_events_per_sec: raw,
        raw_decode_events_per_sec: raw_decode,
        ratio_vs_raw,
        ratio_vs_raw_decode,
        cpu_median: [
            median_cpu(&cpu_by_round[0]),
            median_cpu(&cpu_by_round[1]),
            median_cpu(&cpu_by_round[2]),
        ],
        cpu_by_round,
        stalls_by_round,
        goal: GOAL,
    })
}

/// Our runner under a fresh group until `events` were handled; the time
/// from the first to the last.
pub(crate) async fn drain_ours(
    config: &BusConfig,
    topic: &str,
    codec: &EventCodec,
    events: u64,
) -> Result<(Duration, Stalls), BenchError> {
    let progress = Progress::new(events);
    let group = ConsumerGroup::new(
        config.clone(),
        unique_name("bench-consume-ours"),
        [topic.to_owned()],
        codec.clone(),
        Arc::new(CountingHandler(progress.clone())),
    )
    .with_metrics(Metrics::new());
    let shutdown = CancellationToken::new();
    let mut running = tokio::spawn(group.run(shutdown.clone()));
    let outcome = tokio::select! {
        () = progress.done().cancelled() => Ok(()),
        // The group only ends on its own when it failed to start.
        ended = &mut running => Err(match ended {
            Ok(Err(e)) => BenchError::from(e),
            Ok(Ok(_)) => BenchError::Task { what: "consumer group", detail: "stopped before the backlog was drained".to_owned() },
            Err(e) => BenchError::Task { what: "consumer group", detail: e.to_string() },
        }),
        () = tokio::time::sleep(SIDE_TIMEOUT) => Err(BenchError::Timeout {
            what: format!("ConsumerGroup draining {events} events (got {})", progress.count()),
            after: SIDE_TIMEOUT,
        }),
    };
    stop_group(&shutdown, running).await;
    outcome?;
    let elapsed = progress.elapsed().ok_or_else(|| BenchError::Task {
        what: "consumer group",
        detail: "finished without timing".to_owned(),
    })?;
    Ok((elapsed, progress.stalls()))
}

/// A raw `StreamConsumer` with our runtime's consumer configuration under a
/// fresh group until `events` were read (and, with `decode_schema_id`,
/// unframed and decoded); the time from the first to the last.
async fn drain_raw(
    config: &BusConfig,
    topic: &str,
    decode_schema_id: Option<u32>,
    events: u64,
) -> Result<(Duration, Stalls), BenchError> {
    let group = unique_name("bench-consume-raw");
    let client = raw_consumer_config(config, &group);
    let consumer: StreamConsumer = client.create().map_err(BenchError::kafka("raw consumer"))?;
    consumer
        .subscribe(&[topic])
        .map_err(BenchError::kafka("raw subscribe"))?;
    let progress = Progress::new(events);
    let what = if decode_schema_id.is_some() {
        "raw consumer + decode"
    } else {
        "raw consumer"
    };
    let drained = bounded(what, SIDE_TIMEOUT, async {
        let mut stream = consumer.stream();
        while let Some(message) = stream.next().await {
            let message = message.map_err(BenchError::kafka("raw consume"))?;
            if let Some(expected) = decode_schema_id {
                let payload = message.payload().unwrap_or_default();
                let (id, body) = unframe(payload)?;
                if id != expected {
                    return Err(BenchError::Codec {
                        codec: "confluent frame",
                        event: OrderPlaced::FULL_NAME,
                        detail: format!("schema id {id}, expected {expected}"),
                    });
                }
                std::hint::black_box(AnyEvent::decode(OrderPlaced::FULL_NAME, body, None)?);
            }
            consumer
                .store_offset_from_message(&message)
                .map_err(BenchError::kafka("raw store offset"))?;
            if progress.record() {
                return Ok(());
            }
        }
        Err(BenchError::Task {
            what,
            detail: "the message stream ended".to_owned(),
        })
    })
    .await;
    // Closing leaves the group, which blocks: not on a runtime worker.
    let closing = Instant::now();
    let _ = tokio::task::spawn_blocking(move || drop(consumer)).await;
    tracing::debug!(
        what,
        close_ms = closing.elapsed().as_millis() as u64,
        "raw consumer closed"
    );
    drained?;
    let elapsed = progress.elapsed().ok_or_else(|| BenchError::Task {
        what,
        detail: "finished without timing".to_owned(),
    })?;
    Ok((elapsed, progress.stalls()))
}
