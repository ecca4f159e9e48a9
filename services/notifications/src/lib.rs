//! Notifications service: one notification per terminal order state and
//! per registration, through delivery channels.
//!
//! Consumes `orders` and `users` in the group `tributary.notifications`:
//!
//! | on | notifies | emits |
//! |---|---|---|
//! | UserRegistered | WELCOME to the new user | NotificationSent |
//! | OrderConfirmed | ORDER_CONFIRMED to the customer | NotificationSent |
//! | OrderCancelled | ORDER_CANCELLED to the customer | NotificationSent |
//!
//! Exactly one notification per (subject, kind) is recorded (invariant 5),
//! guarded by a dedup row written with `Expect::Absent`. Delivery itself is
//! a side effect outside the view transaction and therefore at least once;
//! every delivery carries the notification's deterministic id so receivers
//! can drop repeats — see [`channel`].

pub mod api;
pub mod channel;
mod config;
pub mod domain;
pub mod projector;
pub mod views;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use async_trait::async_trait;
pub use config::{NotificationsConfig, defaults};
use tributary_service::{ServiceDefinition, SystemClock};

use crate::{
    channel::{Channel, ChannelError},
    domain::Notification,
    projector::NotificationsProjector,
};

/// The service's name: its view store, its consumer group `tributary.notifications`.
pub const SERVICE: &str = "notifications";

/// The topics the service consumes.
pub const CONSUMES: [&str; 2] = ["orders", "users"];

/// The notifications service for the runtime, or why its channel cannot be
/// built (an unparsable webhook URL). Prefer this in binaries.
pub fn try_definition(config: NotificationsConfig) -> Result<ServiceDefinition, ChannelError> {
    let channel: Arc<dyn Channel> = Arc::from(config.channel.build()?);
    Ok(definition_with_channel(config, channel))
}

/// The notifications service for the runtime.
///
/// A channel that cannot be built is logged and replaced by one that fails
/// every delivery (retryable, so the events wait in the retry topic and
/// then the DLQ for a fixed configuration) rather than panicking; use
/// [`try_definition`] or [`NotificationsConfig::validate`] to refuse to
/// start instead.
pub fn definition(config: NotificationsConfig) -> ServiceDefinition {
    let channel: Arc<dyn Channel> = match config.channel.build() {
        Ok(channel) => Arc::from(channel),
        Err(error) => {
            tracing::error!(%error, "notification channel unusable; every delivery will fail");
            Arc::new(Unusable(error.to_string()))
        }
    };
    definition_with_channel(config, channel)
}

/// The service with a given channel (tests, embedders with their own channel).
pub fn definition_with_channel(
    config: NotificationsConfig,
    channel: Arc<dyn Channel>,
) -> ServiceDefinition {
    let projector = NotificationsProjector::new(channel, Arc::new(SystemClock));
    ServiceDefinition::new(SERVICE)
        .with_tables(views::TABLES)
        .consuming(CONSUMES, Arc::new(projector))
        .with_routes(move |context| api::router(context, &config))
}

/// Stands in for a channel whose configuration is broken.
#[derive(Debug)]
struct Unusable(String);

#[async_trait]
impl Channel for Unusable {
    fn name(&self) -> &'static str {
        "unusable"
    }

    async fn deliver(&self, _: &Notification) -> Result<(), ChannelError> {
        Err(ChannelError::Config(self.0.clone()))
    }
}
