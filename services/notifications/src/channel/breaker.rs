//! A small circuit breaker for the webhook channel.
//!
//! ```text
//!            failure_threshold failures in a row
//!   CLOSED ──────────────────────────────────────▶ OPEN
//!     ▲                                             │ open_for elapsed:
//!     │ the trial call succeeds                     │ one trial call admitted
//!     │                                             ▼
//!     └──────────────────────────────────────── HALF-OPEN
//!                                    the trial fails: OPEN again
//! ```
//!
//! While OPEN, deliveries fail at once (a retryable handler error) instead
//! of each waiting for the webhook's timeout, so an unreachable receiver
//! neither stalls the consumer nor gets hammered while it recovers.
//!
//! Outcomes are matched to the breaker *epoch* their call was admitted in;
//! every transition starts a new epoch, so a slow call that began before the
//! circuit opened cannot close it again when it finally succeeds. The state
//! is a `std::sync::Mutex` held for a few assignments and never across an
//! `.await`; time is `tokio::time::Instant`, so tests drive it with
//! `tokio::time::pause`.

use std::{
    sync::{Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// When to stop calling the receiver and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed deliveries (errors, timeouts, non-2xx answers)
    /// that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial delivery is let
    /// through.
    #[serde(with = "humantime_serde")]
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_for: Duration::from_secs(10),
        }
    }
}

/// The breaker's position, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// A call the breaker did not let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit {state:?}; next attempt allowed in {retry_in:?}")]
pub struct CircuitOpen {
    pub state: BreakerState,
    /// How long until a call may be admitted, at the earliest.
    pub retry_in: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Position {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `trial` is whether the one trial call is out.
    HalfOpen {
        trial: bool,
    },
}

#[derive(Debug)]
struct Inner {
    position: Position,
    epoch: u64,
}

/// The breaker. Share it (`Arc`) between the tasks that call one receiver.
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

/// Admission of one call. Report the outcome with [`Permit::success`] or
/// [`Permit::failure`]; a permit dropped without either (the call's future
/// was cancelled) counts as a failure, so a half-open trial slot can never
/// leak.
#[derive(Debug)]
#[must_use = "report the call's outcome"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    epoch: u64,
    reported: bool,
}

impl CircuitBreaker {
    pub fn new(config: BreakerConfig) -> Self {
        CircuitBreaker {
            config: BreakerConfig {
                failure_threshold: config.failure_threshold.max(1),
                ..config
            },
            inner: Mutex::new(Inner {
                position: Position::Closed { failures: 0 },
                epoch: 0,
            }),
        }
    }

    /// The current position (an elapsed OPEN reads as HALF-OPEN).
    pub fn state(&self) -> BreakerState {
        match self.lock().position {
            Position::Closed { .. } => BreakerState::Closed,
            Position::Open { until } if Instant::now() < until => BreakerState::Open,
            Position::Open { .. } | Position::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Admits a call, or says why not.
    pub fn acquire(&self) -> Result<Permit<'_>, CircuitOpen> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.position {
            Position::Closed { .. } => {}
            Position::Open { until } if now < until => {
                return Err(CircuitOpen {
                    state: BreakerState::Open,
                    retry_in: until - now,
                });
            }
            Position::Open { .. } | Position::HalfOpen { trial: false } => {
                inner.position = Position::HalfOpen { trial: true };
                inner.epoch += 1;
                tracing::info!("webhook circuit half-open: sending a trial delivery");
            }
            Position::HalfOpen { trial: true } => {
                return Err(CircuitOpen {
                    state: BreakerState::HalfOpen,
                    retry_in: Duration::ZERO,
                });
            }
        }
        Ok(Permit {
            breaker: self,
            epoch: inner.epoch,
            reported: false,
        })
    }

    fn record(&self, epoch: u64, success: bool) {
        let mut inner = self.lock();
        if inner.epoch != epoch {
            // Admitted before the last transition: its outcome says nothing
            // about the receiver's current health.
            return;
        }
        let next = match (inner.position, success) {
            (Position::Closed { .. }, true) => Position::Closed { failures: 0 },
            (Position::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.config.failure_threshold {
                    tracing::warn!(failures, "webhook circuit opened");
                    self.open()
                } else {
                    Position::Closed { failures }
                }
            }
            (Position::HalfOpen { .. }, true) => {
                tracing::info!("webhook circuit closed: the trial delivery succeeded");
                Position::Closed { failures: 0 }
            }
            (Position::HalfOpen { .. }, false) => {
                tracing::warn!("webhook circuit re-opened: the trial delivery failed");
                self.open()
            }
            (open @ Position::Open { .. }, _) => open,
        };
        let transition = std::mem::discriminant(&next) != std::mem::discriminant(&inner.position);
        inner.position = next;
        if transition {
            inner.epoch += 1;
        }
    }

    fn open(&self) -> Position {
        Position::Open {
            until: Instant::now() + self.config.open_for,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing panics while the lock is held; if something did, the
        // plain-data state is still usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(self.epoch, true);
    }

    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(self.epoch, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.record(self.epoch, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_threshold: 3,
            open_for: Duration::from_secs(10),
        })
    }

    fn fail(breaker: &CircuitBreaker, times: usize) {
        for _ in 0..times {
            breaker.acquire().expect("admitted").failure();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = breaker();
        fail(&b, 2);
        b.acquire().expect("admitted").success();
        fail(&b, 2);
        assert_eq!(
            b.state(),
            BreakerState::Closed,
            "a success resets the count"
        );
        fail(&b, 1);
        assert_eq!(b.state(), BreakerState::Open);
        let refused = b.acquire().expect_err("open");
        assert_eq!(refused.state, BreakerState::Open);
        assert_eq!(refused.retry_in, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_one_trial_that_closes_on_success() {
        let b = breaker();
        fail(&b, 3);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(b.acquire().is_err(), "still open");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);
        let trial = b.acquire().expect("trial admitted");
        assert_eq!(
            b.acquire().expect_err("one trial at a time").state,
            BreakerState::HalfOpen
        );
        trial.success();
        assert_eq!(b.state(), BreakerState::Closed);
        b.acquire().expect("closed again").success();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_trial_reopens_for_the_full_period() {
        let b = breaker();
        fail(&b, 3);
        tokio::time::advance(Duration::from_secs(10)).await;
        b.acquire().expect("trial").failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.acquire().expect_err("open").retry_in,
            Duration::from_secs(10)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_trial_counts_as_a_failure() {
        let b = breaker();
        fail(&b, 3);
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(b.acquire().expect("trial"));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_success_does_not_close_an_open_circuit() {
        let b = breaker();
        let slow = b.acquire().expect("admitted while closed");
        fail(&b, 3);
        assert_eq!(b.state(), BreakerState::Open);
        slow.success();
        assert_eq!(b.state(), BreakerState::Open);
    }
}
