//! Delivery channels.
//!
//! # Delivery is at least once
//!
//! Delivering is a side effect outside the view transaction: the projector
//! delivers first and only then returns the effects (the notification row,
//! the dedup row, `NotificationSent`) that the runtime commits with the
//! consumed event's id. A crash or a failed commit between the two means the
//! event is consumed again and the notification delivered again — never lost,
//! possibly repeated. Every delivery carries the notification's id, derived
//! from the causing event's id, so a repeat is recognisable: the webhook
//! sends it in the body and as `Idempotency-Key`, the log channel writes it
//! on every line. Once the commit succeeded the dedup row prevents any
//! further delivery for the same (subject, kind).

mod breaker;
mod log;
mod webhook;

use std::{fmt::Debug, path::PathBuf, time::Duration};

use async_trait::async_trait;
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker, CircuitOpen};
pub use log::LogChannel;
use serde::{Deserialize, Serialize};
pub use webhook::{WebhookChannel, WebhookPayload};

use crate::domain::Notification;

/// Somewhere notifications are delivered.
#[async_trait]
pub trait Channel: Send + Sync + Debug + 'static {
    /// Short name recorded with each notification (`log`, `webhook`).
    fn name(&self) -> &'static str;

    /// Delivers `notification`. `Ok` means the receiver has it; any error
    /// is retried later by the consumer (the event goes to the retry topic).
    async fn deliver(&self, notification: &Notification) -> Result<(), ChannelError>;
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The log file could not be written.
    #[error("cannot append to {path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The webhook could not be reached or did not answer in time.
    #[error("webhook {url} unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The webhook answered with a non-success status.
    #[error("webhook {url} answered {status}")]
    Rejected { url: String, status: u16 },
    /// The circuit breaker is refusing calls to the webhook.
    #[error("webhook {url} paused: {source}")]
    CircuitOpen {
        url: String,
        #[source]
        source: CircuitOpen,
    },
    /// The notification could not be serialized (a bug).
    #[error("cannot serialize the notification: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The channel could not be built from its configuration.
    #[error("invalid channel configuration: {0}")]
    Config(String),
}

/// `[notifications.channel]`: how notifications are delivered.
///
/// ```toml
/// [notifications.channel]
/// kind = "log"
/// path = "data/notifications.jsonl"
///
/// # or
/// [notifications.channel]
/// kind = "webhook"
/// url = "https://hooks.example.com/tributary"
/// timeout = "2s"
/// breaker = { failure_threshold = 5, open_for = "10s" }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChannelConfig {
    /// Appends each notification as a JSON line to a file: the default for
    /// local runs, where nobody receives e-mail.
    Log {
        /// The file; created with its directory when missing.
        path: PathBuf,
    },
    /// POSTs each notification as JSON to a URL.
    Webhook {
        /// Where to POST.
        url: String,
        /// How long one delivery may take before it counts as failed.
        #[serde(default = "default_webhook_timeout", with = "humantime_serde")]
        timeout: Duration,
        /// When to stop calling an unhealthy receiver.
        #[serde(default)]
        breaker: BreakerConfig,
    },
}

impl Default for ChannelConfig {
    fn default() -> Self {
        ChannelConfig::Log {
            path: PathBuf::from("data/notifications/delivered.jsonl"),
        }
    }
}

fn default_webhook_timeout() -> Duration {
    Duration::from_secs(5)
}

impl ChannelConfig {
    /// Builds the configured channel.
    pub fn build(&self) -> Result<Box<dyn Channel>, ChannelError> {
        Ok(match self {
            ChannelConfig::Log { path } => Box::new(LogChannel::new(path.clone())),
            ChannelConfig::Webhook {
                url,
                timeout,
                breaker,
            } => Box::new(WebhookChannel::new(url, *timeout, *breaker)?),
        })
    }
}
