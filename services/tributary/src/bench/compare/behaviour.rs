//! Where the two brokers behave differently, shown by runs and counted:
//! replay of consumed events, per-key ordering under competing consumers,
//! and what a consumer that dies without acknowledging gets redelivered.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::{
    Context,
    kafka::{self, KafkaRig},
    ordering::{OrderingCount, out_of_order_pairs},
    pace::{Pace, Publisher},
    rabbit::{self, QueueKind, RabbitRig},
    rig::{AckPolicy, Read, RigSpec, Work},
    series::point,
};
use crate::bench::{BenchError, env::unique_name};

/// Replaying events that were already consumed and acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplayResult {
    pub broker: String,
    pub published: u64,
    /// Processed and acknowledged by the first consumers.
    pub consumed_first: u64,
    /// RabbitMQ: messages still in the queue afterwards (passive declare).
    pub left_in_queue: Option<u32>,
    /// What a second reader got: Kafka a new group from the earliest offset,
    /// RabbitMQ a new consumer on the same queue.
    pub read_again: u64,
    pub how: String,
}

/// Per-key ordering with several competing consumers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderingResult {
    pub broker: String,
    pub consumers: usize,
    pub count: OrderingCount,
}

/// A consumer that dies part-way without acknowledging.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrashResult {
    pub broker: String,
    pub published: u64,
    /// Distinct events processed by the consumer before it died.
    pub processed_before_crash: u64,
    /// Deliveries to that consumer of events it had already processed
    /// (Kafka: a rebalance moved it back to the committed offsets).
    pub delivered_twice_before_crash: u64,
    /// Of those, acknowledged (RabbitMQ) or committed (Kafka, as the broker
    /// reports the group's offsets after the crash) before it died.
    pub acknowledged_before_crash: u64,
    /// Delivered to the replacement consumer.
    pub delivered_after: u64,
    /// Of those, already processed by the dead consumer (processed twice).
    pub processed_twice: u64,
    /// Deliveries RabbitMQ flagged `redelivered` (Kafka has no such flag).
    pub flagged_redelivered: Option<u64>,
    /// Published but never processed by either consumer.
    pub never_processed: u64,
}

/// The three behaviours on Kafka and on RabbitMQ (classic v2 queues).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BehaviourReport {
    pub replay: Vec<ReplayResult>,
    pub ordering: Vec<OrderingResult>,
    pub crash: Vec<CrashResult>,
    /// Events per behaviour run.
    pub events: u64,
    /// The crash policy: acknowledge every `ack_every`, die after `die_after`.
    pub ack_every: u64,
    pub die_after: u64,
    /// How long a reader waited for one more message.
    pub settle_secs: f64,
}

/// Acknowledge every this many messages in the crash run…
const ACK_EVERY: u64 = 100;
/// …and die after processing this many: half-way between two
/// acknowledgements, about a quarter into the events.
fn die_after(events: u64) -> u64 {
    ACK_EVERY * (events / (ACK_EVERY * 4)) + ACK_EVERY / 2
}

pub(crate) async fn run(ctx: &mut Context<'_>) -> Result<BehaviourReport, BenchError> {
    let events = ctx.options.behaviour_events.max(1);
    let replay = vec![
        kafka_replay(ctx, events).await?,
        rabbit_replay(ctx, events).await?,
    ];
    let ordering = vec![
        kafka_ordering(ctx, events).await?,
        rabbit_ordering(ctx, events).await?,
    ];
    let crash = vec![
        kafka_crash(ctx, events).await?,
        rabbit_crash(ctx, events).await?,
    ];
    Ok(BehaviourReport {
        replay,
        ordering,
        crash,
        events,
        ack_every: ACK_EVERY,
        die_after: die_after(events),
        settle_secs: ctx.options.settle.as_secs_f64(),
    })
}

fn saturate(ctx: &Context<'_>, events: u64) -> Pace {
    Pace::Saturate {
        events,
        in_flight: ctx.options.in_flight,
    }
}

