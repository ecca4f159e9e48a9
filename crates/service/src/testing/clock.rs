//! [`ManualClock`]: "now" as the test says.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

use crate::Clock;

/// A clock tests set and advance by hand, so time-dependent decisions
/// (saga timeouts, watermarks, event times) are tested without waiting.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A shared clock reading `now_ms` until moved.
    pub fn at(now_ms: i64) -> Arc<Self> {
        Arc::new(ManualClock(AtomicI64::new(now_ms)))
    }

    /// Moves the clock to `now_ms` (backwards too: tests of skew need it).
    pub fn set(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by_ms`.
    pub fn advance(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
