//! Routing failed messages to the group's retry or dead-letter topic, with
//! the original key, payload and headers plus the failure headers.

use std::time::Duration;

use super::{
    processor::{Failure, Incoming},
    topics::FailureTopics,
};
use crate::{
    RetryPolicy,
    error::ProduceError,
    headers::{FailureInfo, MessageHeaders, apply_failure, now_ms},
    producer::RawProducer,
};

/// Where a failed message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Retry { next_attempt: u32, delay: Duration },
    DeadLetter { reason: &'static str, attempt: u32 },
}

/// The routing rule: poison and permanent failures go to the DLQ at once;
/// retryable ones are retried until `max_attempts` deliveries have failed.
pub(crate) fn decide(policy: &RetryPolicy, failure: &Failure, attempt: u32) -> Route {
    match failure {
        Failure::Retryable { .. } | Failure::Transient { .. } if attempt < policy.max_attempts => {
            Route::Retry {
                next_attempt: attempt + 1,
                delay: policy.backoff(attempt),
            }
        }
        Failure::Retryable { .. } | Failure::Transient { .. } => Route::DeadLetter {
            reason: "retries_exhausted",
            attempt,
        },
        Failure::Poison { reason, .. } | Failure::Permanent { reason, .. } => {
            Route::DeadLetter { reason, attempt }
        }
    }
}

/// Produces failed messages to their retry or DLQ topic and reports where.
pub(crate) struct FailureRouter {
    pub producer: RawProducer,
    pub topics: FailureTopics,
    pub policy: RetryPolicy,
}

/// What was written where.
#[derive(Debug)]
pub(crate) struct Routed {
    pub route: Route,
    pub topic: String,
}

impl FailureRouter {
    /// Writes `m` to its failure topic and returns once the broker has
    /// acknowledged it: only then may the source offset be stored.
    pub(crate) async fn route(
        &self,
        m: &Incoming<'_>,
        failure: &Failure,
    ) -> Result<Routed, ProduceError> {
        let route = decide(&self.policy, failure, m.attempt);
        let (topic, attempt, not_before_ms, reason, error) = match &route {
            Route::Retry {
                next_attempt,
                delay,
            } => (
                self.topics.retry_for(m.source_topic),
                *next_attempt,
                Some(now_ms().saturating_add(i64::try_from(delay.as_millis()).unwrap_or(i64::MAX))),
                failure.reason(),
                failure.error().to_owned(),
            ),
            Route::DeadLetter { reason, attempt } => {
                let error = if *reason == "retries_exhausted" {
                    format!("gave up after {attempt} attempts: {}", failure.error())
                } else {
                    failure.error().to_owned()
                };
                (
                    self.topics.dlq_for(m.source_topic),
                    *attempt,
                    None,
                    *reason,
                    error,
                )
            }
        };
        // The source topic is always one of ours: workers only exist for
        // subscribed topics, whose failure topics were computed at start-up.
        let topic = topic.unwrap_or(m.source_topic).to_owned();
        let mut headers = MessageHeaders::from_kafka(m.headers);
        apply_failure(
            &mut headers,
            &FailureInfo {
                error,
                reason: reason.to_owned(),
                attempt,
                source_topic: m.source_topic.to_owned(),
                source_partition: m.source_partition,
                source_offset: m.source_offset,
                not_before_ms,
            },
        );
        self.producer
            .send_raw(&topic, m.key, m.payload.unwrap_or_default(), &headers)
            .await?;
        Ok(Routed { route, topic })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(100),
            multiplier: 2.0,
            max_backoff: Duration::from_secs(1),
            ..RetryPolicy::default()
        }
    }

    fn retryable() -> Failure {
        Failure::Retryable {
            reason: "handler_retryable",
            error: "x".into(),
        }
    }

    #[test]
    fn retryable_failures_retry_with_backoff_until_max_attempts() {
        assert_eq!(
            decide(&policy(), &retryable(), 1),
            Route::Retry {
                next_attempt: 2,
                delay: Duration::from_millis(100)
            }
        );
        assert_eq!(
            decide(&policy(), &retryable(), 2),
            Route::Retry {
                next_attempt: 3,
                delay: Duration::from_millis(200)
            }
        );
        assert_eq!(
            decide(&policy(), &retryable(), 3),
            Route::DeadLetter {
                reason: "retries_exhausted",
                attempt: 3
            }
        );
    }

    #[test]
    fn poison_and_permanent_failures_go_straight_to_the_dlq() {
        let poison = Failure::Poison {
            reason: "wrong_magic_byte",
            error: "x".into(),
        };
        assert_eq!(
            decide(&policy(), &poison, 1),
            Route::DeadLetter {
                reason: "wrong_magic_byte",
                attempt: 1
            }
        );
        let permanent = Failure::Permanent {
            reason: "handler_permanent",
            error: "x".into(),
        };
        assert_eq!(
            decide(&policy(), &permanent, 2),
            Route::DeadLetter {
                reason: "handler_permanent",
                attempt: 2
            }
        );
    }

    #[test]
    fn a_single_attempt_policy_never_retries() {
        let once = RetryPolicy {
            max_attempts: 1,
            ..policy()
        };
        assert_eq!(
            decide(&once, &retryable(), 1),
            Route::DeadLetter {
                reason: "retries_exhausted",
                attempt: 1
            }
        );
    }
}
