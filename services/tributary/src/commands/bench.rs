//! `tributary bench`: the event-backbone benchmarks (see `tributary::bench`
//! and `docs/benchmarks.md`). Each prints a Markdown table, or JSON with
//! `--json`.

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::bench::{
    self, BenchEnv, EnvOptions, Payload,
    codec::CodecOptions,
    consume::ConsumeOptions,
    produce::ProduceOptions,
    rss::{ChildOptions, RssOptions, Variant},
};

/// Arguments of `tributary bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

/// Where to run and how to report; shared by the broker benchmarks.
#[derive(Debug, Args)]
pub struct Target {
    /// An existing broker's bootstrap servers (default: start a tansu broker
    /// with memory storage on a free port, stopped at the end).
    #[arg(long)]
    pub bootstrap: Option<String>,
    /// An existing Confluent-compatible registry (default: an in-process one
    /// on a free port).
    #[arg(long)]
    pub registry: Option<String>,
    /// A librdkafka property `key=value` for every client the benchmark
    /// creates (for `rss`: the backlog filler; use --variant for the
    /// measured consumer); repeatable.
    #[arg(long = "librdkafka", value_name = "KEY=VALUE")]
    pub librdkafka: Vec<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Typed EventProducer::send vs raw rdkafka FutureProducer sending the same bytes.
    Produce {
        #[command(flatten)]
        target: Target,
        /// Events per side per round, pipelined.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Events per side per round with one send in flight (latency-bound).
        #[arg(long, default_value_t = 300)]
        sequential_events: u64,
        /// Sends in flight in the pipelined variant.
        #[arg(long, default_value_t = 1024)]
        in_flight: usize,
        /// Rounds; sides alternate, medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Orders with three lines, a full token and an idempotency key
        /// (default: one line, short token: per-message overhead).
        #[arg(long)]
        payload_realistic: bool,
        /// Events each side sends before the first round.
        #[arg(long, default_value_t = 2_000)]
        warmup: u64,
    },
    /// ConsumerGroup + no-op handler vs raw rdkafka StreamConsumer draining one backlog.
    Consume {
        #[command(flatten)]
        target: Target,
        /// Backlog size; every side drains all of it every round.
        #[arg(long, default_value_t = 100_000)]
        events: u64,
        /// Partitions of the backlog topic.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Rounds; the order of the sides rotates, medians are reported.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        /// Realistic orders (see `produce`).
        #[arg(long)]
        payload_realistic: bool,
    },
    /// Avro (apache-avro, serde_avro_fast) vs serde_json, per event type; no broker.
    Codec {
        /// Operations timed per event type, codec operation and round.
        #[arg(long, default_value_t = 5_000)]
        events: u64,
        /// Rounds; operations rotate, medians are reported. Many short
        /// rounds keep a neighbour's burst of work out of the median.
        #[arg(long, default_value_t = 21)]
        rounds: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Peak RSS of one consumer process draining a large backlog.
    Rss {
        #[command(flatten)]
        target: Target,
        /// Backlog size.
        #[arg(long, default_value_t = 1_000_000)]
        events: u64,
        /// Partitions of the backlog topic.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// A consumer configuration to measure: `default`, or librdkafka
        /// overrides `key=value[,key=value…]`; repeatable, each drains the
        /// same backlog in its own child process.
        #[arg(long = "variant", default_value = "default")]
        variants: Vec<String>,
        /// Upper bound on one child's run.
        #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
        child_timeout: Duration,
        /// Use minimal orders instead of realistic ones.
        #[arg(long)]
        payload_minimal: bool,
    },
    /// The consumer process `bench rss` measures (internal).
    #[command(hide = true)]
    RssConsumer {
        #[arg(long)]
        bootstrap: String,
        #[arg(long)]
        registry: String,
        #[arg(long)]
        topic: String,
        #[arg(long)]
        events: u64,
        /// librdkafka override `key=value`; repeatable.
        #[arg(long = "librdkafka")]
        librdkafka: Vec<String>,
        #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
        timeout: Duration,
    },
}

fn payload(realistic: bool) -> Payload {
    if realistic {
        Payload::Realistic
    } else {
        Payload::Minimal
    }
}

/// Runs a `bench` subcommand.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Produce {
            target,
            events,
            sequential_events,
            in_flight,
            rounds,
            payload_realistic,
            warmup,
        } => {
            let options = ProduceOptions {
                events,
                sequential_events,
                in_flight,
                rounds,
                payload: payload(payload_realistic),
                warmup,
            };
            with_env(&target, |env| async move {
                let report = bench::produce::run(&env, &options).await;
                (env, report)
            })
            .await
            .map(|r| print(target.json, &r, || r.table().to_string(), &r.environment))
        }
        BenchCommand::Consume {
            target,
            events,
            partitions,
            rounds,
            payload_realistic,
        } => {
            let options = ConsumeOptions {
                events,
                partitions,
                rounds,
                payload: payload(payload_realistic),
            };
            with_env(&target, |env| async move {
                let report = bench::consume::run(&env, &options).await;
                (env, report)
            })
            .await
            .map(|r| print(target.json, &r, || r.table().to_string(), &r.environment))
        }
        BenchCommand::Codec {
            events,
            rounds,
            json,
        } => {
            let options = CodecOptions {
                iterations: events,
                rounds,
            };
            // Pure CPU for tens of seconds: off the async workers.
            let report = tokio::task::spawn_blocking(move || bench::codec::run(&options))
                .await
                .context("the codec benchmark task failed")??;
            print(json, &report, || report.table().to_string(), "no broker");
            Ok(())
        }
        BenchCommand::Rss {
            target,
            events,
            partitions,
            variants,
            child_timeout,
            payload_minimal,
        } => {
            let options = RssOptions {
                events,
                partitions,
                payload: payload(!payload_minimal),
                variants: variants
                    .iter()
                    .map(|v| Variant::parse(v))
                    .collect::<Result<_, _>>()?,
                child_timeout,
            };
            with_env(&target, |env| async move {
                let report = bench::rss::run(&env, &options).await;
                (env, report)
            })
            .await
            .map(|r| print(target.json, &r, || r.table().to_string(), &r.environment))
        }
        BenchCommand::RssConsumer {
            bootstrap,
            registry,
            topic,
            events,
            librdkafka,
            timeout,
        } => {
            let librdkafka = librdkafka
                .iter()
                .map(|pair| bench::rss::parse_pair(pair))
                .collect::<Result<_, _>>()?;
            bench::rss::child(ChildOptions {
                bootstrap,
                registry,
                topic,
                events,
                librdkafka,
                timeout,
            })
            .await?;
            Ok(())
        }
    }
}

