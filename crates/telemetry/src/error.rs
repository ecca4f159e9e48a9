use thiserror::Error;

/// Failures while setting up observability; all of them happen at start-up.
#[derive(Debug, Error)]
pub enum TelemetryError {
    /// `RUST_LOG` (or the default directive) is not a valid filter.
    #[error("invalid log filter in RUST_LOG: {0}")]
    InvalidFilter(String),
    /// A global `tracing` subscriber was already installed in this process.
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInitialized(String),
    /// An OpenTelemetry environment variable has a value that cannot be used.
    #[error("invalid {var}: {reason}")]
    InvalidVariable {
        /// The variable, e.g. `OTEL_EXPORTER_OTLP_PROTOCOL`.
        var: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The OTLP trace exporter could not be built.
    #[error("cannot set up OTLP trace export: {0}")]
    Exporter(String),
}
