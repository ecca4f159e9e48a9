//! What `bench views` reports: per-round rates, medians, ratios to the raw
//! read and the goal, plus the checks that make the figures trustworthy
//! (the rebuilt and the live copies equal the reference view).

use std::collections::BTreeMap;

use serde::Serialize;

use super::{GOAL, Rounds, SagaMix, ViewsOptions};
use crate::bench::{
    CpuPerEvent, Table,
    produce::{goal_cell, median_cpu},
    report::{thousands, times},
    stats::{median, ratio},
};

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct ViewsReport {
    pub environment: String,
    pub orders: u64,
    pub events: u64,
    pub partitions: i32,
    pub rounds: usize,
    pub mix: SagaMix,
    /// Events per topic (contract names; the run used private copies).
    pub events_by_topic: BTreeMap<String, u64>,
    /// Confluent-framed payload bytes of the backlog.
    pub payload_bytes: u64,
    /// Raw read timed from before its metadata requests, per round.
    pub raw_from_start_events_per_sec: Vec<f64>,
    /// Raw read timed from its first record, per round.
    pub raw_first_to_last_events_per_sec: Vec<f64>,
    pub rebuild_events_per_sec: Vec<f64>,
    pub live_events_per_sec: Vec<f64>,
    /// Rebuild ÷ raw from start, per round.
    pub rebuild_ratio: Vec<f64>,
    /// Live ÷ raw first to last, per round.
    pub live_ratio: Vec<f64>,
    pub raw_from_start_median: f64,
    pub raw_first_to_last_median: f64,
    pub rebuild_median: f64,
    pub live_median: f64,
    pub rebuild_ratio_median: f64,
    pub live_ratio_median: f64,
    /// Whether each rebuilt copy equalled the live view, table for table.
    pub rebuild_matches: Vec<bool>,
    /// Events the rebuild's projector rejected, per round (an outcome
    /// replayed before its order's placement).
    pub rebuild_rejected: Vec<u64>,
    /// Whether each live round's store equalled the reference view.
    pub live_matches: Vec<bool>,
    /// Deliveries retried through the retry topic, per live round.
    pub live_retried: Vec<u64>,
    /// CPU per event (whole side, live group join included), per round, in
    /// side order raw, rebuild, live.
    pub cpu_by_round: [Vec<CpuPerEvent>; 3],
    pub cpu_median: [CpuPerEvent; 3],
    pub goal: f64,
}

