//! librdkafka's own log lines and client errors, routed into `tracing`.

use rdkafka::{client::ClientContext, config::RDKafkaLogLevel, error::KafkaError};

/// Forwards a librdkafka log line to `tracing` at the matching level.
pub(crate) fn log_to_tracing(level: RDKafkaLogLevel, facility: &str, message: &str) {
    match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error => {
            tracing::error!(target: "librdkafka", facility, message)
        }
        RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", facility, message),
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
            tracing::info!(target: "librdkafka", facility, message)
        }
        RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", facility, message),
    }
}

/// Forwards an asynchronous client error (broker down, ...) to `tracing`.
pub(crate) fn error_to_tracing(error: &KafkaError, reason: &str) {
    tracing::warn!(target: "librdkafka", %error, reason, "Kafka client error");
}

/// A client context for producers and admin clients that logs through
/// `tracing` instead of the `log` facade.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        log_to_tracing(level, fac, log_message);
    }

    fn error(&self, error: KafkaError, reason: &str) {
        error_to_tracing(&error, reason);
    }
}