/// Starts the environment, runs `body`, and stops the environment whatever
/// the outcome.
async fn with_env<F, Fut, T>(target: &Target, body: F) -> anyhow::Result<T>
where
    F: FnOnce(BenchEnv) -> Fut,
    Fut: std::future::Future<Output = (BenchEnv, Result<T, bench::BenchError>)>,
{
    let librdkafka = target
        .librdkafka
        .iter()
        .map(|pair| bench::rss::parse_pair(pair))
        .collect::<Result<_, _>>()?;
    let env = BenchEnv::start(&EnvOptions {
        bootstrap: target.bootstrap.clone(),
        registry: target.registry.clone(),
        librdkafka,
    })
    .await
    .context("starting the benchmark environment")?;
    tracing::info!(environment = %env.describe(), "benchmark environment ready");
    let (env, outcome) = body(env).await;
    env.stop().await;
    Ok(outcome?)
}

/// Prints the report as JSON, or as a table with what it ran against.
fn print<R: Serialize>(json: bool, report: &R, table: impl FnOnce() -> String, environment: &str) {
    if json {
        match serde_json::to_string_pretty(report) {
            Ok(text) => println!("{text}"),
            Err(error) => eprintln!("error: cannot render the report as JSON: {error}"),
        }
    } else {
        println!("{}", table());
        println!("Measured against: {environment}.");
    }
}
