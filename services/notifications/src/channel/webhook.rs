//! The webhook channel: POSTs each notification as JSON, with a timeout,
//! behind a circuit breaker.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use reqwest::{Client, Url, header};
use serde::{Deserialize, Serialize};
use tributary_contracts::events::NotificationKind;
use uuid::Uuid;

use super::{
    Channel, ChannelError,
    breaker::{BreakerConfig, CircuitBreaker},
};
use crate::domain::Notification;

/// The JSON body of a webhook delivery.
///
/// `notification_id` is stable across repeated deliveries of the same
/// notification (it is derived from the causing event), and is also sent as
/// the `Idempotency-Key` header: receivers deduplicate on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookPayload {
    pub notification_id: Uuid,
    pub kind: NotificationKind,
    pub recipient: String,
    pub subject_id: Uuid,
    pub title: String,
    pub body: String,
    pub created_at: i64,
}

impl From<&Notification> for WebhookPayload {
    fn from(n: &Notification) -> Self {
        WebhookPayload {
            notification_id: n.id,
            kind: n.kind,
            recipient: n.recipient.clone(),
            subject_id: n.subject_id,
            title: n.title.clone(),
            body: n.body.clone(),
            created_at: n.created_at,
        }
    }
}

/// POSTs notifications to one URL.
#[derive(Debug, Clone)]
pub struct WebhookChannel {
    url: Url,
    client: Client,
    breaker: Arc<CircuitBreaker>,
}

impl WebhookChannel {
    /// A channel for `url`; each delivery may take `timeout`.
    pub fn new(url: &str, timeout: Duration, breaker: BreakerConfig) -> Result<Self, ChannelError> {
        let url = Url::parse(url)
            .map_err(|e| ChannelError::Config(format!("webhook url `{url}`: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChannelError::Config(format!(
                "webhook url `{url}` must be http or https"
            )));
        }
        let client = Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| ChannelError::Config(format!("HTTP client: {e}")))?;
        Ok(WebhookChannel {
            url,
            client,
            breaker: Arc::new(CircuitBreaker::new(breaker)),
        })
    }

    /// The breaker, for health reporting and tests.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), ChannelError> {
        let url = || self.url.to_string();
        let permit = self
            .breaker
            .acquire()
            .map_err(|source| ChannelError::CircuitOpen { url: url(), source })?;
        let sent = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", notification.id.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .json(&WebhookPayload::from(notification))
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => {
                permit.success();
                Ok(())
            }
            Ok(response) => {
                permit.failure();
                Err(ChannelError::Rejected {
                    url: url(),
                    status: response.status().as_u16(),
                })
            }
            Err(source) => {
                permit.failure();
                Err(ChannelError::Unreachable { url: url(), source })
            }
        }
    }
}
