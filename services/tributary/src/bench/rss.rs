//! `tributary bench rss`: peak resident memory of one consumer draining a
//! large backlog.
//!
//! The parent writes the backlog, then runs our `ConsumerGroup` with a no-op
//! handler in a child process (`tributary bench rss-consumer`, hidden) so the
//! figure is that consumer's alone: not the broker's, the registry's or the
//! filler's. The parent samples the child's `/proc/<pid>/status` while it
//! runs and reads its `VmHWM` (the kernel's peak RSS) once the child reports
//! the backlog drained, before letting it exit.
//!
//! Several variants (librdkafka overrides passed through `BusConfig`'s
//! passthrough map) can run against the same backlog to find the settings
//! that bound memory.

use std::{
    collections::BTreeMap,
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader},
    process::Command,
};
use tokio_util::sync::CancellationToken;
use tributary_bus::{BusConfig, ConsumerGroup, EventCodec};
use tributary_registry::{ClientConfig as RegistryClientConfig, RegistryClient};
use tributary_telemetry::Metrics;

use super::{
    BenchEnv, BenchError, Payload, Table,
    env::unique_name,
    fill::{Backlog, fill_backlog},
    handler::{CountingHandler, Progress, stop_group},
    report::thousands,
    stats::rate,
};

/// The goal for one consumer's peak RSS.
pub const GOAL_MIB: f64 = 256.0;
/// How often the parent samples the child's memory.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// One timeline point every this many samples (once a second).
const TIMELINE_EVERY: usize = 10;
/// How long the child may take to stop its consumer group and exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the child waits for the parent to read its memory and release it.
const RELEASE_TIMEOUT: Duration = Duration::from_secs(60);

/// A set of librdkafka overrides to run the consumer with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Variant {
    pub name: String,
    pub librdkafka: BTreeMap<String, String>,
}

impl Variant {
    /// `default` (no overrides) or `key=value[,key=value…]`.
    pub fn parse(text: &str) -> Result<Variant, BenchError> {
        let text = text.trim();
        if text.is_empty() || text == "default" {
            return Ok(Variant {
                name: "default".to_owned(),
                librdkafka: BTreeMap::new(),
            });
        }
        let librdkafka = text
            .split(',')
            .map(|pair| parse_pair(pair.trim()))
            .collect::<Result<BTreeMap<_, _>, _>>()?;
        Ok(Variant {
            name: text.to_owned(),
            librdkafka,
        })
    }
}