async fn kafka_replay(ctx: &mut Context<'_>, events: u64) -> Result<ReplayResult, BenchError> {
    let spec = RigSpec {
        groups: 1,
        consumers: ctx.options.consumers,
        work: Work::Nothing,
    };
    let rig = KafkaRig::start(ctx.env, ctx.options.partitions, spec, &ctx.collector).await?;
    let id = ctx.next_point();
    let outcome = async {
        let (first, _) = point(
            &rig,
            saturate(ctx, events),
            id,
            1,
            &ctx.pool,
            &ctx.collector,
            ctx.options.drain_timeout,
        )
        .await?;
        let again = kafka::read_group(
            rig.config(),
            rig.topic(),
            &unique_name("bench-compare-replay"),
            id,
            events,
            AckPolicy::Each,
            ctx.options.settle,
        )
        .await?;
        Ok(ReplayResult {
            broker: "Kafka (tansu)".to_owned(),
            published: first.sent,
            consumed_first: first.delivered,
            left_in_queue: None,
            read_again: again.len() as u64,
            how: "a new consumer group, auto.offset.reset=earliest".to_owned(),
        })
    }
    .await;
    rig.stop().await;
    outcome
}

async fn rabbit_replay(ctx: &mut Context<'_>, events: u64) -> Result<ReplayResult, BenchError> {
    let spec = RigSpec {
        groups: 1,
        consumers: ctx.options.consumers,
        work: Work::Nothing,
    };
    let mut rig = RabbitRig::start(
        &ctx.options.amqp_url,
        QueueKind::ClassicV2,
        spec,
        ctx.options.prefetch,
        &ctx.collector,
    )
    .await?;
    let id = ctx.next_point();
    let outcome = async {
        let (first, _) = point(
            &rig,
            saturate(ctx, events),
            id,
            1,
            &ctx.pool,
            &ctx.collector,
            ctx.options.drain_timeout,
        )
        .await?;
        rig.stop_consumers().await;
        let left = rabbit::ready_messages(rig.publishing(), rig.queue()).await?;
        let again = rabbit::read_queue(
            &ctx.options.amqp_url,
            rig.queue(),
            id,
            events,
            AckPolicy::Each,
            ctx.options.prefetch,
            ctx.options.settle,
        )
        .await?;
        Ok(ReplayResult {
            broker: "RabbitMQ (classic v2)".to_owned(),
            published: first.sent,
            consumed_first: first.delivered,
            left_in_queue: Some(left),
            read_again: again.len() as u64,
            how: format!(
                "a new consumer on the same queue, waited {:?}",
                ctx.options.settle
            ),
        })
    }
    .await;
    rig.stop().await;
    outcome
}

/// Ordering runs publish everything at once: both consumers then hold a
/// full prefetch window and work through it at their own pace, which is
/// when competing consumers overtake each other.
fn ordering_pace(ctx: &Context<'_>, events: u64) -> Pace {
    saturate(ctx, events)
}

fn ordering_spec(ctx: &Context<'_>) -> RigSpec {
    RigSpec {
        groups: 1,
        consumers: ctx.options.consumers,
        work: Work::Varied,
    }
}

async fn kafka_ordering(ctx: &mut Context<'_>, events: u64) -> Result<OrderingResult, BenchError> {
    let rig = KafkaRig::start(
        ctx.env,
        ctx.options.partitions,
        ordering_spec(ctx),
        &ctx.collector,
    )
    .await?;
    let outcome = ordering_on(ctx, &rig, "Kafka (tansu)", events).await;
    rig.stop().await;
    outcome
}

async fn rabbit_ordering(ctx: &mut Context<'_>, events: u64) -> Result<OrderingResult, BenchError> {
    let rig = RabbitRig::start(
        &ctx.options.amqp_url,
        QueueKind::ClassicV2,
        ordering_spec(ctx),
        ctx.options.prefetch,
        &ctx.collector,
    )
    .await?;
    let outcome = ordering_on(ctx, &rig, "RabbitMQ (classic v2)", events).await;
    rig.stop().await;
    outcome
}

/// Publishes the ordering run through `rig` (either broker) and counts the
/// key's messages that finished out of order.
async fn ordering_on<P: Publisher>(
    ctx: &mut Context<'_>,
    rig: &P,
    broker: &str,
    events: u64,
) -> Result<OrderingResult, BenchError> {
    let id = ctx.next_point();
    let (_, arrivals) = point(
        rig,
        ordering_pace(ctx, events),
        id,
        1,
        &ctx.pool,
        &ctx.collector,
        ctx.options.drain_timeout,
    )
    .await?;
    Ok(OrderingResult {
        broker: broker.to_owned(),
        consumers: ctx.options.consumers,
        count: out_of_order_pairs(arrivals.iter().map(|a| (a.stamp.key, a.stamp.key_seq))),
    })
}

