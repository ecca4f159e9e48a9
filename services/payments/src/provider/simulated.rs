//! The built-in payment provider: explicit, deterministic rules, so tests and
//! load runs get exactly the mix of approvals, declines, failures and
//! latencies they configure. No randomness: every "random" choice is a hash
//! of the order id.

use std::{
    collections::HashMap,
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use async_trait::async_trait;
use uuid::Uuid;

use super::{
    Authorization, AuthorizationRequest, PaymentProvider, ProviderError, Refund, RefundRequest,
};
use crate::config::ProviderConfig;

/// Decline reason: the amount is above `decline_above_cents`.
pub const DECLINE_AMOUNT_LIMIT: &str = "amount_limit_exceeded";
/// Decline reason: the token is the configured `decline_token`.
pub const DECLINE_CARD: &str = "card_declined";
/// Decline reason: an empty token.
pub const DECLINE_INVALID_TOKEN: &str = "invalid_token";
/// Decline reason: a negative amount.
pub const DECLINE_INVALID_AMOUNT: &str = "invalid_amount";

/// Seeds the simulator's hashes and references; fixed forever so runs repeat.
const NAMESPACE: Uuid = Uuid::from_u128(0x5e1f_0a7c_94d2_4c1b_8b3e_27f6_d0a9_c413);

/// Orders whose attempt counts are remembered (for `transient_failures`);
/// beyond it the memory is reset, which at worst fails a few calls again.
const MAX_TRACKED_ORDERS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Operation {
    Authorize,
    Refund,
}

impl Operation {
    fn salt(self) -> &'static [u8] {
        match self {
            Operation::Authorize => b"authorize",
            Operation::Refund => b"refund",
        }
    }
}

/// The simulated provider. See [`ProviderConfig`] for its rules.
#[derive(Debug)]
pub struct SimulatedProvider {
    config: ProviderConfig,
    attempts: Mutex<HashMap<(Uuid, Operation), u32>>,
}

impl SimulatedProvider {
    pub fn new(config: &ProviderConfig) -> Self {
        SimulatedProvider {
            config: config.clone(),
            attempts: Mutex::new(HashMap::new()),
        }
    }

    /// The decision for an authorization, ignoring latency and failures:
    /// a pure function of the request, hence idempotent per order.
    pub fn decide(&self, request: &AuthorizationRequest) -> Authorization {
        let decline = |reason: &str| Authorization::Declined {
            reason: reason.to_owned(),
        };
        if request.token.is_empty() {
            decline(DECLINE_INVALID_TOKEN)
        } else if request.token == self.config.decline_token {
            decline(DECLINE_CARD)
        } else if request.amount_cents < 0 {
            decline(DECLINE_INVALID_AMOUNT)
        } else if request.amount_cents > self.config.decline_above_cents {
            decline(DECLINE_AMOUNT_LIMIT)
        } else {
            Authorization::Approved {
                reference: reference("sim_auth_", request.order_id),
            }
        }
    }

    /// The latency of calls for `order_id`: `latency` plus a share of
    /// `latency_jitter` picked by the order id's hash, in whole milliseconds
    /// (the timer's resolution).
    pub fn latency_for(&self, order_id: Uuid) -> Duration {
        let share = unit_hash(order_id, b"latency");
        let jitter_ms = self.config.latency_jitter.as_millis() as f64 * share;
        self.config.latency + Duration::from_millis(jitter_ms as u64)
    }

    /// Whether this call fails as a transient outage: for the orders picked
    /// by `failure_rate`, the first `transient_failures` calls of each
    /// operation fail.
    fn transient_failure(&self, order_id: Uuid, operation: Operation) -> bool {
        if unit_hash(order_id, operation.salt()) >= self.config.failure_rate {
            return false;
        }
        let mut attempts = self.attempts();
        if attempts.len() >= MAX_TRACKED_ORDERS {
            attempts.clear();
        }
        let count = attempts.entry((order_id, operation)).or_insert(0);
        *count = count.saturating_add(1);
        *count <= self.config.transient_failures
    }

    fn attempts(&self) -> MutexGuard<'_, HashMap<(Uuid, Operation), u32>> {
        // Only map updates happen under the lock; a poisoned map is still usable.
        self.attempts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn outage(&self, detail: &str) -> ProviderError {
        ProviderError::Unavailable {
            provider: self.name(),
            detail: detail.to_owned(),
        }
    }
}

#[async_trait]
impl PaymentProvider for SimulatedProvider {
    fn name(&self) -> &'static str {
        "simulated"
    }

    async fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> Result<Authorization, ProviderError> {
        tokio::time::sleep(self.latency_for(request.order_id)).await;
        if request.token == self.config.fail_token {
            return Err(self.outage("the fail token always fails"));
        }
        if self.transient_failure(request.order_id, Operation::Authorize) {
            return Err(self.outage("simulated transient failure"));
        }
        Ok(self.decide(&request))
    }

    async fn refund(&self, request: RefundRequest) -> Result<Refund, ProviderError> {
        tokio::time::sleep(self.latency_for(request.order_id)).await;
        if self.transient_failure(request.order_id, Operation::Refund) {
            return Err(self.outage("simulated transient failure"));
        }
        Ok(Refund {
            reference: reference("sim_refund_", request.order_id),
        })
    }
}

