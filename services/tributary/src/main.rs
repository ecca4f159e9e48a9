//! `tributary`: one binary for every role. Parsing, logging set-up and the
//! exit code live here; everything else is in the library so tests drive the
//! same code.

use std::process::ExitCode;

use clap::Parser;
use tributary::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // Keep the guard alive: dropping it flushes and uninstalls tracing.
    let _tracing = match tributary_telemetry::init_tracing(cli.role(), cli.log_json) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("error: cannot set up logging: {error}");
            return ExitCode::FAILURE;
        }
    };
    match tributary::commands::dispatch(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // `{:#}` prints the whole context chain on one line.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
