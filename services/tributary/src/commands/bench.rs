//! `tributary bench`: the event-backbone benchmarks (see `tributary::bench`
//! and `docs/benchmarks.md`). Each prints a Markdown table, or JSON with
//! `--json`.

use std::{path::PathBuf, time::Duration};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde::Serialize;

use crate::bench::{
    self, BenchEnv, BenchError, EnvOptions, Payload, Table,
    codec::CodecOptions,
    compare::{CompareOptions, CompareReport, QueueKind},
    consume::{ConsumeOptions, ConsumeReport},
    gateway::GatewayOptions,
    produce::{ProduceOptions, ProduceReport},
    rss::{ChildOptions, RssOptions, RssReport, Variant},
    views::ViewsOptions,
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

impl Target {
    /// A broker and a registry of the benchmark's own, no overrides.
    fn own(json: bool) -> Target {
        Target {
            bootstrap: None,
            registry: None,
            librdkafka: Vec::new(),
            json,
        }
    }
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
    /// Kafka (tansu) vs RabbitMQ: throughput, latency at fixed rates,
    /// fanout, and behaviour (replay, per-key ordering, crash redelivery).
    Compare(CompareArgs),
    /// The orders view built by `views rebuild` and by the live consumer
    /// vs a raw rdkafka read of the same topics (goal ≥ 0.5×).
    Views {
        #[command(flatten)]
        target: Target,
        /// Order sagas in the backlog (about 4.1 events each: 70 %
        /// confirmed, 20 % payment declined, 10 % stock rejected).
        #[arg(long, default_value_t = 2_500)]
        orders: u64,
        /// Partitions of each of the three topics.
        #[arg(long, default_value_t = 12)]
        partitions: i32,
        /// Rounds; the order of the sides rotates, medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// The gateway's POST /v1/orders vs a trivial axum handler on the same
    /// HTTP stack, in one process with its own broker (goal ≥ 0.5×).
    Gateway {
        /// Requests per side per round.
        #[arg(long, default_value_t = 5_000)]
        requests: u64,
        /// Requests in flight, one client (and user) each.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Rounds; sides alternate, medians are reported.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
        /// Requests each side answers before the first round.
        #[arg(long, default_value_t = 500)]
        warmup: u64,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
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

/// Arguments of `tributary bench compare`. The defaults finish in a few
/// minutes on two cores in a release build.
#[derive(Debug, Args)]
pub struct CompareArgs {
    #[command(flatten)]
    pub target: Target,
    /// RabbitMQ to compare against.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    /// Consumers per Kafka group and per RabbitMQ queue.
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Partitions of each Kafka topic.
    #[arg(long, default_value_t = 12)]
    pub partitions: i32,
    /// RabbitMQ prefetch per consumer.
    #[arg(long, default_value_t = 100)]
    pub prefetch: u16,
    /// Offered rates of the latency points, events/s, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "500,2000,5000")]
    pub rates: Vec<u64>,
    /// How long each latency point sends.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub point_duration: Duration,
    /// How long a point may take to drain after its last send.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    /// Events of the saturation point of each series.
    #[arg(long, default_value_t = 20_000)]
    pub saturation_events: u64,
    /// Unconfirmed publishes in flight at saturation.
    #[arg(long, default_value_t = 1_000)]
    pub in_flight: usize,
    /// Events of each behaviour run (replay, ordering, crash).
    #[arg(long, default_value_t = 1_000)]
    pub behaviour_events: u64,
    /// Distinct order keys the events cycle over.
    /// (Odd by default: with an even count and two consumers taking turns,
    /// every key would land on one consumer.)
    #[arg(long, default_value_t = 63)]
    pub keys: usize,
    /// How long a behaviour reader waits for one more message before it
    /// concludes there are no more.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// RabbitMQ queue types in the throughput and latency series:
    /// `classic-v2`, `quorum`; comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "classic-v2,quorum", value_parser = parse_queue_kind)]
    pub queue_types: Vec<QueueKind>,
    /// Minimal orders (one line) instead of realistic ones.
    #[arg(long)]
    pub payload_minimal: bool,
    /// Write the Markdown here and the plot next to it (`.svg`); without
    /// it the Markdown goes to standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// A sentence about the machine added to the report (e.g. that it was
    /// shared with other work during the run).
    #[arg(long)]
    pub machine_note: Option<String>,
}

fn parse_queue_kind(text: &str) -> Result<QueueKind, String> {
    match text {
        "classic-v2" | "classic" => Ok(QueueKind::ClassicV2),
        "quorum" => Ok(QueueKind::Quorum),
        other => Err(format!(
            "unknown queue type `{other}` (expected classic-v2 or quorum)"
        )),
    }
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
            measure(&target, async |env| {
                bench::produce::run(env, &options).await
            })
            .await
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
            measure(&target, async |env| {
                bench::consume::run(env, &options).await
            })
            .await
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
            measure(&target, async |env| bench::rss::run(env, &options).await).await
        }
        BenchCommand::Compare(args) => compare(args).await,
        BenchCommand::Views {
            target,
            orders,
            partitions,
            rounds,
        } => {
            let options = ViewsOptions {
                orders,
                partitions,
                rounds,
            };
            let report =
                with_env(&target, async |env| bench::views::run(env, &options).await).await?;
            print(
                target.json,
                &report,
                || format!("{}\nBacklog: {}.", report.table(), report.backlog()),
                &report.environment,
            );
            Ok(())
        }
        BenchCommand::Gateway {
            requests,
            concurrency,
            rounds,
            warmup,
            json,
        } => {
            let options = GatewayOptions {
                requests,
                concurrency,
                rounds,
                warmup,
            };
            let report = with_env(&Target::own(json), async |env| {
                bench::gateway::run(env, &options).await
            })
            .await?;
            print(
                json,
                &report,
                || format!("{}\n{}.", report.table(), report.relay()),
                &report.environment,
            );
            Ok(())
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

/// What the broker benchmarks report: a table and what it ran against.
trait Report: Serialize {
    fn table(&self) -> Table;
    fn environment(&self) -> &str;
}

impl Report for ProduceReport {
    fn table(&self) -> Table {
        ProduceReport::table(self)
    }
    fn environment(&self) -> &str {
        &self.environment
    }
}

impl Report for ConsumeReport {
    fn table(&self) -> Table {
        ConsumeReport::table(self)
    }
    fn environment(&self) -> &str {
        &self.environment
    }
}

impl Report for RssReport {
    fn table(&self) -> Table {
        RssReport::table(self)
    }
    fn environment(&self) -> &str {
        &self.environment
    }
}

/// The shared runner of the broker benchmarks: start the environment, run
/// `body`, stop the environment whatever the outcome, print the report.
async fn measure<R: Report>(
    target: &Target,
    body: impl AsyncFnOnce(&BenchEnv) -> Result<R, BenchError>,
) -> anyhow::Result<()> {
    let report = with_env(target, body).await?;
    print(
        target.json,
        &report,
        || report.table().to_string(),
        report.environment(),
    );
    Ok(())
}

/// Starts the environment, runs `body`, and stops the environment whatever
/// the outcome.
async fn with_env<T>(
    target: &Target,
    body: impl AsyncFnOnce(&BenchEnv) -> Result<T, BenchError>,
) -> anyhow::Result<T> {
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
    let outcome = body(&env).await;
    env.stop().await;
    Ok(outcome?)
}

/// `bench compare`: runs everything, then writes or prints the document.
async fn compare(args: CompareArgs) -> anyhow::Result<()> {
    let options = CompareOptions {
        amqp_url: args.amqp_url,
        consumers: args.consumers,
        partitions: args.partitions,
        prefetch: args.prefetch,
        rates: args.rates,
        point_duration: args.point_duration,
        drain_timeout: args.drain_timeout,
        saturation_events: args.saturation_events,
        in_flight: args.in_flight,
        behaviour_events: args.behaviour_events,
        keys: args.keys,
        settle: args.settle,
        payload: payload(!args.payload_minimal),
        queue_kinds: args.queue_types,
    };
    let command = command_line();
    let mut report: CompareReport = with_env(&args.target, async |env| {
        bench::compare::run(env, &options, command).await
    })
    .await?;
    if let Some(note) = args.machine_note {
        report.machine = format!("{}. {note}", report.machine);
    }
    if args.target.json {
        print(true, &report, String::new, "");
        return Ok(());
    }
    match args.out {
        Some(out) => {
            let svg = bench::compare::write(&report, &out)
                .with_context(|| format!("writing the report to {}", out.display()))?;
            println!("Wrote {} and {}.", out.display(), svg.display());
        }
        None => println!("{}", bench::compare::markdown(&report, "comparison.svg")),
    }
    Ok(())
}

/// The command as typed, program name shortened to `tributary`.
fn command_line() -> String {
    let mut words: Vec<String> = std::env::args().collect();
    if let Some(first) = words.first_mut() {
        let shown = if first.ends_with("/release/tributary") {
            "target/release/tributary"
        } else {
            "tributary"
        };
        *first = shown.to_owned();
    }
    words.join(" ")
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
