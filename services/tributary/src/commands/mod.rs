//! One module per subcommand.

pub mod bench;
pub mod dlq;
pub mod groups;
pub mod load;
pub mod replay;
pub mod run;
pub mod sagas;
pub mod schemas;
pub mod topics;
pub mod up;
pub mod views;

use crate::cli::{Cli, Command};

/// Runs the parsed command to completion.
pub async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Up(args) => up::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Schemas(args) => schemas::run(args).await,
        Command::Load(args) => load::run(args).await,
        Command::Bench(args) => bench::run(args).await,
        Command::Groups(args) => groups::run(args).await,
        Command::Replay(args) => replay::run(args).await,
        Command::Dlq(args) => dlq::run(args).await,
        Command::Sagas(args) => sagas::run(args).await,
        Command::Views(args) => views::run(args).await,
    }
}
