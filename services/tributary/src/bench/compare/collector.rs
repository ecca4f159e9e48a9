//! Where every consumer, on either broker, reports what it processed. One
//! clock for the whole run, so the scheduled send time in a stamp and the
//! arrival time here are comparable.

use std::{
    sync::{Mutex, MutexGuard},
    time::Instant,
};

use tokio::sync::Notify;

use super::stamp::Stamp;

/// One processed message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    pub stamp: Stamp,
    /// Arrival time, µs on the run's clock.
    pub at_us: u64,
    /// Arrival minus scheduled send time.
    pub latency_us: u64,
}

#[derive(Debug, Default)]
struct State {
    point: Option<u32>,
    expected: u64,
    arrivals: Vec<Arrival>,
    /// Messages of another point (late ones from an earlier point).
    foreign: u64,
}

/// Collects the arrivals of the current point.
#[derive(Debug)]
pub(crate) struct Collector {
    base: Instant,
    state: Mutex<State>,
    complete: Notify,
}

impl Collector {
    pub fn new() -> Collector {
        Collector {
            base: Instant::now(),
            state: Mutex::new(State::default()),
            complete: Notify::new(),
        }
    }

    /// µs on the run's clock.
    pub fn now_us(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A consumer task that panicked while holding the lock left only
        // plain counters behind: keep using them.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts collecting `point`, expecting `expected` arrivals.
    pub fn begin(&self, point: u32, expected: u64) {
        let mut state = self.state();
        state.point = Some(point);
        state.expected = expected;
        state.arrivals.clear();
        state.foreign = 0;
    }

    /// Called by a consumer once it has processed a message.
    pub fn record(&self, stamp: Stamp) {
        let at_us = self.now_us();
        let mut state = self.state();
        if state.point != Some(stamp.point) {
            state.foreign += 1;
            return;
        }
        state.arrivals.push(Arrival {
            stamp,
            at_us,
            latency_us: at_us.saturating_sub(stamp.scheduled_us),
        });
        if state.arrivals.len() as u64 >= state.expected {
            self.complete.notify_waiters();
        }
    }

    fn is_complete(&self) -> bool {
        let state = self.state();
        state.arrivals.len() as u64 >= state.expected
    }

    /// Waits until every expected arrival is in, or `deadline`; true when
    /// complete.
    pub async fn wait(&self, deadline: tokio::time::Instant) -> bool {
        loop {
            let notified = self.complete.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_complete() {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_complete();
            }
        }
    }

    /// Ends the point: its arrivals in processing order, and how many
    /// messages of other points came in meanwhile.
    pub fn finish(&self) -> (Vec<Arrival>, u64) {
        let mut state = self.state();
        state.point = None;
        (std::mem::take(&mut state.arrivals), state.foreign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(point: u32, seq: u64) -> Stamp {
        Stamp {
            point,
            seq,
            key: 0,
            key_seq: seq,
            scheduled_us: 0,
        }
    }

    #[tokio::test]
    async fn collects_the_current_point_only() {
        let collector = Collector::new();
        collector.begin(1, 2);
        collector.record(stamp(0, 9));
        collector.record(stamp(1, 0));
        let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(20);
        assert!(!collector.wait(soon).await);
        collector.record(stamp(1, 1));
        assert!(collector.wait(tokio::time::Instant::now()).await);
        let (arrivals, foreign) = collector.finish();
        assert_eq!(foreign, 1);
        assert_eq!(arrivals.len(), 2);
        assert_eq!(arrivals[1].stamp.seq, 1);
        // After finish nothing belongs to a point.
        collector.record(stamp(1, 2));
        assert!(collector.finish().0.is_empty());
    }
}
