//! Every provider call through the circuit breaker and a timeout.

use std::{sync::Arc, time::Duration};

use super::{
    Authorization, AuthorizationRequest, PaymentProvider, ProviderError, Refund, RefundRequest,
};
use crate::breaker::{BreakerConfig, CircuitBreaker, Refused};

/// Why a guarded call produced no answer. All are passing faults: the
/// consumer retries the event later with backoff.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Open(#[from] Refused),
    #[error("payment provider did not answer within {0:?}")]
    Timeout(Duration),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// A [`PaymentProvider`] behind a [`CircuitBreaker`] and a per-call timeout.
///
/// Errors and timeouts count as failures; declines are answers and count as
/// successes (a provider that declines is healthy).
#[derive(Debug)]
pub struct GuardedProvider {
    provider: Arc<dyn PaymentProvider>,
    breaker: CircuitBreaker,
    timeout: Duration,
}

impl GuardedProvider {
    pub fn new(
        provider: Arc<dyn PaymentProvider>,
        breaker: &BreakerConfig,
        timeout: Duration,
    ) -> Self {
        GuardedProvider {
            breaker: CircuitBreaker::new(provider.name(), breaker),
            provider,
            timeout,
        }
    }

    /// The breaker, for state checks.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub async fn authorize(
        &self,
        request: AuthorizationRequest,
    ) -> Result<Authorization, CallError> {
        let permit = self.breaker.try_acquire()?;
        let answer = tokio::time::timeout(self.timeout, self.provider.authorize(request)).await;
        settle(permit, answer, self.timeout)
    }

    pub async fn refund(&self, request: RefundRequest) -> Result<Refund, CallError> {
        let permit = self.breaker.try_acquire()?;
        let answer = tokio::time::timeout(self.timeout, self.provider.refund(request)).await;
        settle(permit, answer, self.timeout)
    }
}

fn settle<T>(
    permit: crate::breaker::Permit<'_>,
    answer: Result<Result<T, ProviderError>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> Result<T, CallError> {
    match answer {
        Ok(Ok(value)) => {
            permit.success();
            Ok(value)
        }
        Ok(Err(error)) => {
            permit.failure();
            Err(error.into())
        }
        Err(_) => {
            permit.failure();
            Err(CallError::Timeout(timeout))
        }
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{breaker::BreakerState, config::ProviderConfig, provider::SimulatedProvider};

    fn request(token: &str) -> AuthorizationRequest {
        AuthorizationRequest {
            order_id: Uuid::from_u128(1),
            amount_cents: 100,
            token: token.into(),
        }
    }

    fn guarded(config: ProviderConfig, timeout: Duration) -> GuardedProvider {
        let breaker = BreakerConfig {
            failure_threshold: 2,
            open_duration: Duration::from_secs(30),
            half_open_probes: 1,
        };
        GuardedProvider::new(Arc::new(SimulatedProvider::new(&config)), &breaker, timeout)
    }

    #[tokio::test(start_paused = true)]
    async fn slow_calls_time_out_and_open_the_breaker() {
        let config = ProviderConfig {
            latency: Duration::from_secs(5),
            ..ProviderConfig::default()
        };
        let p = guarded(config, Duration::from_secs(1));
        for _ in 0..2 {
            assert!(matches!(
                p.authorize(request("tok_ok")).await,
                Err(CallError::Timeout(_))
            ));
        }
        assert_eq!(p.breaker().state(), BreakerState::Open);
        let started = tokio::time::Instant::now();
        assert!(matches!(
            p.authorize(request("tok_ok")).await,
            Err(CallError::Open(_))
        ));
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "an open breaker answers at once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn provider_errors_open_the_breaker_and_declines_do_not() {
        let p = guarded(ProviderConfig::default(), Duration::from_secs(1));
        for _ in 0..5 {
            let answer = p
                .authorize(request("tok_decline"))
                .await
                .expect("an answer");
            assert!(matches!(answer, Authorization::Declined { .. }));
        }
        assert_eq!(p.breaker().state(), BreakerState::Closed);
        for _ in 0..2 {
            assert!(matches!(
                p.authorize(request("tok_fail")).await,
                Err(CallError::Provider(_))
            ));
        }
        assert!(matches!(
            p.refund(RefundRequest {
                order_id: Uuid::from_u128(1),
                amount_cents: 1,
                authorization_reference: None,
            })
            .await,
            Err(CallError::Open(_))
        ));

        tokio::time::advance(Duration::from_secs(30)).await;
        let answer = p
            .authorize(request("tok_ok"))
            .await
            .expect("probe answered");
        assert!(matches!(answer, Authorization::Approved { .. }));
        assert_eq!(p.breaker().state(), BreakerState::Closed);
    }
}
