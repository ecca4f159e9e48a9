//! `tributary sagas`: a saga's timeline and the sagas that are stuck, read
//! from the orders service's query API.

use std::time::Duration;

use clap::{Args, Subcommand};

use crate::ops::{
    sagas::{DEFAULT_ORDERS_URL, OrdersClient},
    time::{format_ms, parse_duration},
};

/// Arguments of `tributary sagas`.
#[derive(Debug, Args)]
pub struct SagasArgs {
    /// Base URL of the orders service's query API.
    #[arg(long, global = true, default_value = DEFAULT_ORDERS_URL, env = "TRIBUTARY_ORDERS_URL")]
    pub orders_url: String,
    /// Print JSON for scripts instead of human-readable text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: SagasCommand,
}

/// The `sagas` subcommands.
#[derive(Debug, Subcommand)]
pub enum SagasCommand {
    /// An order's saga: each event, its service, time and latency.
    Show { order_id: String },
    /// Sagas without a terminal state older than D, with their last step.
    Stuck {
        #[arg(long, value_name = "D", default_value = "1m", value_parser = parse_duration)]
        older_than: Duration,
    },
}

/// Runs a `sagas` subcommand.
pub async fn run(args: SagasArgs) -> anyhow::Result<()> {
    let client = OrdersClient::new(&args.orders_url)?;
    match args.command {
        SagasCommand::Show { order_id } => {
            let t = client.timeline(&order_id).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&t)?);
                return Ok(());
            }
            println!(
                "order {}: {:?}, placed {}, {}",
                t.order_id,
                t.status,
                format_ms(t.placed_at),
                t.duration_ms
                    .map_or("still pending".into(), |d| format!("decided after {d} ms"))
            );
            println!(
                "{:<26} {:<24} {:<14} {:>10}  DETAIL",
                "TIME", "EVENT", "SERVICE", "LATENCY"
            );
            for item in &t.entries {
                let e = &item.entry;
                println!(
                    "{:<26} {:<24} {:<14} {:>10}  {}",
                    format_ms(e.occurred_at),
                    e.event_type,
                    e.producer,
                    item.latency_ms.map_or("-".into(), |l| format!("+{l}ms")),
                    e.detail
                );
            }
            if t.truncated {
                println!("(timeline truncated)");
            }
        }
        SagasCommand::Stuck { older_than } => {
            let s = client.stuck(older_than).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&s)?);
                return Ok(());
            }
            if s.sagas.is_empty() {
                println!(
                    "no sagas pending for longer than {}",
                    humantime::format_duration(older_than)
                );
            }
            for saga in &s.sagas {
                println!(
                    "{}  customer={} placed={} age={}s last step={:?}",
                    saga.order_id,
                    saga.customer_id,
                    format_ms(saga.placed_at),
                    saga.age_ms / 1000,
                    saga.last_step
                );
            }
        }
    }
    Ok(())
}
