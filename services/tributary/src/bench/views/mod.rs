//! `tributary bench views`: how fast the orders view is built from its
//! topics, by the rebuild engine and by the live consumer, against a raw
//! rdkafka read of the same topics in the same run (issues 3 and 5: goal
//! ≥ 0.5× of raw).
//!
//! The backlog is `orders` whole sagas (see [`sagas`]) on private copies of
//! the three topics the orders service consumes. Before the rounds, a live
//! view is built from it in production order (the rebuild compares with
//! it). Every round then runs three sides, in an order that rotates:
//!
//! - **raw**: a `BaseConsumer` assigned every partition, reading from the
//!   low to the high watermark ([`raw`]);
//! - **rebuild**: `ops::rebuild` of the orders view into a fresh shadow
//!   namespace, its own `events_per_second` (reading, decoding, projecting,
//!   applying; verification excluded) ([`rebuild`]). Events its projector
//!   rejects are counted and reported, not fatal: that is a finding about
//!   the rebuild, which the figures must show;
//! - **live**: the orders service's projection handler under a fresh
//!   consumer group and a fresh embedded store, from its first applied
//!   event to its last, retries through the retry topic included ([`live`]).
//!
//! The rebuild's clock starts before it looks up partitions and
//! watermarks, so it is compared with the raw read timed the same way; the
//! live path's clock starts at its first event, after the group join, so
//! it is compared with the raw read's first-to-last time.

mod live;
mod raw;
mod rebuild;
mod report;
mod sagas;

use std::collections::BTreeMap;

use tributary_bus::EventCodec;
use tributary_service::group_id;
use tributary_views::ViewsConfig;

pub use report::ViewsReport;
pub use sagas::SagaMix;

use self::sagas::SagaTopics;
use super::{BenchEnv, BenchError, CpuPerEvent, cpu::CpuMeter, env::unique_name, stats::rate};
use crate::ops::{Cluster, rebuild::RebuildTarget};

/// The rate goal of the rebuild and the live path relative to raw.
pub const GOAL: f64 = 0.5;

/// What to run.
#[derive(Debug, Clone)]
pub struct ViewsOptions {
    /// Sagas in the backlog (about 4.1 events each).
    pub orders: u64,
    /// Partitions of each of the three topics.
    pub partitions: i32,
    pub rounds: usize,
}

/// The sides, in the order they run in round 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Raw,
    Rebuild,
    Live,
}

const SIDES: [Side; 3] = [Side::Raw, Side::Rebuild, Side::Live];

/// Per-round figures as they come in.
#[derive(Debug, Default)]
struct Rounds {
    raw_from_start: Vec<f64>,
    raw_first_to_last: Vec<f64>,
    rebuild: Vec<f64>,
    live: Vec<f64>,
    rebuild_matches: Vec<bool>,
    rebuild_rejected: Vec<u64>,
    live_matches: Vec<bool>,
    live_retried: Vec<u64>,
    /// CPU per event by side, in [`SIDES`] order.
    cpu: [Vec<CpuPerEvent>; 3],
}

pub async fn run(env: &BenchEnv, options: &ViewsOptions) -> Result<ViewsReport, BenchError> {
    if options.rounds == 0 || options.orders == 0 || options.partitions < 1 {
        return Err(BenchError::Argument {
            arg: "--rounds/--orders/--partitions",
            detail: "need at least 1 round, 1 order and 1 partition".to_owned(),
        });
    }
    let topics = SagaTopics {
        orders: private_topic("bench-views-orders"),
        inventory: private_topic("bench-views-inventory"),
        payments: private_topic("bench-views-payments"),
    };
    for topic in topics.all() {
        env.create_topic(topic, options.partitions).await?;
    }
    let codec = EventCodec::new(env.registry().clone());
    tracing::info!(orders = options.orders, "writing the sagas");
    let filled = sagas::fill(env, &codec, topics, options.orders).await?;
    let events = filled.records.len() as u64;

    let definition = tributary_orders::definition(tributary_orders::OrdersConfig::default());
    let target = RebuildTarget {
        service: definition.name,
        group: group_id(definition.name),
        tables: definition.tables.clone(),
        topics: topics.all(),
        projector: definition
            .projector
            .clone()
            .ok_or_else(|| BenchError::Task {
                what: "orders service",
                detail: "its definition has no projector".to_owned(),
            })?,
    };
    let live_dir = tempfile::tempdir().map_err(BenchError::io("creating a view directory"))?;
    let views = ViewsConfig::embedded(live_dir.path());
    tracing::info!(events, "building the live view the rebuild compares with");
    let reference = rebuild::live_reference(&codec, &views, &target, &filled.records).await?;
    drop(filled.records);
    let cluster = Cluster::connect(env.bootstrap())?;

    let mut rounds = Rounds::default();
    for round in 0..options.rounds {
        for i in 0..SIDES.len() {
            let index = (i + round) % SIDES.len();
            let cpu = CpuMeter::start(env.broker_pid());
            let events_per_sec = match SIDES[index] {
                Side::Raw => {
                    let read = raw::read(env, &topics.all(), events).await?;
                    rounds.raw_from_start.push(rate(events, read.from_start));
                    let streaming = rate(events.saturating_sub(1), read.first_to_last);
                    rounds.raw_first_to_last.push(streaming);
                    streaming
                }
                Side::Rebuild => {
                    let report = rebuild::rebuild_once(&cluster, &codec, &views, &target).await?;
                    if report.events != events {
                        return Err(BenchError::Task {
                            what: "rebuild",
                            detail: format!("read {} of the {events} events", report.events),
                        });
                    }
                    if let Some(first) = report.rejected.first() {
                        tracing::warn!(
                            rejected = report.rejected.len(),
                            first = %first,
                            "the rebuild rejected events"
                        );
                    }
                    rounds.rebuild.push(report.events_per_second);
                    rounds.rebuild_matches.push(report.matches);
                    rounds.rebuild_rejected.push(report.rejected.len() as u64);
                    report.events_per_second
                }
                Side::Live => {
                    let live = live::apply_once(env, &target, reference.as_ref(), events).await?;
                    let events_per_sec = rate(events.saturating_sub(1), live.first_to_last);
                    rounds.live.push(events_per_sec);
                    rounds.live_matches.push(live.matches_reference);
                    rounds.live_retried.push(live.retried);
                    events_per_sec
                }
            };
            rounds.cpu[index].push(cpu.per_event(events));
            tracing::info!(
                round,
                side = ?SIDES[index],
                events_per_sec = events_per_sec.round(),
                "views round"
            );
        }
    }
    Ok(ViewsReport::new(
        env.describe(),
        options,
        events,
        filled.mix,
        contract_counts(&topics, &filled.by_topic),
        filled.payload_bytes,
        rounds,
    ))
}

/// A fresh topic name with the `'static` lifetime that service definitions
/// and rebuild targets use (contract topic names are constants there).
/// Three short strings are leaked per run of a one-shot command.
fn private_topic(prefix: &str) -> &'static str {
    Box::leak(unique_name(prefix).into_boxed_str())
}

/// Events per topic, under the contract topics' names.
fn contract_counts(topics: &SagaTopics, by_topic: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    [
        ("orders", topics.orders),
        ("inventory", topics.inventory),
        ("payments", topics.payments),
    ]
    .into_iter()
    .map(|(name, private)| (name.to_owned(), by_topic.get(private).copied().unwrap_or(0)))
    .collect()
}
