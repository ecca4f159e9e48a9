use std::{net::SocketAddr, path::PathBuf, time::Duration};

use thiserror::Error;

/// Why the embedded broker could not be found, started or stopped.
#[derive(Debug, Error)]
pub enum BrokerError {
    /// No tansu binary in any of the places we look.
    #[error(
        "the tansu {version} broker binary was not found (looked in: {searched}); \
         run `scripts/setup` to install it, or set TANSU_BIN to its path"
    )]
    NotInstalled {
        version: &'static str,
        searched: String,
    },
    /// The binary exists but could not be started.
    #[error("cannot start the broker {binary}: {source}")]
    Spawn {
        binary: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The process exited before it accepted connections.
    #[error("the broker exited during start-up ({status}); its log is at {log}")]
    ExitedEarly { status: String, log: String },
    /// The process runs but never accepted a TCP connection.
    #[error(
        "the broker did not accept connections on {addr} within {timeout:?}; its log is at {log}"
    )]
    NotReady {
        addr: SocketAddr,
        timeout: Duration,
        log: String,
    },
    /// The data directory or log file could not be prepared.
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
