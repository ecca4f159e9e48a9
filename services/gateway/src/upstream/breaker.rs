//! A circuit breaker per upstream instance.
//!
//! Closed: calls pass, consecutive failures are counted. At the threshold
//! it opens: calls are refused without touching the instance for the
//! cooldown, so a dead instance costs nothing but the first few timeouts.
//! After the cooldown it is half-open: exactly one probe call passes; its
//! success closes the breaker, its failure opens it for another cooldown.
//! A probe whose outcome is never reported (its request was dropped) stops
//! blocking after one more cooldown, so the breaker can never wedge.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerConfig;

/// The breaker's state as seen from outside (metrics, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probe_since: Instant },
}

/// One instance's breaker. The lock is only held for a few comparisons,
/// never across an `.await`.
#[derive(Debug)]
pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

impl Breaker {
    pub fn new(config: &BreakerConfig) -> Self {
        Breaker {
            threshold: config.failure_threshold.max(1),
            cooldown: config.cooldown,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    /// Whether a call may go to this instance now. In the half-open state
    /// the first caller gets the probe and the others are refused.
    pub fn try_acquire(&self) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => true,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen { probe_since: now };
                true
            }
            State::Open { .. } => false,
            State::HalfOpen { probe_since } if now >= probe_since + self.cooldown => {
                *state = State::HalfOpen { probe_since: now };
                true
            }
            State::HalfOpen { .. } => false,
        }
    }

    /// The call succeeded (any answer that is not a 5xx).
    pub fn on_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// The call failed (connection error, timeout, 5xx).
    pub fn on_failure(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.threshold => State::Closed {
                failures: failures + 1,
            },
            State::Closed { .. } | State::HalfOpen { .. } => State::Open {
                until: now + self.cooldown,
            },
            // A late failure of a call admitted before the breaker opened.
            open @ State::Open { .. } => open,
        };
    }

    pub fn state(&self) -> BreakerState {
        match *self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value that is always valid, so a poisoned
        // lock (a panic elsewhere while holding it) is safe to reuse.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(&BreakerConfig {
            failure_threshold: 3,
            cooldown: Duration::from_secs(10),
        })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = breaker();
        b.on_failure();
        b.on_failure();
        b.on_success();
        b.on_failure();
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire());
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_one_probe_whose_outcome_decides() {
        let b = breaker();
        for _ in 0..3 {
            b.on_failure();
        }
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!b.try_acquire(), "still cooling down");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.try_acquire(), "the probe");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.try_acquire(), "only one probe at a time");
        b.on_failure();
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.try_acquire());

        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.try_acquire());
        b.on_success();
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.try_acquire() && b.try_acquire());
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_probe_does_not_wedge_the_breaker() {
        let b = breaker();
        for _ in 0..3 {
            b.on_failure();
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.try_acquire());
        // The probe's outcome is never reported.
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.try_acquire(), "a new probe after another cooldown");
    }
}
