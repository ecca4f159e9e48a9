//! `tributary bench gateway`: requests per second the real gateway takes on
//! `POST /v1/orders`, against a trivial axum handler on the same HTTP stack
//! in the same run (issue 3: goal ≥ 0.5× of the trivial handler).
//!
//! Both servers run in this process with the client (see [`servers`]); the
//! client ([`client`]) sends the same body with the same headers to both,
//! `concurrency` requests in flight. Sides alternate which goes first each
//! round; medians of the per-round figures are reported.
//!
//! An accepted order is committed to the gateway's store and outbox before
//! the 202; the outbox relay publishes it to the broker concurrently. After
//! each gateway round the benchmark waits until the broker's `orders` topic
//! holds every order accepted so far, so a relay that fell behind shows up
//! as drain time rather than going unnoticed.

mod client;
mod report;
mod servers;
mod tally;

use std::time::Duration;

use tributary_contracts::{Event as _, events::OrderPlaced};

pub use report::{GatewayReport, SideFigures};

use self::{servers::Servers, tally::Tally};
use super::{BenchEnv, BenchError, CpuPerEvent, cpu::CpuMeter, stats::percentile, stats::rate};

/// The throughput goal of the gateway relative to the trivial handler.
pub const GOAL: f64 = 0.5;
/// Partitions of the `orders` topic the gateway publishes to (the
/// contract topics' default).
const ORDERS_PARTITIONS: i32 = 12;
/// How long the relay may take to publish the last accepted orders.
const RELAY_TIMEOUT: Duration = Duration::from_secs(120);
/// The order every request places: three lines of SKUs the inventory
/// knows, a full-length payment token.
const SKUS: [&str; 3] = [
    "SKU-KEYBOARD-MX-0042",
    "SKU-MONITOR-27IN-0117",
    "SKU-USB-C-CABLE-2M-0008",
];

/// What to run.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Requests per side per round.
    pub requests: u64,
    /// Requests in flight (one client, with its own user, per request).
    pub concurrency: usize,
    pub rounds: usize,
    /// Requests each side answers before the first round.
    pub warmup: u64,
}

/// The sides, in the order they run in round 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Trivial,
    Gateway,
}

/// Per-round figures of one side.
#[derive(Debug, Default)]
struct Samples {
    requests_per_sec: Vec<f64>,
    p50_ms: Vec<f64>,
    p99_ms: Vec<f64>,
    cpu: Vec<CpuPerEvent>,
}

pub async fn run(env: &BenchEnv, options: &GatewayOptions) -> Result<GatewayReport, BenchError> {
    if options.rounds == 0 || options.requests == 0 || options.concurrency == 0 {
        return Err(BenchError::Argument {
            arg: "--rounds/--requests/--concurrency",
            detail: "need at least 1 round, 1 request and 1 client".to_owned(),
        });
    }
    if !env.owns_broker() {
        return Err(BenchError::Argument {
            arg: "--bootstrap",
            detail: format!(
                "the gateway publishes to the contract topic `{}`; run it against its own broker",
                OrderPlaced::TOPIC
            ),
        });
    }
    env.create_topic(OrderPlaced::TOPIC, ORDERS_PARTITIONS)
        .await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()
        .map_err(|e| BenchError::Http {
            what: "client".to_owned(),
            detail: e.to_string(),
        })?;
    let servers = Servers::start(env, &client, &SKUS, options.concurrency).await?;
    // `measure` drops the client, closing its keep-alive connections, which
    // the servers' graceful shutdown would otherwise wait for.
    let outcome = measure(env, client, &servers, options).await;
    let stopped = servers.stop().await;
    let report = outcome?;
    stopped?;
    Ok(report)
}

async fn measure(
    env: &BenchEnv,
    client: reqwest::Client,
    servers: &Servers,
    options: &GatewayOptions,
) -> Result<GatewayReport, BenchError> {
    let mut tally = Tally::start(env, OrderPlaced::TOPIC).await?;
    rounds(env, &client, servers, options, &mut tally).await
}

/// The warm-up and the rounds.
async fn rounds(
    env: &BenchEnv,
    client: &reqwest::Client,
    servers: &Servers,
    options: &GatewayOptions,
    tally: &mut Tally,
) -> Result<GatewayReport, BenchError> {
    let body = order_body();
    let mut accepted = 0_u64;
    for server in [servers.trivial, servers.gateway] {
        if options.warmup > 0 {
            client::drive(client, server, &servers.tokens, &body, options.warmup).await?;
        }
    }
    accepted += options.warmup;

    let sides = [Side::Trivial, Side::Gateway];
    let mut samples: [Samples; 2] = Default::default();
    let mut relay_drain_ms = Vec::new();
    let mut published = 0;
    for round in 0..options.rounds {
        for i in 0..sides.len() {
            let index = (i + round) % sides.len();
            let server = match sides[index] {
                Side::Trivial => servers.trivial,
                Side::Gateway => servers.gateway,
            };
            let cpu = CpuMeter::start(env.broker_pid());
            let timed =
                client::drive(client, server, &servers.tokens, &body, options.requests).await?;
            let cpu = cpu.per_event(options.requests);
            let figures = &mut samples[index];
            let requests_per_sec = rate(options.requests, timed.elapsed);
            figures.requests_per_sec.push(requests_per_sec);
            figures
                .p50_ms
                .push(percentile(&timed.latencies_ms, 50.0).unwrap_or(0.0));
            figures
                .p99_ms
                .push(percentile(&timed.latencies_ms, 99.0).unwrap_or(0.0));
            figures.cpu.push(cpu);
            tracing::info!(
                round,
                side = ?sides[index],
                requests_per_sec = requests_per_sec.round(),
                "gateway round"
            );
            if sides[index] == Side::Gateway {
                accepted += options.requests;
                let (drain, on_topic) = tally.until(accepted, RELAY_TIMEOUT).await?;
                relay_drain_ms.push(drain.as_secs_f64() * 1e3);
                published = on_topic;
            }
        }
    }
    let [trivial, gateway] = samples;
    Ok(GatewayReport::new(
        env.describe(),
        options,
        body.len(),
        trivial,
        gateway,
        relay_drain_ms,
        published,
    ))
}

/// The request body both servers get.
fn order_body() -> String {
    let lines: Vec<serde_json::Value> = SKUS
        .iter()
        .zip(1..)
        .map(|(sku, quantity)| serde_json::json!({ "sku": sku, "quantity": quantity }))
        .collect();
    serde_json::json!({
        "lines": lines,
        "payment": { "token": "tok_visa_4242_00000000deadbeef" },
    })
    .to_string()
}