fn crash_policy(events: u64) -> AckPolicy {
    AckPolicy::BatchThenDie {
        every: ACK_EVERY,
        die_after: die_after(events),
    }
}

/// How many of the events a consumer processed had been acknowledged when
/// it died.
#[derive(Debug, Clone)]
pub(crate) enum Acknowledged<'a> {
    /// RabbitMQ: a `multiple` ack every `n` processed deliveries, so the
    /// count follows from the policy.
    EveryNth(u64),
    /// Kafka: the group's committed offsets read from the broker after the
    /// crash; an event counts when its offset is below its partition's.
    Committed(&'a HashMap<i32, i64>),
}

impl Acknowledged<'_> {
    /// The distinct events of `before` (first reads only) acknowledged.
    fn count(&self, before: &[Read], distinct: u64) -> u64 {
        match self {
            Acknowledged::EveryNth(every) => before
                .len()
                .saturating_sub(1)
                .checked_div(*every as usize)
                .map_or(0, |batches| (batches as u64 * every).min(distinct)),
            Acknowledged::Committed(committed) => {
                let mut seen = HashSet::new();
                before
                    .iter()
                    .filter(|r| seen.insert(r.stamp.seq))
                    .filter(|r| {
                        r.position.is_some_and(|(partition, offset)| {
                            committed.get(&partition).is_some_and(|&c| offset < c)
                        })
                    })
                    .count() as u64
            }
        }
    }
}

/// Counts what the replacement got against what the dead consumer did.
pub(crate) fn crash_counts(
    broker: &str,
    published: u64,
    before: &[Read],
    after: &[Read],
    acknowledged: &Acknowledged<'_>,
    rabbit: bool,
) -> CrashResult {
    let processed: HashSet<u64> = before.iter().map(|r| r.stamp.seq).collect();
    let seen: HashSet<u64> = processed
        .iter()
        .copied()
        .chain(after.iter().map(|r| r.stamp.seq))
        .collect();
    let distinct = processed.len() as u64;
    CrashResult {
        broker: broker.to_owned(),
        published,
        processed_before_crash: distinct,
        delivered_twice_before_crash: before.len() as u64 - distinct,
        acknowledged_before_crash: acknowledged.count(before, distinct),
        delivered_after: after.len() as u64,
        processed_twice: after
            .iter()
            .filter(|r| processed.contains(&r.stamp.seq))
            .count() as u64,
        flagged_redelivered: rabbit.then(|| after.iter().filter(|r| r.redelivered).count() as u64),
        never_processed: (0..published).filter(|seq| !seen.contains(seq)).count() as u64,
    }
}

async fn kafka_crash(ctx: &mut Context<'_>, events: u64) -> Result<CrashResult, BenchError> {
    let spec = RigSpec {
        groups: 1,
        consumers: 0,
        work: Work::Nothing,
    };
    let rig = KafkaRig::start(ctx.env, ctx.options.partitions, spec, &ctx.collector).await?;
    let id = ctx.next_point();
    let outcome = async {
        let (sent, _) = point(
            &rig,
            saturate(ctx, events),
            id,
            0,
            &ctx.pool,
            &ctx.collector,
            ctx.options.drain_timeout,
        )
        .await?;
        let group = unique_name("bench-compare-crash");
        let before = kafka::read_group(
            rig.config(),
            rig.topic(),
            &group,
            id,
            events,
            crash_policy(events),
            ctx.options.settle,
        )
        .await?;
        let committed = kafka::committed(rig.config(), &group, rig.topic()).await?;
        let after = kafka::read_group(
            rig.config(),
            rig.topic(),
            &group,
            id,
            events,
            AckPolicy::Each,
            ctx.options.settle,
        )
        .await?;
        Ok(crash_counts(
            "Kafka (tansu)",
            sent.sent,
            &before,
            &after,
            &Acknowledged::Committed(&committed),
            false,
        ))
    }
    .await;
    rig.stop().await;
    outcome
}

