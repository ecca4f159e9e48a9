//! `tributary groups`: list consumer groups, describe one with its lag, and
//! reset its offsets (dry-run plan by default, `--execute` to commit), in
//! the manner of `kafka-consumer-groups` and `rpk group seek`.

use std::time::Duration;

use anyhow::Context as _;
use clap::{ArgGroup, Args, Subcommand};

use crate::ops::{
    Cluster,
    groups::{self, ResetPlan, ResetTarget},
    time::parse_rfc3339_ms,
};

/// Connection flags shared by every operator command.
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// Kafka bootstrap servers.
    #[arg(
        long,
        global = true,
        default_value = tributary_bus::defaults::BOOTSTRAP_SERVERS,
        env = "TRIBUTARY__SERVICE__BUS__BOOTSTRAP_SERVERS"
    )]
    pub bootstrap_servers: String,
    /// Schema registry base URL (for decoding events).
    #[arg(
        long,
        global = true,
        default_value = tributary_bus::defaults::REGISTRY_URL,
        env = "TRIBUTARY__SERVICE__BUS__REGISTRY_URL"
    )]
    pub registry_url: String,
    /// Print JSON for scripts instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
}

impl ConnectArgs {
    pub fn cluster(&self) -> anyhow::Result<Cluster> {
        Ok(Cluster::connect(&self.bootstrap_servers)?)
    }

    pub fn codec(&self) -> anyhow::Result<tributary_bus::EventCodec> {
        let registry = tributary_registry::RegistryClient::new(
            &self.registry_url,
            tributary_registry::ClientConfig::default(),
        )
        .with_context(|| format!("registry URL {}", self.registry_url))?;
        Ok(tributary_bus::EventCodec::new(registry))
    }
}

/// Arguments of `tributary groups`.
#[derive(Debug, Args)]
pub struct GroupsArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: GroupsCommand,
}

/// The `groups` subcommands.
#[derive(Debug, Subcommand)]
pub enum GroupsCommand {
    /// List consumer groups with their state and member count.
    List,
    /// Show a group's members, assignment, committed offsets and lag.
    Describe {
        group: String,
        /// Only these topics (default: the members' assignment, else every
        /// topic the group committed on). Repeatable.
        #[arg(long)]
        topic: Vec<String>,
    },
    /// Move a group's committed offsets on one topic. Prints the plan and
    /// changes nothing unless --execute is given.
    Reset(ResetArgs),
}

/// `groups reset` arguments: exactly one target.
#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("target")
        .required(true)
        .multiple(false)
        .args(["to_earliest", "to_latest", "to_offset", "to_datetime", "by_duration", "shift_by"])
))]
pub struct ResetArgs {
    pub group: String,
    /// The topic whose offsets move.
    #[arg(long)]
    pub topic: String,
    /// Only this partition (default: all).
    #[arg(long)]
    pub partition: Option<i32>,
    /// The first offset still in the log.
    #[arg(long)]
    pub to_earliest: bool,
    /// The end of the log (skip everything not yet consumed).
    #[arg(long)]
    pub to_latest: bool,
    /// This offset on every selected partition (must be inside the log).
    #[arg(long, value_name = "N")]
    pub to_offset: Option<i64>,
    /// The first event at or after this RFC 3339 time.
    #[arg(long, value_name = "RFC3339")]
    pub to_datetime: Option<String>,
    /// The first event at or after now minus this duration (e.g. 15m).
    #[arg(long, value_name = "D", value_parser = crate::ops::time::parse_duration)]
    pub by_duration: Option<Duration>,
    /// The current committed offset plus N (negative moves back).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// Commit the plan (refused while the group has active members).
    #[arg(long)]
    pub execute: bool,
}

impl ResetArgs {
    fn target(&self) -> anyhow::Result<ResetTarget> {
        Ok(if self.to_earliest {
            ResetTarget::Earliest
        } else if self.to_latest {
            ResetTarget::Latest
        } else if let Some(n) = self.to_offset {
            ResetTarget::Offset(n)
        } else if let Some(t) = &self.to_datetime {
            ResetTarget::Datetime(parse_rfc3339_ms(t)?)
        } else if let Some(d) = self.by_duration {
            ResetTarget::ByDuration(d)
        } else if let Some(n) = self.shift_by {
            ResetTarget::ShiftBy(n)
        } else {
            anyhow::bail!(
                "give one of --to-earliest, --to-latest, --to-offset, --to-datetime, --by-duration, --shift-by"
            )
        })
    }
}

/// Runs a `groups` subcommand.
pub async fn run(args: GroupsArgs) -> anyhow::Result<()> {
    let cluster = args.connect.cluster()?;
    let json = args.connect.json;
    match args.command {
        GroupsCommand::List => {
            let list = groups::list_groups(&cluster).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("no consumer groups");
            } else {
                println!("{:<48} {:<14} {:>7}", "GROUP", "STATE", "MEMBERS");
                for g in list {
                    println!("{:<48} {:<14} {:>7}", g.name, g.state, g.members);
                }
            }
        }
        GroupsCommand::Describe { group, topic } => {
            let d = groups::describe_group(&cluster, &group, &topic).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&d)?);
                return Ok(());
            }
            println!(
                "group {} ({}), {} member(s), total lag {}",
                d.name,
                d.state.as_deref().unwrap_or("unknown state"),
                d.members.len(),
                d.total_lag
            );
            for m in &d.members {
                let assigned: Vec<String> = m
                    .assignment
                    .iter()
                    .map(|(t, ps)| format!("{t}{ps:?}"))
                    .collect();
                println!(
                    "  member {} ({}@{}): {}",
                    m.id,
                    m.client_id,
                    m.host,
                    assigned.join(" ")
                );
            }
            println!(
                "{:<40} {:>9} {:>12} {:>12} {:>10}",
                "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG"
            );
            for p in &d.partitions {
                println!(
                    "{:<40} {:>9} {:>12} {:>12} {:>10}",
                    p.topic,
                    p.partition,
                    p.committed.map_or("-".into(), |c| c.to_string()),
                    p.log_end,
                    p.lag.map_or("-".into(), |c| c.to_string())
                );
            }
        }
        GroupsCommand::Reset(reset) => {
            let target = reset.target()?;
            let plan = groups::plan_reset(
                &cluster,
                &reset.group,
                &reset.topic,
                target,
                reset.partition,
                false,
            )
            .await?;
            if reset.execute {
                groups::execute_reset(&cluster, &plan).await?;
            }
            print_plan(&plan, reset.execute, json)?;
        }
    }
    Ok(())
}

fn print_plan(plan: &ResetPlan, executed: bool, json: bool) -> anyhow::Result<()> {
    if json {
        let value = serde_json::json!({ "executed": executed, "plan": plan });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("{:<9} {:>12} {:>12}", "PARTITION", "CURRENT", "TARGET");
    for r in &plan.rows {
        println!(
            "{:<9} {:>12} {:>12}",
            r.partition,
            r.current.map_or("-".into(), |c| c.to_string()),
            r.target
        );
    }
    if executed {
        println!("committed: group {} on {} moved", plan.group, plan.topic);
    } else {
        println!("dry run: nothing changed; add --execute to commit this plan");
    }
    Ok(())
}
