//! Turning one message into a handler call: the typed path decodes through
//! the registry first, the raw path hands over bytes and headers.

use std::{panic::AssertUnwindSafe, sync::Arc};

use async_trait::async_trait;
use futures::FutureExt as _;
use rdkafka::message::BorrowedHeaders;

use super::handler::{Handler, HandlerError, RawHandler, RawReceived, Received};
use crate::{EventCodec, headers::MessageHeaders};

/// One message as the worker saw it, with source-topic coordinates.
pub(crate) struct Incoming<'a> {
    pub payload: Option<&'a [u8]>,
    pub key: Option<&'a [u8]>,
    pub headers: Option<&'a BorrowedHeaders>,
    pub source_topic: &'a str,
    pub source_partition: i32,
    pub source_offset: i64,
    pub attempt: u32,
    pub timestamp_ms: Option<i64>,
}

/// Why processing a message did not succeed, which decides its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The message itself is bad (undecodable, unknown schema): DLQ now.
    Poison { reason: &'static str, error: String },
    /// Something outside the message failed (registry down): wait and try
    /// the same message again in place; it is not the message's fault.
    Transient { reason: &'static str, error: String },
    /// The handler asked for a later retry.
    Retryable { reason: &'static str, error: String },
    /// The handler will never succeed on this event: DLQ now.
    Permanent { reason: &'static str, error: String },
}

impl Failure {
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Failure::Poison { reason, .. }
            | Failure::Transient { reason, .. }
            | Failure::Retryable { reason, .. }
            | Failure::Permanent { reason, .. } => reason,
        }
    }

    pub(crate) fn error(&self) -> &str {
        match self {
            Failure::Poison { error, .. }
            | Failure::Transient { error, .. }
            | Failure::Retryable { error, .. }
            | Failure::Permanent { error, .. } => error,
        }
    }
}

#[async_trait]
pub(crate) trait Processor: Send + Sync + 'static {
    async fn process(&self, incoming: &Incoming<'_>) -> Result<(), Failure>;
}

/// Decodes through the registry, then calls a typed [`Handler`].
pub(crate) struct TypedProcessor {
    pub codec: EventCodec,
    pub handler: Arc<dyn Handler>,
}

#[async_trait]
impl Processor for TypedProcessor {
    async fn process(&self, m: &Incoming<'_>) -> Result<(), Failure> {
        let Some(payload) = m.payload else {
            let error = crate::error::DecodeError::Empty;
            return Err(Failure::Poison {
                reason: error.reason(),
                error: error.to_string(),
            });
        };
        let event = self.codec.decode(payload).await.map_err(|e| {
            if e.is_transient() {
                Failure::Transient {
                    reason: e.reason(),
                    error: e.to_string(),
                }
            } else {
                Failure::Poison {
                    reason: e.reason(),
                    error: e.to_string(),
                }
            }
        })?;
        let received = Received {
            event,
            topic: m.source_topic.to_owned(),
            partition: m.source_partition,
            offset: m.source_offset,
            key: m.key.map(<[u8]>::to_vec),
            attempt: m.attempt,
            timestamp_ms: m.timestamp_ms,
        };
        call_handler(self.handler.handle(received)).await
    }
}

/// Hands bytes and headers to a [`RawHandler`].
pub(crate) struct RawProcessor {
    pub handler: Arc<dyn RawHandler>,
}

#[async_trait]
impl Processor for RawProcessor {
    async fn process(&self, m: &Incoming<'_>) -> Result<(), Failure> {
        let received = RawReceived {
            payload: m.payload.map(<[u8]>::to_vec).unwrap_or_default(),
            headers: MessageHeaders::from_kafka(m.headers),
            topic: m.source_topic.to_owned(),
            partition: m.source_partition,
            offset: m.source_offset,
            key: m.key.map(<[u8]>::to_vec),
            attempt: m.attempt,
            timestamp_ms: m.timestamp_ms,
        };
        call_handler(self.handler.handle(received)).await
    }
}

/// Runs a handler future, turning its error, or a panic, into a [`Failure`].
/// A panicking handler must not take the partition worker down with it; a
/// panic is treated as retryable because it is usually a bug that a fix plus
/// a DLQ redelivery resolves, and retries bound the damage.
async fn call_handler<F>(handling: F) -> Result<(), Failure>
where
    F: std::future::Future<Output = Result<(), HandlerError>> + Send,
{
    match AssertUnwindSafe(handling).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(HandlerError::Retryable(e))) => Err(Failure::Retryable {
            reason: "handler_retryable",
            error: e.to_string(),
        }),
        Ok(Err(HandlerError::Permanent(e))) => Err(Failure::Permanent {
            reason: "handler_permanent",
            error: e.to_string(),
        }),
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "handler panicked".to_owned());
            Err(Failure::Retryable {
                reason: "handler_panic",
                error: message,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn handler_outcomes_map_to_failures() {
        assert_eq!(call_handler(async { Ok(()) }).await, Ok(()));
        let retry = call_handler(async { Err(HandlerError::retryable("db down")) }).await;
        assert_eq!(retry.map_err(|f| f.reason()), Err("handler_retryable"));
        let permanent = call_handler(async { Err(HandlerError::permanent("bad order")) }).await;
        assert_eq!(permanent.map_err(|f| f.reason()), Err("handler_permanent"));
    }

    #[tokio::test]
    async fn a_panicking_handler_is_a_retryable_failure() {
        let result = call_handler(async {
            if true {
                panic!("kaboom");
            }
            Ok(())
        })
        .await;
        assert_eq!(
            result,
            Err(Failure::Retryable {
                reason: "handler_panic",
                error: "kaboom".to_owned()
            })
        );
    }
}