async fn rabbit_crash(ctx: &mut Context<'_>, events: u64) -> Result<CrashResult, BenchError> {
    let spec = RigSpec {
        groups: 1,
        consumers: 0,
        work: Work::Nothing,
    };
    let rig = RabbitRig::start(
        &ctx.options.amqp_url,
        QueueKind::ClassicV2,
        spec,
        ctx.options.prefetch,
        &ctx.collector,
    )
    .await?;
    let id = ctx.next_point();
    let outcome = async {
        let (sent, _) = point(
            &rig,
            saturate(ctx, events),
            id,
            0,
            &ctx.pool,
            &ctx.collector,
            ctx.options.drain_timeout,
        )
        .await?;
        let url = &ctx.options.amqp_url;
        let prefetch = ctx.options.prefetch;
        let before = rabbit::read_queue(
            url,
            rig.queue(),
            id,
            events,
            crash_policy(events),
            prefetch,
            ctx.options.settle,
        )
        .await?;
        let after = rabbit::read_queue(
            url,
            rig.queue(),
            id,
            events,
            AckPolicy::Each,
            prefetch,
            ctx.options.settle,
        )
        .await?;
        Ok(crash_counts(
            "RabbitMQ (classic v2)",
            sent.sent,
            &before,
            &after,
            &Acknowledged::EveryNth(ACK_EVERY),
            true,
        ))
    }
    .await;
    rig.stop().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::compare::stamp::Stamp;

    fn read(seq: u64, redelivered: bool) -> Read {
        Read {
            stamp: Stamp {
                point: 0,
                seq,
                key: 0,
                key_seq: seq,
                scheduled_us: 0,
            },
            redelivered,
            position: Some((0, seq as i64)),
        }
    }

    #[test]
    fn counts_duplicates_redeliveries_and_losses() {
        // 10 published; the first consumer processed 0-6 and had acked 0-4.
        let before: Vec<Read> = (0..7).map(|s| read(s, false)).collect();
        // The replacement got 5-8 again (5, 6 processed twice), 9 never came.
        let after: Vec<Read> = (5..9).map(|s| read(s, s < 8)).collect();
        let counts = crash_counts("x", 10, &before, &after, &Acknowledged::EveryNth(5), true);
        assert_eq!(counts.processed_before_crash, 7);
        assert_eq!(counts.delivered_twice_before_crash, 0);
        assert_eq!(counts.acknowledged_before_crash, 5);
        assert_eq!(counts.delivered_after, 4);
        assert_eq!(counts.processed_twice, 2);
        assert_eq!(counts.flagged_redelivered, Some(3));
        assert_eq!(counts.never_processed, 1);
        let committed = HashMap::from([(0, 5)]);
        let kafka = crash_counts(
            "k",
            10,
            &before,
            &after,
            &Acknowledged::Committed(&committed),
            false,
        );
        assert_eq!(kafka.flagged_redelivered, None);
        assert_eq!(kafka.acknowledged_before_crash, 5);
    }

    #[test]
    fn a_consumer_handed_events_twice_counts_them_once() {
        // A rebalance moved the consumer back to offset 0 after it read 0-2:
        // it processed 0, 1, 2, 0, 1, 2, 3 and the group committed up to 2.
        let before: Vec<Read> = [0, 1, 2, 0, 1, 2, 3].map(|s| read(s, false)).to_vec();
        let after: Vec<Read> = (2..6).map(|s| read(s, false)).collect();
        let committed = HashMap::from([(0, 2)]);
        let counts = crash_counts(
            "k",
            6,
            &before,
            &after,
            &Acknowledged::Committed(&committed),
            false,
        );
        assert_eq!(counts.processed_before_crash, 4);
        assert_eq!(counts.delivered_twice_before_crash, 3);
        assert_eq!(counts.acknowledged_before_crash, 2);
        assert_eq!(counts.processed_twice, 2);
        assert_eq!(counts.never_processed, 0);
    }

    #[test]
    fn the_crash_falls_between_two_acknowledgements() {
        assert_eq!(die_after(1_000), 250);
        assert_eq!(die_after(0), 50);
    }
}
