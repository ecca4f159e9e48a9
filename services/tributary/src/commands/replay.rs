//! `tributary replay`: read a range of a topic (by offsets or times,
//! optionally one key or partition) and print it decoded as JSON lines, copy
//! it to another topic, or point a consumer group at its start.
//!
//! `--to-group G` re-drives the range through G's own handlers by moving
//! G's committed offsets to the start of the range (G must have no active
//! members); the group then consumes from there to the head of the log when
//! it next runs — the end of the range does not stop a consumer group.

use std::io::Write as _;

use anyhow::Context as _;
use clap::{ArgGroup, Args};

use super::groups::ConnectArgs;
use crate::ops::{
    groups::{self, ResetTarget},
    progress::Progress,
    reader::read_ranges,
    replay::{self, Bound, RateLimiter, ReplaySpec},
    time::parse_rfc3339_ms,
};

/// Arguments of `tributary replay`.
#[derive(Debug, Args)]
#[command(
    group(ArgGroup::new("from").multiple(false).args(["from_offset", "from_time"])),
    group(ArgGroup::new("to").multiple(false).args(["to_offset", "to_time"])),
    group(ArgGroup::new("sink").required(true).multiple(false).args(["print", "to_topic", "to_group"])),
)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// The topic to read.
    #[arg(long)]
    pub topic: String,
    /// First offset (inclusive) on every selected partition.
    #[arg(long, value_name = "N")]
    pub from_offset: Option<i64>,
    /// First event at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    pub from_time: Option<String>,
    /// Stop before this offset (exclusive).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// Stop before the first event at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    pub to_time: Option<String>,
    /// Only records with this key.
    #[arg(long)]
    pub key: Option<String>,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<i32>,
    /// Print each event decoded through the registry as one JSON line.
    #[arg(long)]
    pub print: bool,
    /// Copy each record (bytes, key, headers) to this existing topic.
    #[arg(long, value_name = "TOPIC")]
    pub to_topic: Option<String>,
    /// Move this group's offsets to the start of the range (see above).
    #[arg(long, value_name = "GROUP")]
    pub to_group: Option<String>,
    /// At most this many events per second.
    #[arg(long, value_name = "EVENTS_PER_SEC")]
    pub rate: Option<f64>,
    /// Apply --to-group (otherwise its plan is printed only).
    #[arg(long)]
    pub execute: bool,
}

/// Runs `replay`.
pub async fn run(args: ReplayArgs) -> anyhow::Result<()> {
    let cluster = args.connect.cluster()?;
    let spec = ReplaySpec {
        topic: args.topic.clone(),
        partition: args.partition,
        from: match (&args.from_offset, &args.from_time) {
            (Some(o), _) => Some(Bound::Offset(*o)),
            (_, Some(t)) => Some(Bound::Time(parse_rfc3339_ms(t)?)),
            _ => None,
        },
        to: match (&args.to_offset, &args.to_time) {
            (Some(o), _) => Some(Bound::Offset(*o)),
            (_, Some(t)) => Some(Bound::Time(parse_rfc3339_ms(t)?)),
            _ => None,
        },
    };
    let ranges = replay::resolve_ranges(&cluster, &spec).await?;

    if let Some(group) = &args.to_group {
        if args.key.is_some() {
            anyhow::bail!(
                "--key cannot be combined with --to-group (a group reads whole partitions)"
            );
        }
        // Reuse the reset machinery: one plan per partition start.
        let mut rows = Vec::new();
        for r in &ranges {
            let plan = groups::plan_reset(
                &cluster,
                group,
                &args.topic,
                ResetTarget::Offset(r.start),
                Some(r.partition),
                true,
            )
            .await?;
            rows.extend(plan.rows);
        }
        let plan = groups::ResetPlan {
            group: group.clone(),
            topic: args.topic.clone(),
            rows,
        };
        if args.execute {
            groups::execute_reset(&cluster, &plan).await?;
        }
        if args.connect.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &serde_json::json!({"executed": args.execute, "plan": plan})
                )?
            );
        } else {
            for r in &plan.rows {
                println!(
                    "partition {}: {} -> {}",
                    r.partition,
                    r.current.map_or("-".into(), |c| c.to_string()),
                    r.target
                );
            }
            if args.execute {
                println!(
                    "group {group} will re-consume {} from these offsets when it next runs",
                    args.topic
                );
            } else {
                println!("dry run: nothing changed; add --execute to move group {group}");
            }
        }
        return Ok(());
    }

    let total: u64 = ranges.iter().map(|r| r.len()).sum();
    let codec = if args.print {
        Some(args.connect.codec()?)
    } else {
        None
    };
    let producer = match &args.to_topic {
        Some(t) => {
            cluster.partitions(t).await?;
            let config = tributary_bus::BusConfig::new(
                &args.connect.bootstrap_servers,
                &args.connect.registry_url,
            );
            Some(
                tributary_bus::RawProducer::connect(&config, tributary_telemetry::Metrics::new())
                    .await
                    .context("connecting a producer")?,
            )
        }
        None => None,
    };
    let mut progress = Progress::new(
        &format!("replay {}", args.topic),
        total,
        args.connect.json && !args.print,
    );
    let mut limiter = RateLimiter::new(args.rate);
    let mut rx = read_ranges(&args.connect.bootstrap_servers, &args.topic, &ranges);
    let mut stdout = std::io::stdout().lock();
    let (mut matched, mut undecodable) = (0u64, 0u64);
    while let Some(record) = rx.recv().await {
        let record = record?;
        progress.inc();
        if args
            .key
            .as_ref()
            .is_some_and(|k| record.key.as_deref() != Some(k.as_bytes()))
        {
            continue;
        }
        limiter.acquire().await;
        matched += 1;
        if let Some(codec) = &codec {
            let decoded = replay::decode_record(codec, &record).await;
            undecodable += u64::from(decoded.error.is_some());
            serde_json::to_writer(&mut stdout, &decoded)?;
            writeln!(stdout)?;
        } else if let (Some(producer), Some(topic)) = (&producer, &args.to_topic) {
            replay::copy_record(producer, topic, &record)
                .await
                .map_err(|detail| crate::ops::OpsError::Produce {
                    topic: topic.clone(),
                    done: usize::try_from(matched - 1).unwrap_or(0),
                    detail,
                })?;
        }
    }
    stdout.flush()?;
    drop(stdout);
    progress.finish();
    if !args.print {
        if let Some(topic) = &args.to_topic {
            println!("copied {matched} record(s) from {} to {topic}", args.topic);
        }
    } else if undecodable > 0 {
        eprintln!("{undecodable} record(s) could not be decoded (see their \"error\" field)");
    }
    Ok(())
}
