//! A circuit breaker for calls to the payment provider.
//!
//! ```text
//!   CLOSED ── failure_threshold consecutive failures ──▶ OPEN
//!     ▲                                                  │ open_duration elapsed
//!     │ half_open_probes successes                       ▼
//!     └──────────────────────────────────────────── HALF-OPEN ── a probe fails ──▶ OPEN
//! ```
//!
//! While OPEN every call is refused at once, so a provider outage costs the
//! consumer one cheap retryable error per event instead of a timeout each,
//! and the provider gets room to recover. HALF-OPEN lets a bounded number of
//! probe calls through; the rest are refused as if OPEN.
//!
//! Every state change starts a new *generation*; an outcome reported for a
//! call admitted in an older generation is ignored, so a slow call that
//! started before the breaker opened cannot close it again.
//!
//! The state sits behind a `std::sync::Mutex` held only for a few field
//! updates, never across an `.await`. Time is `tokio::time::Instant`, so
//! tests drive it with `tokio::time::pause`.

use std::{
    sync::{Mutex, MutexGuard},
    time::Duration,
};

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// `[payments.breaker]`: when to stop calling the provider and when to try again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Consecutive failed calls (errors or timeouts; declines are answers,
    /// not failures) that open the breaker.
    pub failure_threshold: u32,
    /// How long the breaker stays open before it lets probe calls through.
    #[serde(with = "humantime_serde")]
    pub open_duration: Duration,
    /// Probe calls allowed at once while half-open; this many successes in a
    /// row close the breaker, any failure opens it again.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_duration: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }
}

/// The breaker's state, for logs, metrics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// A call the breaker refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker {state:?}: provider calls paused for {retry_in:?}")]
pub struct Refused {
    /// OPEN, or HALF-OPEN with every probe slot taken.
    pub state: BreakerState,
    /// How long until the breaker lets a call through at the earliest.
    pub retry_in: Duration,
}

#[derive(Debug, Clone, Copy)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Inner {
    state: State,
    generation: u64,
}

/// A circuit breaker; share it (`Arc` or a field of a shared value) between
/// all callers of one dependency.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: &'static str,
    failure_threshold: u32,
    open_duration: Duration,
    half_open_probes: u32,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker named `name` (for logs). Zero thresholds are raised to 1.
    pub fn new(name: &'static str, config: &BreakerConfig) -> Self {
        CircuitBreaker {
            name,
            failure_threshold: config.failure_threshold.max(1),
            open_duration: config.open_duration,
            half_open_probes: config.half_open_probes.max(1),
            inner: Mutex::new(Inner {
                state: State::Closed { failures: 0 },
                generation: 0,
            }),
        }
    }

    /// The current state (an OPEN breaker whose time is up reports HALF-OPEN
    /// only once a call was let through).
    pub fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Asks to make one call. Report its outcome on the [`Permit`]; a permit
    /// dropped without an outcome (the call was cancelled) counts as a
    /// failure, so an abandoned probe never blocks the breaker.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Refused> {
        let now = Instant::now();
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed { .. } => false,
            State::Open { until } if now < until => {
                return Err(Refused {
                    state: BreakerState::Open,
                    retry_in: until - now,
                });
            }
            State::Open { .. } => {
                inner.state = State::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                inner.generation += 1;
                tracing::info!(breaker = self.name, "circuit breaker half-open: probing");
                true
            }
            State::HalfOpen {
                in_flight,
                successes,
            } => {
                if in_flight >= self.half_open_probes {
                    return Err(Refused {
                        state: BreakerState::HalfOpen,
                        retry_in: Duration::ZERO,
                    });
                }
                inner.state = State::HalfOpen {
                    in_flight: in_flight + 1,
                    successes,
                };
                true
            }
        };
        Ok(Permit {
            breaker: self,
            generation: inner.generation,
            probe,
            reported: false,
        })
    }

    fn record(&self, generation: u64, probe: bool, success: bool) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.generation != generation {
            return; // admitted before the last state change: stale
        }
        match (inner.state, success) {
            (State::Closed { .. }, true) => inner.state = State::Closed { failures: 0 },
            (State::Closed { failures }, false) => {
                let failures = failures.saturating_add(1);
                if failures >= self.failure_threshold {
                    self.open(&mut inner, now);
                } else {
                    inner.state = State::Closed { failures };
                }
            }
            (
                State::HalfOpen {
                    in_flight,
                    successes,
                },
                true,
            ) if probe => {
                let successes = successes + 1;
                if successes >= self.half_open_probes {
                    inner.state = State::Closed { failures: 0 };
                    inner.generation += 1;
                    tracing::info!(breaker = self.name, "circuit breaker closed");
                } else {
                    inner.state = State::HalfOpen {
                        in_flight: in_flight.saturating_sub(1),
                        successes,
                    };
                }
            }
            (State::HalfOpen { .. }, false) if probe => self.open(&mut inner, now),
            // Same generation but not matching the state: cannot happen, as
            // every state change bumps the generation. Nothing to do.
            _ => {}
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        inner.state = State::Open {
            until: now + self.open_duration,
        };
        inner.generation += 1;
        tracing::warn!(
            breaker = self.name,
            open_for = ?self.open_duration,
            "circuit breaker opened: provider calls paused"
        );
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The critical sections only assign plain fields and cannot panic
        // half-way, so a poisoned lock still holds a consistent state.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Permission for one call; report how it went.
#[derive(Debug)]
#[must_use = "report the call's outcome with success() or failure()"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    probe: bool,
    reported: bool,
}