/// `key=value`, both non-empty.
pub fn parse_pair(pair: &str) -> Result<(String, String), BenchError> {
    match pair.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() && !v.trim().is_empty() => {
            Ok((k.trim().to_owned(), v.trim().to_owned()))
        }
        _ => Err(BenchError::Argument {
            arg: "--variant/--librdkafka",
            detail: format!("`{pair}` is not key=value"),
        }),
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct RssOptions {
    pub events: u64,
    pub partitions: i32,
    pub payload: Payload,
    pub variants: Vec<Variant>,
    /// Upper bound on one child's whole run.
    pub child_timeout: Duration,
}

/// One child's figures.
#[derive(Debug, Clone, Serialize)]
pub struct VariantRss {
    pub variant: Variant,
    /// The kernel's peak RSS of the child, read after it drained everything.
    pub vm_hwm_kib: u64,
    /// The highest VmRSS the parent saw while sampling.
    pub max_sampled_rss_kib: u64,
    /// The child's RSS once started, before joining the group.
    pub baseline_rss_kib: u64,
    pub samples: usize,
    /// VmRSS once a second over the child's life: `(seconds, KiB)`. A
    /// plateau means memory is bounded; a slope means it grows with the
    /// backlog.
    pub timeline: Vec<(f64, u64)>,
    pub handled: u64,
    pub drain_secs: f64,
    pub events_per_sec: f64,
}

impl VariantRss {
    pub fn peak_mib(&self) -> f64 {
        self.vm_hwm_kib as f64 / 1024.0
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    pub environment: String,
    pub events: u64,
    pub partitions: i32,
    pub payload: Payload,
    pub backlog: Backlog,
    pub variants: Vec<VariantRss>,
    pub goal_mib: f64,
}

impl RssReport {
    pub fn table(&self) -> Table {
        let mut table = Table::new([
            "librdkafka overrides",
            "peak RSS (VmHWM) MiB",
            "max sampled VmRSS MiB",
            "RSS at start MiB",
            "VmRSS MiB at ¼ ½ ¾ of the run",
            "drain s",
            "events/s",
            "goal",
        ]);
        let mib = |kib: u64| format!("{:.1}", kib as f64 / 1024.0);
        for v in &self.variants {
            table.row([
                v.variant.name.clone(),
                mib(v.vm_hwm_kib),
                mib(v.max_sampled_rss_kib),
                mib(v.baseline_rss_kib),
                quarters(&v.timeline)
                    .iter()
                    .map(|kib| format!("{:.0}", *kib as f64 / 1024.0))
                    .collect::<Vec<_>>()
                    .join(" "),
                format!("{:.1}", v.drain_secs),
                thousands(v.events_per_sec),
                if v.peak_mib() <= self.goal_mib {
                    format!("≤ {} MiB met", self.goal_mib)
                } else {
                    format!("≤ {} MiB NOT met", self.goal_mib)
                },
            ]);
        }
        table
    }
}

/// The timeline's values at a quarter, half and three quarters of its span.
fn quarters(timeline: &[(f64, u64)]) -> Vec<u64> {
    if timeline.is_empty() {
        return Vec::new();
    }
    [1, 2, 3]
        .iter()
        .map(|q| timeline[(timeline.len() * q / 4).min(timeline.len() - 1)].1)
        .collect()
}

/// Memory figures of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStatus {
    pub vm_rss_kib: u64,
    pub vm_hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` out of a `/proc/<pid>/status` text; `None` when
/// either is missing (a zombie has neither).
pub fn parse_status(status: &str) -> Option<MemoryStatus> {
    let field = |name: &str| {
        status.lines().find_map(|line| {
            let rest = line.strip_prefix(name)?.strip_prefix(':')?;
            let mut parts = rest.split_whitespace();
            let value = parts.next()?.parse::<u64>().ok()?;
            match parts.next() {
                Some("kB") => Some(value),
                _ => None,
            }
        })
    };
    Some(MemoryStatus {
        vm_rss_kib: field("VmRSS")?,
        vm_hwm_kib: field("VmHWM")?,
    })
}

/// The memory status of process `pid` (`self` for this one).
pub fn read_status(pid: &str) -> Option<MemoryStatus> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&text)
}

/// What the child tells the parent, one JSON object per stdout line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildReport {
    /// Started, before joining the group.
    Ready { rss_kib: u64 },
    /// Every event handled; waiting to be released.
    Drained {
        handled: u64,
        elapsed_ms: u64,
        vm_hwm_kib: u64,
    },
}

pub async fn run(env: &BenchEnv, options: &RssOptions) -> Result<RssReport, BenchError> {
    if options.events < 2 || options.partitions < 1 || options.variants.is_empty() {
        return Err(BenchError::Argument {
            arg: "--events/--partitions/--variant",
            detail: "need at least 2 events, 1 partition and 1 variant".to_owned(),
        });
    }
    let topic = unique_name("bench-rss");
    env.create_topic(&topic, options.partitions).await?;
    tracing::info!(%topic, events = options.events, "writing the backlog");
    let backlog = fill_backlog(env, &topic, options.events, options.payload).await?;
    tracing::info!(elapsed_ms = backlog.elapsed_ms as u64, "backlog written");

    let mut variants = Vec::with_capacity(options.variants.len());
    for variant in &options.variants {
        let result = run_child(env, &topic, options, variant).await?;
        tracing::info!(
            variant = %variant.name,
            peak_mib = result.peak_mib(),
            events_per_sec = result.events_per_sec.round(),
            "consumer drained the backlog"
        );
        variants.push(result);
    }
    Ok(RssReport {
        environment: env.describe(),
        events: options.events,
        partitions: options.partitions,
        payload: options.payload,
        backlog,
        variants,
        goal_mib: GOAL_MIB,
    })
}

async fn run_child(
    env: &BenchEnv,
    topic: &str,
    options: &RssOptions,
    variant: &Variant,
) -> Result<VariantRss, BenchError> {
    let exe = std::env::current_exe().map_err(BenchError::io("locating the tributary binary"))?;
    let mut command = Command::new(exe);
    command
        .args(["bench", "rss-consumer", "--bootstrap", env.bootstrap()])
        .args(["--registry", env.registry_url(), "--topic", topic])
        .args(["--events", &options.events.to_string()]);
    for (key, value) in &variant.librdkafka {
        command.arg("--librdkafka").arg(format!("{key}={value}"));
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(BenchError::io("starting the consumer child process"))?;
    let pid = child
        .id()
        .map(|id| id.to_string())
        .ok_or_else(|| BenchError::Child {
            detail: "exited at once".to_owned(),
        })?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().ok_or_else(|| BenchError::Child {
        detail: "no stdout pipe".to_owned(),
    })?;
    let mut lines = BufReader::new(stdout).lines();
    let mut ticker = tokio::time::interval(SAMPLE_EVERY);
    let deadline = tokio::time::sleep(options.child_timeout);
    tokio::pin!(deadline);

    let mut max_sampled = 0_u64;
    let mut samples = 0_usize;
    let mut timeline = Vec::new();
    let mut baseline = 0_u64;
    let started = Instant::now();
    let drained = loop {
        tokio::select! {
            _ = ticker.tick() => {
                if let Some(status) = read_status(&pid) {
                    max_sampled = max_sampled.max(status.vm_rss_kib);
                    if samples.is_multiple_of(TIMELINE_EVERY) {
                        timeline.push((started.elapsed().as_secs_f64(), status.vm_rss_kib));
                    }
                    samples += 1;
                }
            }
            line = lines.next_line() => {
                let line = line.map_err(BenchError::io("reading the child's output"))?;
                let Some(line) = line else {
                    let status = child.wait().await.map(|s| s.to_string()).unwrap_or_default();
                    return Err(BenchError::Child { detail: format!("exited ({status}) before draining the backlog") });
                };
                match serde_json::from_str::<ChildReport>(&line) {
                    Ok(ChildReport::Ready { rss_kib }) => baseline = rss_kib,
                    Ok(ChildReport::Drained { handled, elapsed_ms, vm_hwm_kib }) => {
                        break (handled, elapsed_ms, vm_hwm_kib);
                    }
                    Err(_) => tracing::debug!(%line, "child output"),
                }
            }
            () = &mut deadline => {
                return Err(BenchError::Timeout {
                    what: format!("the consumer child draining {} events", options.events),
                    after: options.child_timeout,
                });
            }
        }
    };
    // The child waits for us: its peak is still readable from outside.
    let (handled, elapsed_ms, self_reported_hwm) = drained;
    let status = read_status(&pid);
    if let Some(s) = status {
        max_sampled = max_sampled.max(s.vm_rss_kib);
    }
    let vm_hwm_kib = status.map_or(self_reported_hwm, |s| s.vm_hwm_kib);
    drop(stdin);
    if tokio::time::timeout(STOP_TIMEOUT, child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    tracing::debug!(elapsed = ?started.elapsed(), "consumer child finished");
    let drain = Duration::from_millis(elapsed_ms);
    Ok(VariantRss {
        variant: variant.clone(),
        vm_hwm_kib,
        max_sampled_rss_kib: max_sampled,
        baseline_rss_kib: baseline,
        samples,
        timeline,
        handled,
        drain_secs: drain.as_secs_f64(),
        events_per_sec: rate(handled.saturating_sub(1), drain),
    })
}

/// What the hidden child command gets.
#[derive(Debug, Clone)]
pub struct ChildOptions {
    pub bootstrap: String,
    pub registry: String,
    pub topic: String,
    pub events: u64,
    pub librdkafka: BTreeMap<String, String>,
    pub timeout: Duration,
}

/// The child: drains `events` from `topic` with a no-op typed handler,
/// reports on stdout, then waits until the parent closes its stdin.
pub async fn child(options: ChildOptions) -> Result<(), BenchError> {
    let mut config = BusConfig::new(options.bootstrap, options.registry);
    config.librdkafka = options.librdkafka;
    let registry = RegistryClient::new(&config.registry_url, RegistryClientConfig::default())?;
    let codec = EventCodec::new(registry);
    let progress = Progress::new(options.events);
    let group = ConsumerGroup::new(
        config,
        unique_name("bench-rss"),
        [options.topic],
        codec,
        Arc::new(CountingHandler(progress.clone())),
    )
    .with_metrics(Metrics::new());

    let rss_kib = read_status("self").map_or(0, |s| s.vm_rss_kib);
    report(&ChildReport::Ready { rss_kib }).await?;

    let shutdown = CancellationToken::new();
    let mut running = tokio::spawn(group.run(shutdown.clone()));
    let outcome = tokio::select! {
        () = progress.done().cancelled() => Ok(()),
        ended = &mut running => Err(BenchError::Child {
            detail: match ended {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(_)) => "the consumer group stopped early".to_owned(),
                Err(e) => e.to_string(),
            },
        }),
        () = tokio::time::sleep(options.timeout) => Err(BenchError::Timeout {
            what: format!("draining {} events (got {})", options.events, progress.count()),
            after: options.timeout,
        }),
    };
    stop_group(&shutdown, running).await;
    outcome?;
    let elapsed_ms = progress
        .elapsed()
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let vm_hwm_kib = read_status("self").map_or(0, |s| s.vm_hwm_kib);
    report(&ChildReport::Drained {
        handled: progress.count(),
        elapsed_ms,
        vm_hwm_kib,
    })
    .await?;
    // Stay alive (and measurable) until the parent has read our memory.
    let mut sink = Vec::new();
    let _ = tokio::time::timeout(RELEASE_TIMEOUT, tokio::io::stdin().read_to_end(&mut sink)).await;
    Ok(())
}

async fn report(message: &ChildReport) -> Result<(), BenchError> {
    let mut line = serde_json::to_vec(message).map_err(|e| BenchError::Child {
        detail: e.to_string(),
    })?;
    line.push(b'\n');
    let mut stdout = tokio::io::stdout();
    stdout
        .write_all(&line)
        .await
        .map_err(BenchError::io("writing to the parent"))?;
    stdout
        .flush()
        .await
        .map_err(BenchError::io("writing to the parent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\ttributary\nUmask:\t0022\nState:\tS (sleeping)\n\
        VmPeak:\t 1203344 kB\nVmSize:\t 1137808 kB\nVmHWM:\t  183212 kB\n\
        VmRSS:\t  150100 kB\nRssAnon:\t  120000 kB\nThreads:\t17\n";

    #[test]
    fn parses_rss_and_high_water_mark() {
        assert_eq!(
            parse_status(STATUS),
            Some(MemoryStatus {
                vm_rss_kib: 150_100,
                vm_hwm_kib: 183_212,
            })
        );
    }

    #[test]
    fn a_status_without_memory_lines_gives_none() {
        // Zombies and kernel threads have no Vm* lines.
        assert_eq!(parse_status("Name:\tkthreadd\nState:\tZ (zombie)\n"), None);
        assert_eq!(parse_status("VmHWM:\t12 MB\nVmRSS:\t1 kB\n"), None);
        // `VmRSSx` is not `VmRSS`.
        assert_eq!(parse_status("VmRSSx:\t1 kB\nVmHWM:\t2 kB\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let status = read_status("self").expect("/proc/self/status is readable on Linux");
        assert!(status.vm_rss_kib > 0);
        assert!(status.vm_hwm_kib >= status.vm_rss_kib);
    }

    #[test]
    fn parses_variants() {
        assert_eq!(
            Variant::parse("default").expect("valid").librdkafka.len(),
            0
        );
        let v = Variant::parse("queued.max.messages.kbytes=16384, fetch.max.bytes=1048576")
            .expect("valid");
        assert_eq!(
            v.librdkafka
                .get("queued.max.messages.kbytes")
                .map(String::as_str),
            Some("16384")
        );
        assert_eq!(v.librdkafka.len(), 2);
        assert!(Variant::parse("nonsense").is_err());
        assert!(Variant::parse("a=").is_err());
    }

    #[test]
    fn timeline_quarters() {
        let timeline: Vec<(f64, u64)> = (0u32..8)
            .map(|i| (f64::from(i), u64::from(i) * 10))
            .collect();
        assert_eq!(quarters(&timeline), vec![20, 40, 60]);
        assert_eq!(quarters(&[(0.0, 5)]), vec![5, 5, 5]);
        assert!(quarters(&[]).is_empty());
    }

    #[test]
    fn child_reports_round_trip_as_json_lines() {
        let report = ChildReport::Drained {
            handled: 10,
            elapsed_ms: 5,
            vm_hwm_kib: 7,
        };
        let line = serde_json::to_string(&report).expect("valid");
        assert!(!line.contains('\n'));
        assert_eq!(
            serde_json::from_str::<ChildReport>(&line).expect("valid"),
            report
        );
    }
}
