//! `tributary bench compare`: Kafka (tansu) against RabbitMQ on one machine
//! in one run, with the same Confluent-framed Avro `OrderPlaced` payloads
//! and durable settings on both sides (issue 4, item 6).
//!
//! - [`series`]: saturation throughput and latency at fixed offered rates,
//!   for competing consumers (one Kafka group of N, or N consumers on one
//!   queue) and fanout (two Kafka groups, or two queues on a fanout
//!   exchange); RabbitMQ with classic v2 and with quorum queues.
//! - [`behaviour`]: replay, per-key ordering and crash redelivery, counted.
//! - [`report`] and [`plot`]: the Markdown document and its SVG figure.
//!
//! Both brokers are driven through one [`pace::Publisher`] trait and report
//! into one [`collector::Collector`], so the two sides differ only in the
//! broker client code in [`kafka`] and [`rabbit`].

mod behaviour;
mod collector;
mod kafka;
mod ordering;
mod pace;
mod plot;
mod rabbit;
mod report;
mod rig;
mod series;
mod stamp;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use serde::Serialize;
use tributary_bus::EventCodec;

pub use behaviour::{BehaviourReport, CrashResult, OrderingResult, ReplayResult};
pub use ordering::{OrderingCount, out_of_order_pairs};
pub use rabbit::QueueKind;
pub use series::PointResult;

use self::{
    collector::Collector,
    kafka::KafkaRig,
    pace::{Pace, Pool, Publisher},
    rabbit::RabbitRig,
    rig::{RigSpec, Work},
    series::point,
};
use super::{BenchEnv, BenchError, Payload, fixtures::order_placed};

/// Events of the unreported warm-up point each rig sends first
/// (connections, group coordination, queue creation on disk).
const WARMUP_EVENTS: u64 = 200;

/// What to run. Defaults live in the `bench compare` command line.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// RabbitMQ, `amqp://user:pass@host:port/vhost`.
    pub amqp_url: String,
    /// Consumers per group (Kafka) or per queue (RabbitMQ).
    pub consumers: usize,
    /// Partitions of each Kafka topic.
    pub partitions: i32,
    /// RabbitMQ per-consumer prefetch (unacknowledged deliveries in flight).
    pub prefetch: u16,
    /// Offered rates of the latency points, events/s.
    pub rates: Vec<u64>,
    /// How long each latency point sends.
    pub point_duration: Duration,
    /// How long a point may take to drain after its last send.
    pub drain_timeout: Duration,
    /// Events of the saturation point.
    pub saturation_events: u64,
    /// Unconfirmed publishes in flight at saturation (both brokers).
    pub in_flight: usize,
    /// Events of each behaviour run.
    pub behaviour_events: u64,
    /// Distinct order keys the events cycle over.
    pub keys: usize,
    /// How long a behaviour reader waits for one more message before it
    /// concludes there are no more ("nothing came within this").
    pub settle: Duration,
    pub payload: Payload,
    /// RabbitMQ queue types measured in the throughput/latency series.
    pub queue_kinds: Vec<QueueKind>,
}

impl CompareOptions {
    fn validate(&self) -> Result<(), BenchError> {
        let positive: [(&'static str, bool); 7] = [
            ("--consumers", self.consumers > 0),
            ("--partitions", self.partitions > 0),
            ("--prefetch", self.prefetch > 0),
            (
                "--rates",
                !self.rates.is_empty() && self.rates.iter().all(|r| *r > 0),
            ),
            ("--point-duration", !self.point_duration.is_zero()),
            ("--in-flight", self.in_flight > 0),
            ("--keys", self.keys > 0),
        ];
        match positive.iter().find(|(_, ok)| !ok) {
            Some((arg, _)) => Err(BenchError::Argument {
                arg,
                detail: "must be positive (and --rates non-empty)".to_owned(),
            }),
            None => Ok(()),
        }
    }
}

/// How the consumers share the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// Each event processed once: one Kafka group of N consumers, or N
    /// competing consumers on one RabbitMQ queue.
    Competing,
    /// Each event processed once per group: two Kafka groups, or two queues
    /// bound to one fanout exchange.
    Fanout,
}

impl Topology {
    pub fn groups(self) -> usize {
        match self {
            Topology::Competing => 1,
            Topology::Fanout => 2,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Topology::Competing => "competing consumers",
            Topology::Fanout => "fanout to two groups",
        }
    }
}

/// One broker configuration through the whole plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub broker: String,
    pub topology: Topology,
    /// What the topology is on this broker.
    pub shape: String,
    pub saturation: PointResult,
    pub points: Vec<PointResult>,
}