impl Permit<'_> {
    /// The dependency answered (a decline is an answer too).
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.record(self.generation, self.probe, true);
    }

    /// The dependency failed or did not answer in time.
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.record(self.generation, self.probe, false);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.record(self.generation, self.probe, false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, probes: u32) -> CircuitBreaker {
        CircuitBreaker::new(
            "test",
            &BreakerConfig {
                failure_threshold: threshold,
                open_duration: Duration::from_secs(10),
                half_open_probes: probes,
            },
        )
    }

    fn fail(b: &CircuitBreaker) {
        b.try_acquire().expect("admitted").failure();
    }

    fn succeed(b: &CircuitBreaker) {
        b.try_acquire().expect("admitted").success();
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = breaker(3, 1);
        fail(&b);
        fail(&b);
        succeed(&b); // resets the count
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Closed);
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        let refused = b.try_acquire().expect_err("open");
        assert_eq!(refused.state, BreakerState::Open);
        assert_eq!(refused.retry_in, Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn lets_one_probe_through_after_the_open_duration() {
        let b = breaker(1, 1);
        fail(&b);
        tokio::time::advance(Duration::from_secs(4)).await;
        let refused = b.try_acquire().expect_err("still open");
        assert_eq!(refused.retry_in, Duration::from_secs(6));

        tokio::time::advance(Duration::from_secs(6)).await;
        let probe = b.try_acquire().expect("probe admitted");
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert_eq!(
            b.try_acquire().expect_err("one probe at a time").state,
            BreakerState::HalfOpen
        );
        probe.success();
        assert_eq!(b.state(), BreakerState::Closed);
        succeed(&b);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_for_another_full_period() {
        let b = breaker(1, 1);
        fail(&b);
        tokio::time::advance(Duration::from_secs(10)).await;
        fail(&b); // the probe
        assert_eq!(b.state(), BreakerState::Open);
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(b.try_acquire().is_err());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(b.try_acquire().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn several_probes_must_all_succeed() {
        let b = breaker(1, 2);
        fail(&b);
        tokio::time::advance(Duration::from_secs(10)).await;
        let first = b.try_acquire().expect("probe 1");
        let second = b.try_acquire().expect("probe 2");
        assert!(b.try_acquire().is_err(), "only two probes");
        first.success();
        assert_eq!(b.state(), BreakerState::HalfOpen);
        second.success();
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn late_outcomes_of_an_older_generation_are_ignored() {
        let b = breaker(1, 1);
        let slow = b.try_acquire().expect("admitted while closed");
        fail(&b);
        assert_eq!(b.state(), BreakerState::Open);
        slow.success(); // started before the breaker opened
        assert_eq!(b.state(), BreakerState::Open);

        let slow_failure = {
            tokio::time::advance(Duration::from_secs(10)).await;
            let probe = b.try_acquire().expect("probe");
            probe.success();
            b.try_acquire().expect("closed again")
        };
        let older = b.try_acquire().expect("closed");
        drop(slow_failure); // counts as a failure in the current generation
        assert_eq!(b.state(), BreakerState::Open);
        older.success(); // stale
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[tokio::test(start_paused = true)]
    async fn an_abandoned_probe_frees_its_slot() {
        let b = breaker(1, 1);
        fail(&b);
        tokio::time::advance(Duration::from_secs(10)).await;
        drop(b.try_acquire().expect("probe"));
        assert_eq!(
            b.state(),
            BreakerState::Open,
            "abandoned probe = failed probe"
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert!(b.try_acquire().is_ok());
    }

    #[test]
    fn config_parses_humane_durations_and_rejects_typos() {
        let config: BreakerConfig =
            serde_json::from_str(r#"{"open_duration":"250ms","failure_threshold":2}"#)
                .expect("valid");
        assert_eq!(config.open_duration, Duration::from_millis(250));
        assert_eq!(config.half_open_probes, 1);
        assert!(serde_json::from_str::<BreakerConfig>(r#"{"threshold":2}"#).is_err());
    }
}
