//! Consumes `users` and `orders` and notifies each (subject, kind) once.

use std::sync::Arc;

use async_trait::async_trait;
use tributary_bus::{HandlerError, Received};
use tributary_contracts::events::NotificationKind;
use tributary_service::{Clock, Effects, Projector};
use tributary_views::{Expect, Namespace, ViewError, ViewStore};

use crate::{
    channel::Channel,
    domain::{Recipient, Trigger, compose, sent_event},
    views::{DEDUP, DedupRecord, KNOWN_RECIPIENTS, NOTIFICATIONS, time_key},
};

/// Why projecting an event failed.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("cannot read the view: {0}")]
    Read(#[source] ViewError),
    #[error("delivery of notification {notification_id} through {channel} failed: {source}")]
    Delivery {
        notification_id: uuid::Uuid,
        channel: &'static str,
        #[source]
        source: crate::channel::ChannelError,
    },
    /// A row could not be serialized: a bug in a row type.
    #[error("cannot serialize a row of `{table}`: {source}")]
    Serialize {
        table: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

/// The notifications service's [`Projector`].
///
/// 1. `UserRegistered` records the user's e-mail and name (`recipients`).
/// 2. If the (subject, kind) was notified already (`notification_dedup`),
///    nothing else happens: invariant 5, also for a terminal event that
///    somehow arrived twice under different ids.
/// 3. Otherwise the notification is composed and **delivered** through the
///    channel — a side effect, at least once (see [`crate::channel`]); a
///    failure is retryable, so the event comes back through the retry topic.
/// 4. The returned effects record the notification, the dedup row (written
///    with `Expect::Absent`, so of two racing deliveries only one commits)
///    and emit `NotificationSent`.
///
/// A rebuild projects into a shadow copy of the view; there the
/// notification is not delivered again, only recorded.
#[derive(Debug, Clone)]
pub struct NotificationsProjector {
    channel: Arc<dyn Channel>,
    clock: Arc<dyn Clock>,
}

impl NotificationsProjector {
    pub fn new(channel: Arc<dyn Channel>, clock: Arc<dyn Clock>) -> Self {
        NotificationsProjector { channel, clock }
    }
}

#[async_trait]
impl Projector for NotificationsProjector {
    async fn project(
        &self,
        view: &dyn ViewStore,
        event: &Received,
    ) -> Result<Effects, HandlerError> {
        let Some(trigger) = Trigger::from_event(&event.event) else {
            return Ok(Effects::none());
        };
        let user_key = trigger.user_id.to_string();
        let mut effects = Effects::none();
        if let (NotificationKind::Welcome, Some(email), Some(name)) =
            (trigger.kind, &trigger.email, &trigger.name)
        {
            let recipient = Recipient {
                email: email.clone(),
                name: name.clone(),
            };
            effects = effects.write(
                KNOWN_RECIPIENTS
                    .put(&user_key, "", &recipient, Expect::Any)
                    .map_err(serialize_failure(KNOWN_RECIPIENTS.def().name))?,
            );
        }

        let subject_key = trigger.subject_id.to_string();
        let kind_key = trigger.kind.as_str();
        if DEDUP
            .get(view, &subject_key, kind_key)
            .await
            .map_err(read_failure)?
            .is_some()
        {
            tracing::debug!(subject_id = %trigger.subject_id, kind = kind_key, "already notified");
            return Ok(effects);
        }

        let known = match trigger.email {
            Some(_) => None,
            None => KNOWN_RECIPIENTS
                .get(view, &user_key, "")
                .await
                .map_err(read_failure)?
                .map(|row| row.value),
        };
        let notification = compose(&trigger, known.as_ref(), self.channel.name());

        if *view.namespace() == Namespace::Live {
            self.channel
                .deliver(&notification)
                .await
                .map_err(|source| {
                    HandlerError::retryable(ProjectError::Delivery {
                        notification_id: notification.id,
                        channel: self.channel.name(),
                        source,
                    })
                })?;
            tracing::info!(
                notification_id = %notification.id,
                kind = kind_key,
                subject_id = %notification.subject_id,
                channel = self.channel.name(),
                "notification delivered"
            );
        }

        let record = DedupRecord {
            notification_id: notification.id,
            recipient: notification.recipient.clone(),
            cause_event_id: notification.cause_event_id,
        };
        let sent = sent_event(&notification, &trigger.cause, self.clock.now_ms());
        Ok(effects
            .write(
                NOTIFICATIONS
                    .put(
                        &notification.recipient,
                        &time_key(notification.created_at, notification.id),
                        &notification,
                        Expect::Any,
                    )
                    .map_err(serialize_failure(NOTIFICATIONS.def().name))?,
            )
            .write(
                DEDUP
                    .put(&subject_key, kind_key, &record, Expect::Absent)
                    .map_err(serialize_failure(DEDUP.def().name))?,
            )
            .emit(sent))
    }
}

/// A store that is busy may work later; a corrupted row will not.
fn read_failure(source: ViewError) -> HandlerError {
    if source.is_transient() {
        HandlerError::retryable(ProjectError::Read(source))
    } else {
        HandlerError::permanent(ProjectError::Read(source))
    }
}

fn serialize_failure(table: &'static str) -> impl Fn(serde_json::Error) -> HandlerError {
    move |source| HandlerError::permanent(ProjectError::Serialize { table, source })
}