impl Series {
    /// The highest offered rate that kept up, if any did.
    pub fn highest_kept_up(&self) -> Option<f64> {
        self.points
            .iter()
            .filter(|p| p.kept_up())
            .filter_map(|p| p.offered_per_sec)
            .reduce(f64::max)
    }
}

/// Everything one run measured, and what it ran on.
#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub command: String,
    /// UTC, RFC 3339.
    pub date: String,
    pub machine: String,
    pub tansu_version: String,
    pub rabbitmq_version: String,
    pub environment: String,
    pub amqp_url: String,
    pub framed_bytes: usize,
    pub keys: usize,
    pub consumers: usize,
    pub partitions: i32,
    pub prefetch: u16,
    pub in_flight: usize,
    pub point_duration_secs: f64,
    pub drain_timeout_secs: f64,
    pub saturation_events: u64,
    pub payload: Payload,
    pub series: Vec<Series>,
    pub behaviour: BehaviourReport,
    /// Wall-clock time of the whole run.
    pub run_secs: f64,
}

/// Shared by the scenarios of one run.
pub(crate) struct Context<'a> {
    pub env: &'a BenchEnv,
    pub options: &'a CompareOptions,
    pub collector: Arc<Collector>,
    pub pool: Pool,
    point: u32,
}

impl Context<'_> {
    /// A point number no earlier point of the run used.
    pub fn next_point(&mut self) -> u32 {
        self.point += 1;
        self.point
    }
}

/// Runs every scenario; `command` is recorded in the report as given.
pub async fn run(
    env: &BenchEnv,
    options: &CompareOptions,
    command: String,
) -> Result<CompareReport, BenchError> {
    options.validate()?;
    let started = Instant::now();
    // Fail early, with the URL in the message, when RabbitMQ is not there.
    let probe = rabbit::connect(&options.amqp_url).await?;
    let _ = probe.close(200, "probed".into()).await;
    let rabbitmq_version = rabbit::server_version(&options.amqp_url)
        .await
        .unwrap_or_else(|| "unknown".to_owned());
    let pool = build_pool(env, options).await?;
    let mut ctx = Context {
        env,
        options,
        collector: Arc::new(Collector::new()),
        pool,
        point: 0,
    };
    let mut series = Vec::new();
    for topology in [Topology::Competing, Topology::Fanout] {
        series.push(kafka_series(&mut ctx, topology).await?);
        for kind in &options.queue_kinds {
            series.push(rabbit_series(&mut ctx, topology, *kind).await?);
        }
    }
    let behaviour = behaviour::run(&mut ctx).await?;
    Ok(CompareReport {
        command,
        date: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        machine: machine(),
        tansu_version: tributary_broker::TANSU_BUILD.to_owned(),
        rabbitmq_version,
        environment: env.describe(),
        amqp_url: redact(&options.amqp_url),
        framed_bytes: ctx.pool.framed_bytes(),
        keys: options.keys,
        consumers: options.consumers,
        partitions: options.partitions,
        prefetch: options.prefetch,
        in_flight: options.in_flight,
        point_duration_secs: options.point_duration.as_secs_f64(),
        drain_timeout_secs: options.drain_timeout.as_secs_f64(),
        saturation_events: options.saturation_events,
        payload: options.payload,
        series,
        behaviour,
        run_secs: started.elapsed().as_secs_f64(),
    })
}

/// One pre-encoded `OrderPlaced` per key, through the registry like the
/// services' producers.
async fn build_pool(env: &BenchEnv, options: &CompareOptions) -> Result<Pool, BenchError> {
    let codec = EventCodec::new(env.registry().clone());
    let mut entries = Vec::with_capacity(options.keys);
    for k in 0..options.keys as u64 {
        let event = order_placed(k, options.payload);
        entries.push((
            event.order_id.to_string().into_bytes(),
            codec.encode(&event).await?,
        ));
    }
    Pool::new(entries)
}

