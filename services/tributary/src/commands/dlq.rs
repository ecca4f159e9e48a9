//! `tributary dlq`: inspect dead-letter topics and redeliver their records
//! to the source topic once the cause is fixed (dry run by default).

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::groups::ConnectArgs;
use crate::ops::{
    dlq::{self, RedeliverFilter},
    time::format_ms,
};

/// Arguments of `tributary dlq`.
#[derive(Debug, Args)]
pub struct DlqArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: DlqCommand,
}

/// The `dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Every DLQ topic (`<topic>.<group>.dlq`): count, oldest record, reasons.
    List {
        /// Only the DLQs of this consumer group.
        #[arg(long)]
        group: Option<String>,
    },
    /// The records of a DLQ: decoded event, error, attempts, source offset.
    Show {
        dlq_topic: String,
        /// Only the record at this offset.
        #[arg(long)]
        offset: Option<i64>,
        /// Only this partition of the DLQ.
        #[arg(long)]
        partition: Option<i32>,
    },
    /// Send DLQ records back to their source topic with their original key
    /// and headers (failure headers removed, `tributary.redelivery` counted).
    /// Dry run unless --execute.
    Redeliver {
        dlq_topic: String,
        /// Only records that failed with this reason code.
        #[arg(long)]
        reason: Option<String>,
        /// Only records with this key.
        #[arg(long)]
        key: Option<String>,
        /// Produce the records (otherwise print what would move).
        #[arg(long)]
        execute: bool,
    },
}

/// Runs a `dlq` subcommand.
pub async fn run(args: DlqArgs) -> anyhow::Result<()> {
    let cluster = args.connect.cluster()?;
    let json = args.connect.json;
    match args.command {
        DlqCommand::List { group } => {
            let list = dlq::list(&cluster, group.as_deref()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no dead-letter topics");
            } else {
                for d in list {
                    let reasons: Vec<String> =
                        d.reasons.iter().map(|(r, n)| format!("{r}={n}")).collect();
                    println!(
                        "{}  source={} group={} count={} oldest={} reasons: {}",
                        d.topic,
                        d.source_topic,
                        d.group,
                        d.count,
                        d.oldest_ms.map_or("-".into(), format_ms),
                        reasons.join(", ")
                    );
                }
            }
        }
        DlqCommand::Show {
            dlq_topic,
            offset,
            partition,
        } => {
            let codec = args.connect.codec()?;
            let entries = dlq::show(&cluster, &codec, &dlq_topic, partition, offset).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&entries)?);
                return Ok(());
            }
            if entries.is_empty() {
                println!("{dlq_topic} is empty");
            }
            for e in entries {
                let f = &e.failure;
                println!(
                    "{dlq_topic}/{}@{}  key={}",
                    e.partition,
                    e.offset,
                    e.key.as_deref().unwrap_or("-")
                );
                println!(
                    "  failed: {} ({}) after {} attempt(s)",
                    f.error, f.reason, f.attempts
                );
                println!(
                    "  source: {}/{}@{}",
                    f.source_topic, f.source_partition, f.source_offset
                );
                match (&e.decoded.event_type, &e.decoded.event, &e.decoded.error) {
                    (Some(t), Some(ev), _) => println!("  event {t}: {ev}"),
                    (_, _, Some(err)) => println!("  not decodable: {err}"),
                    _ => println!("  not decodable"),
                }
            }
        }
        DlqCommand::Redeliver {
            dlq_topic,
            reason,
            key,
            execute,
        } => {
            let filter = RedeliverFilter { reason, key };
            let plan = dlq::plan_redeliver(&cluster, &dlq_topic, &filter).await?;
            let moved = if execute && !plan.is_empty() {
                let config = tributary_bus::BusConfig::new(
                    &args.connect.bootstrap_servers,
                    &args.connect.registry_url,
                );
                let producer = tributary_bus::RawProducer::connect(
                    &config,
                    tributary_telemetry::Metrics::new(),
                )
                .await
                .context("connecting a producer")?;
                dlq::redeliver(&producer, &plan).await?
            } else {
                0
            };
            if json {
                let value =
                    serde_json::json!({"executed": execute, "redelivered": moved, "records": plan});
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            for r in &plan {
                println!(
                    "{dlq_topic}/{}@{} key={} reason={} -> {}",
                    r.partition,
                    r.offset,
                    r.key.as_deref().unwrap_or("-"),
                    r.reason,
                    r.to_topic
                );
            }
            if execute {
                println!("redelivered {moved} record(s)");
            } else {
                println!(
                    "dry run: {} record(s) would move; add --execute to redeliver",
                    plan.len()
                );
            }
        }
    }
    Ok(())
}
