//! Command-line surface. Each subcommand's arguments live next to its code
//! in `commands/`; this file only assembles them.

use clap::{Parser, Subcommand};

use crate::commands::{
    bench::BenchArgs, dlq::DlqArgs, groups::GroupsArgs, load::LoadArgs, replay::ReplayArgs,
    run::RunArgs, sagas::SagasArgs, schemas::SchemasArgs, up::UpArgs, views::ViewsArgs,
};

/// Tributary: event-streaming microservices on Kafka, with a RabbitMQ bridge.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, about, propagate_version = true)]
pub struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "TRIBUTARY_LOG_JSON")]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the whole platform on embedded defaults: broker, registry, services.
    Up(UpArgs),
    /// Run one service or infrastructure role in the foreground.
    Run(RunArgs),
    /// Check, register and document the Avro contracts.
    Schemas(SchemasArgs),
    /// Benchmark the event backbone: produce, consume, codec, consumer memory.
    Bench(BenchArgs),
    /// Place orders at a fixed rate against a running platform, then report
    /// outcomes, latency percentiles and the saga invariants.
    Load(LoadArgs),
    /// Consumer groups: list, describe with lag, reset offsets (dry run by default).
    Groups(GroupsArgs),
    /// Replay a topic range: print decoded, copy to a topic, or re-drive a group.
    Replay(ReplayArgs),
    /// Dead-letter topics: list, show, redeliver.
    Dlq(DlqArgs),
    /// Saga timelines and stuck sagas, from the orders query API.
    Sagas(SagasArgs),
    /// Rebuild a service's view into a shadow copy and verify it.
    Views(ViewsArgs),
}

impl Cli {
    /// The name logs and traces carry for this process.
    pub fn role(&self) -> &'static str {
        match &self.command {
            Command::Up(_) => "supervisor",
            Command::Run(args) => args.service.name(),
            Command::Schemas(_) => "cli",
            Command::Load(_) => "load",
            Command::Bench(_) => "bench",
            Command::Groups(_)
            | Command::Replay(_)
            | Command::Dlq(_)
            | Command::Sagas(_)
            | Command::Views(_) => "cli",
        }
    }
}