/// The plan: a warm-up, the offered rates in ascending order, saturation.
async fn measure<P: Publisher>(
    ctx: &mut Context<'_>,
    rig: &P,
    groups: usize,
) -> Result<(PointResult, Vec<PointResult>), BenchError> {
    let options = ctx.options;
    let warmup = Pace::Saturate {
        events: WARMUP_EVENTS,
        in_flight: options.in_flight,
    };
    let id = ctx.next_point();
    point(
        rig,
        warmup,
        id,
        groups,
        &ctx.pool,
        &ctx.collector,
        options.drain_timeout,
    )
    .await?;
    let mut rates = options.rates.clone();
    rates.sort_unstable();
    let mut points = Vec::new();
    for rate in rates {
        let pace = Pace::Rate {
            per_sec: rate as f64,
            duration: options.point_duration,
        };
        let id = ctx.next_point();
        let (result, _) = point(
            rig,
            pace,
            id,
            groups,
            &ctx.pool,
            &ctx.collector,
            options.drain_timeout,
        )
        .await?;
        points.push(result);
    }
    let saturate = Pace::Saturate {
        events: options.saturation_events.max(1),
        in_flight: options.in_flight,
    };
    let id = ctx.next_point();
    let (saturation, _) = point(
        rig,
        saturate,
        id,
        groups,
        &ctx.pool,
        &ctx.collector,
        options.drain_timeout,
    )
    .await?;
    Ok((saturation, points))
}

async fn kafka_series(ctx: &mut Context<'_>, topology: Topology) -> Result<Series, BenchError> {
    let spec = RigSpec {
        groups: topology.groups(),
        consumers: ctx.options.consumers,
        work: Work::Nothing,
    };
    tracing::info!(?topology, "kafka series");
    let rig = KafkaRig::start(ctx.env, ctx.options.partitions, spec, &ctx.collector).await?;
    let outcome = measure(ctx, &rig, spec.groups).await;
    rig.stop().await;
    let (saturation, points) = outcome?;
    let shape = match topology {
        Topology::Competing => format!(
            "one group of {} consumers, {} partitions",
            spec.consumers, ctx.options.partitions
        ),
        Topology::Fanout => format!(
            "two groups of {} consumers, {} partitions",
            spec.consumers, ctx.options.partitions
        ),
    };
    Ok(Series {
        broker: "Kafka (tansu)".to_owned(),
        topology,
        shape,
        saturation,
        points,
    })
}

async fn rabbit_series(
    ctx: &mut Context<'_>,
    topology: Topology,
    kind: QueueKind,
) -> Result<Series, BenchError> {
    let spec = RigSpec {
        groups: topology.groups(),
        consumers: ctx.options.consumers,
        work: Work::Nothing,
    };
    tracing::info!(?topology, ?kind, "rabbitmq series");
    let rig = RabbitRig::start(
        &ctx.options.amqp_url,
        kind,
        spec,
        ctx.options.prefetch,
        &ctx.collector,
    )
    .await?;
    let outcome = measure(ctx, &rig, spec.groups).await;
    rig.stop().await;
    let (saturation, points) = outcome?;
    let shape = match topology {
        Topology::Competing => format!(
            "{} competing consumers on one queue, prefetch {}",
            spec.consumers, ctx.options.prefetch
        ),
        Topology::Fanout => format!(
            "fanout exchange, two queues, {} consumers each, prefetch {}",
            spec.consumers, ctx.options.prefetch
        ),
    };
    Ok(Series {
        broker: format!("RabbitMQ ({})", kind.label()),
        topology,
        shape,
        saturation,
        points,
    })
}

/// Writes the Markdown to `out` and the plot next to it (same name, `.svg`).
pub fn write(report: &CompareReport, out: &Path) -> Result<PathBuf, BenchError> {
    let svg_path = out.with_extension("svg");
    let svg_name = svg_path.file_name().map_or_else(
        || "comparison.svg".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let svg = plot::render(&report.series)?;
    let markdown = report::markdown(report, &svg_name);
    std::fs::write(&svg_path, svg)
        .map_err(BenchError::io(format!("writing {}", svg_path.display())))?;
    std::fs::write(out, markdown).map_err(BenchError::io(format!("writing {}", out.display())))?;
    Ok(svg_path)
}

/// The Markdown alone, with the plot referred to as `svg_name`.
pub fn markdown(report: &CompareReport, svg_name: &str) -> String {
    report::markdown(report, svg_name)
}

/// `amqp://user:secret@host` → `amqp://user:***@host`.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// CPUs, model, memory and load at the start, from `/proc` (Linux).
fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown CPU", |(_, m)| m.trim())
        .to_owned();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_gb = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or_else(
            || "? GB".to_owned(),
            |kb| format!("{:.0} GB", kb / 1_048_576.0),
        );
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    format!(
        "{cpus} vCPUs ({model}), {memory_gb} RAM, {}; load average {load} at the start",
        std::env::consts::OS
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(redact("amqp://127.0.0.1:5672"), "amqp://127.0.0.1:5672");
    }

    #[test]
    fn topologies_have_one_or_two_groups() {
        assert_eq!(Topology::Competing.groups(), 1);
        assert_eq!(Topology::Fanout.groups(), 2);
    }
}
