//! What `bench gateway` reports: requests per second and latency per side
//! and round, medians, the ratio to the trivial handler and the goal, and
//! how long the outbox relay needed after each gateway round.

use serde::Serialize;

use super::{GOAL, GatewayOptions, Samples};
use crate::bench::{
    CpuPerEvent, Table,
    produce::{goal_cell, median_cpu},
    report::{thousands, times},
    stats::{median, ratio},
};

/// One server's figures.
#[derive(Debug, Clone, Serialize)]
pub struct SideFigures {
    pub requests_per_sec: Vec<f64>,
    pub p50_ms: Vec<f64>,
    pub p99_ms: Vec<f64>,
    /// CPU per request: this process (client and both servers) and the
    /// broker.
    pub cpu: Vec<CpuPerEvent>,
    pub requests_per_sec_median: f64,
    pub p50_ms_median: f64,
    pub p99_ms_median: f64,
    pub cpu_median: CpuPerEvent,
}

impl SideFigures {
    fn new(samples: Samples) -> SideFigures {
        let m = |values: &[f64]| median(values).unwrap_or(0.0);
        SideFigures {
            requests_per_sec_median: m(&samples.requests_per_sec),
            p50_ms_median: m(&samples.p50_ms),
            p99_ms_median: m(&samples.p99_ms),
            cpu_median: median_cpu(&samples.cpu),
            requests_per_sec: samples.requests_per_sec,
            p50_ms: samples.p50_ms,
            p99_ms: samples.p99_ms,
            cpu: samples.cpu,
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct GatewayReport {
    pub environment: String,
    pub requests: u64,
    pub concurrency: usize,
    pub rounds: usize,
    pub warmup: u64,
    pub body_bytes: usize,
    pub trivial: SideFigures,
    pub gateway: SideFigures,
    /// Gateway ÷ trivial requests per second, per round.
    pub ratio: Vec<f64>,
    pub ratio_median: f64,
    /// After each gateway round: how long until a reader started then had
    /// found every order accepted so far on the broker (an upper bound on
    /// the relay's lag: it includes the reader's own start).
    pub relay_drain_ms: Vec<f64>,
    /// Orders found on the broker's `orders` topic after the last round
    /// (every accepted one, warm-up included, and nothing else).
    pub orders_published: u64,
    pub goal: f64,
}

impl GatewayReport {
    pub(super) fn new(
        environment: String,
        options: &GatewayOptions,
        body_bytes: usize,
        trivial: Samples,
        gateway: Samples,
        relay_drain_ms: Vec<f64>,
        orders_published: u64,
    ) -> GatewayReport {
        let by_round: Vec<f64> = gateway
            .requests_per_sec
            .iter()
            .zip(&trivial.requests_per_sec)
            .map(|(g, t)| ratio(*g, *t))
            .collect();
        GatewayReport {
            environment,
            requests: options.requests,
            concurrency: options.concurrency,
            rounds: options.rounds,
            warmup: options.warmup,
            body_bytes,
            trivial: SideFigures::new(trivial),
            gateway: SideFigures::new(gateway),
            ratio_median: median(&by_round).unwrap_or(0.0),
            ratio: by_round,
            relay_drain_ms,
            orders_published,
            goal: GOAL,
        }
    }

    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "server",
            "requests/s (median)",
            "requests/s by round",
            "p50 ms",
            "p99 ms",
            "÷ trivial (median)",
            "ratio by round",
            "goal",
            "process CPU µs/request",
            "broker CPU µs/request",
        ]);
        let joined = |values: &[f64], format: fn(f64) -> String| {
            values
                .iter()
                .map(|v| format(*v))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let cpu = |c: CpuPerEvent| {
            [
                format!("{:.0}", c.client_us),
                c.broker_us.map_or("-".to_owned(), |b| format!("{b:.0}")),
            ]
        };
        let [client, broker] = cpu(self.trivial.cpu_median);
        table.row([
            "trivial axum handler (202)".to_owned(),
            thousands(self.trivial.requests_per_sec_median),
            joined(&self.trivial.requests_per_sec, thousands),
            format!("{:.2}", self.trivial.p50_ms_median),
            format!("{:.2}", self.trivial.p99_ms_median),
            String::new(),
            String::new(),
            String::new(),
            client,
            broker,
        ]);
        let [client, broker] = cpu(self.gateway.cpu_median);
        table.row([
            "gateway POST /v1/orders".to_owned(),
            thousands(self.gateway.requests_per_sec_median),
            joined(&self.gateway.requests_per_sec, thousands),
            format!("{:.2}", self.gateway.p50_ms_median),
            format!("{:.2}", self.gateway.p99_ms_median),
            times(self.ratio_median),
            joined(&self.ratio, |r| format!("{r:.2}")),
            goal_cell(self.ratio_median, self.goal),
            client,
            broker,
        ]);
        table
    }

    /// One line on the relay, printed under the table.
    pub fn relay(&self) -> String {
        format!(
            "{} requests per side per round, {} in flight, {}-byte body; {} orders on the broker \
             at the end; after each gateway round a fresh reader found every accepted order \
             within {} ms",
            self.requests,
            self.concurrency,
            self.body_bytes,
            self.orders_published,
            self.relay_drain_ms
                .iter()
                .map(|ms| format!("{ms:.0}"))
                .collect::<Vec<_>>()
                .join(" / ")
        )
    }
}