impl ViewsReport {
    pub(super) fn new(
        environment: String,
        options: &ViewsOptions,
        events: u64,
        mix: SagaMix,
        events_by_topic: BTreeMap<String, u64>,
        payload_bytes: u64,
        rounds: Rounds,
    ) -> ViewsReport {
        let per_round = |ours: &[f64], theirs: &[f64]| -> Vec<f64> {
            ours.iter()
                .zip(theirs)
                .map(|(o, t)| ratio(*o, *t))
                .collect()
        };
        let rebuild_ratio = per_round(&rounds.rebuild, &rounds.raw_from_start);
        let live_ratio = per_round(&rounds.live, &rounds.raw_first_to_last);
        let m = |values: &[f64]| median(values).unwrap_or(0.0);
        ViewsReport {
            environment,
            orders: options.orders,
            events,
            partitions: options.partitions,
            rounds: options.rounds,
            mix,
            events_by_topic,
            payload_bytes,
            raw_from_start_median: m(&rounds.raw_from_start),
            raw_first_to_last_median: m(&rounds.raw_first_to_last),
            rebuild_median: m(&rounds.rebuild),
            live_median: m(&rounds.live),
            rebuild_ratio_median: m(&rebuild_ratio),
            live_ratio_median: m(&live_ratio),
            raw_from_start_events_per_sec: rounds.raw_from_start,
            raw_first_to_last_events_per_sec: rounds.raw_first_to_last,
            rebuild_events_per_sec: rounds.rebuild,
            live_events_per_sec: rounds.live,
            rebuild_ratio,
            live_ratio,
            rebuild_matches: rounds.rebuild_matches,
            rebuild_rejected: rounds.rebuild_rejected,
            live_matches: rounds.live_matches,
            live_retried: rounds.live_retried,
            cpu_median: [
                median_cpu(&rounds.cpu[0]),
                median_cpu(&rounds.cpu[1]),
                median_cpu(&rounds.cpu[2]),
            ],
            cpu_by_round: rounds.cpu,
            goal: GOAL,
        }
    }

    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "path",
            "events/s (median)",
            "events/s by round",
            "÷ raw (median)",
            "ratio by round",
            "goal",
            "client CPU µs/event",
            "broker CPU µs/event",
            "check",
        ]);
        let by_round = |values: &[f64], format: fn(f64) -> String| {
            values
                .iter()
                .map(|v| format(*v))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cpu = |i: usize| {
            let c = self.cpu_median[i];
            [
                format!("{:.1}", c.client_us),
                c.broker_us.map_or("-".to_owned(), |b| format!("{b:.1}")),
            ]
        };
        let [raw_client, raw_broker] = cpu(0);
        table.row([
            "raw rdkafka read, timed from start".to_owned(),
            thousands(self.raw_from_start_median),
            by_round(&self.raw_from_start_events_per_sec, thousands),
            String::new(),
            String::new(),
            String::new(),
            raw_client.clone(),
            raw_broker.clone(),
            String::new(),
        ]);
        table.row([
            "raw rdkafka read, first to last record".to_owned(),
            thousands(self.raw_first_to_last_median),
            by_round(&self.raw_first_to_last_events_per_sec, thousands),
            String::new(),
            String::new(),
            String::new(),
            raw_client,
            raw_broker,
            String::new(),
        ]);
        let [client, broker] = cpu(1);
        table.row([
            "rebuild (ops::rebuild into a shadow) ÷ raw from start".to_owned(),
            thousands(self.rebuild_median),
            by_round(&self.rebuild_events_per_sec, thousands),
            times(self.rebuild_ratio_median),
            by_round(&self.rebuild_ratio, |r| format!("{r:.2}")),
            goal_cell(self.rebuild_ratio_median, self.goal),
            client,
            broker,
            format!(
                "equals the live view in {}/{} rounds; rejected by round: {}",
                count_true(&self.rebuild_matches),
                self.rebuild_matches.len(),
                joined(&self.rebuild_rejected)
            ),
        ]);
        let [client, broker] = cpu(2);
        table.row([
            "live apply (ConsumerGroup + orders handler) ÷ raw first to last".to_owned(),
            thousands(self.live_median),
            by_round(&self.live_events_per_sec, thousands),
            times(self.live_ratio_median),
            by_round(&self.live_ratio, |r| format!("{r:.2}")),
            goal_cell(self.live_ratio_median, self.goal),
            client,
            broker,
            format!(
                "equals the live view in {}/{} rounds; retried by round: {}",
                count_true(&self.live_matches),
                self.live_matches.len(),
                joined(&self.live_retried)
            ),
        ]);
        table
    }

    /// One line on the backlog, printed under the table.
    pub fn backlog(&self) -> String {
        let topics: Vec<String> = self
            .events_by_topic
            .iter()
            .map(|(topic, n)| format!("{topic} {n}"))
            .collect();
        format!(
            "{} sagas ({} confirmed, {} payment declined, {} stock rejected), {} events ({}), \
             {} partitions per topic, {} KiB of payload",
            self.orders,
            self.mix.confirmed,
            self.mix.payment_declined,
            self.mix.stock_rejected,
            self.events,
            topics.join(", "),
            self.partitions,
            self.payload_bytes / 1024
        )
    }
}

fn joined(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn count_true(values: &[bool]) -> usize {
    values.iter().filter(|v| **v).count()
}