/// A stable reference per order: the same order always gets the same one.
fn reference(prefix: &str, order_id: Uuid) -> String {
    let id = Uuid::new_v5(
        &NAMESPACE,
        &[prefix.as_bytes(), order_id.as_bytes()].concat(),
    );
    format!("{prefix}{}", id.simple())
}

/// A number in `[0, 1)` from the order id and a salt, uniform enough for
/// picking shares of orders and stable across runs and platforms.
fn unit_hash(order_id: Uuid, salt: &[u8]) -> f64 {
    let digest = Uuid::new_v5(&NAMESPACE, &[salt, order_id.as_bytes()].concat());
    let high = (digest.as_u128() >> 64) as u64;
    // 53 bits: exactly representable in an f64.
    (high >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(config: ProviderConfig) -> SimulatedProvider {
        SimulatedProvider::new(&config)
    }

    fn request(order: u128, amount_cents: i64, token: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            order_id: Uuid::from_u128(order),
            amount_cents,
            token: token.into(),
        }
    }

    fn reason(answer: &Authorization) -> Option<&str> {
        match answer {
            Authorization::Declined { reason } => Some(reason),
            Authorization::Approved { .. } => None,
        }
    }

    #[tokio::test]
    async fn explicit_rules_decide() {
        let p = provider(ProviderConfig {
            decline_above_cents: 1_000,
            ..ProviderConfig::default()
        });
        let answer = |order, amount, token: &'static str| {
            let p = &p;
            async move { p.authorize(request(order, amount, token)).await }
        };
        assert_eq!(
            reason(&answer(1, 1_000, "tok_ok").await.expect("answer")),
            None
        );
        assert_eq!(reason(&answer(1, 0, "tok_ok").await.expect("answer")), None);
        assert_eq!(
            reason(&answer(1, 1_001, "tok_ok").await.expect("answer")),
            Some(DECLINE_AMOUNT_LIMIT)
        );
        assert_eq!(
            reason(&answer(1, 5, "tok_decline").await.expect("answer")),
            Some(DECLINE_CARD)
        );
        assert_eq!(
            reason(&answer(1, 5, "").await.expect("answer")),
            Some(DECLINE_INVALID_TOKEN)
        );
        assert_eq!(
            reason(&answer(1, -5, "tok_ok").await.expect("answer")),
            Some(DECLINE_INVALID_AMOUNT)
        );
        assert!(answer(1, 5, "tok_fail").await.is_err());
    }

    #[tokio::test]
    async fn answers_are_idempotent_per_order() {
        let p = provider(ProviderConfig::default());
        let first = p.authorize(request(7, 10, "tok_ok")).await.expect("answer");
        let again = p.authorize(request(7, 10, "tok_ok")).await.expect("answer");
        let other = p.authorize(request(8, 10, "tok_ok")).await.expect("answer");
        assert_eq!(first, again);
        assert_ne!(first, other);
        let refund = RefundRequest {
            order_id: Uuid::from_u128(7),
            amount_cents: 10,
            authorization_reference: None,
        };
        assert_eq!(
            p.refund(refund.clone()).await.expect("refund"),
            p.refund(refund).await.expect("refund")
        );
    }

    #[tokio::test]
    async fn failure_rate_picks_a_deterministic_share_of_orders_that_recover() {
        let config = ProviderConfig {
            failure_rate: 0.3,
            transient_failures: 2,
            ..ProviderConfig::default()
        };
        let p = provider(config.clone());
        let mut failing = Vec::new();
        for order in 0..1_000u128 {
            if p.authorize(request(order, 1, "tok_ok")).await.is_err() {
                failing.push(order);
            }
        }
        assert!(
            (250..350).contains(&failing.len()),
            "{} of 1000",
            failing.len()
        );
        // The same orders fail with a fresh provider: deterministic.
        let fresh = provider(config);
        for &order in &failing[..10] {
            assert!(fresh.authorize(request(order, 1, "tok_ok")).await.is_err());
        }
        // Each failing order fails exactly `transient_failures` times, then recovers.
        let order = failing[0];
        assert!(
            p.authorize(request(order, 1, "tok_ok")).await.is_err(),
            "second failure"
        );
        assert!(
            p.authorize(request(order, 1, "tok_ok")).await.is_ok(),
            "then recovers"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn latency_is_configured_and_jitter_is_per_order() {
        let p = provider(ProviderConfig {
            latency: Duration::from_millis(100),
            latency_jitter: Duration::from_millis(50),
            ..ProviderConfig::default()
        });
        let started = tokio::time::Instant::now();
        p.authorize(request(3, 1, "tok_ok")).await.expect("answer");
        let took = started.elapsed();
        assert_eq!(took, p.latency_for(Uuid::from_u128(3)));
        assert!(took >= Duration::from_millis(100) && took <= Duration::from_millis(150));
        let spread: std::collections::HashSet<Duration> = (0..20u128)
            .map(|o| p.latency_for(Uuid::from_u128(o)))
            .collect();
        assert!(spread.len() > 10, "jitter differs between orders");
    }

    #[test]
    fn unit_hash_stays_in_range() {
        for order in 0..10_000u128 {
            let h = unit_hash(Uuid::from_u128(order), b"x");
            assert!((0.0..1.0).contains(&h));
        }
    }
}
