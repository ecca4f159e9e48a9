//! The event-time watermark: per source partition, combined into one global
//! watermark that decides which windows are final.
//!
//! # Semantics
//!
//! - Each source partition `(topic, partition)` keeps the largest event time
//!   it delivered, `max`, and its **partition watermark** `max − allowed
//!   lateness`. Only the partition's own consumer advances it, so replicas
//!   and rebalances cannot make it go backwards (the row is written with
//!   `Expect::Version`).
//! - The **global watermark** is the minimum of the partition watermarks of
//!   the *active* partitions: those that have delivered data and did so
//!   within `idle_partition_timeout` (processing time). Partitions that never
//!   delivered anything are not waited for; partitions idle for longer than
//!   the timeout stop holding the watermark back (see "idle partitions").
//! - When every partition is idle, the watermark is the largest partition
//!   watermark, and from then on follows the wall clock as
//!   `now − idle_partition_timeout − allowed_lateness`, so the last windows
//!   of a burst of traffic become final once traffic stops.
//! - The watermark never goes backwards: every processed event publishes the
//!   global watermark it computed into its partition's row, and the global
//!   watermark is at least the largest published value.
//! - A window `[start, end)` is **final** when `end <= global watermark`.
//! - An event is **late** when its window ended at or before
//!   `max(global watermark, its own partition watermark)`, both as they were
//!   before the event. A late event is counted in its window's `late_events`
//!   and applied nowhere else, so a final window's aggregates never change.
//!   (Including the partition's own watermark makes the decision exact
//!   against concurrent progress of other partitions: any global value they
//!   can publish while this partition is active is at most its own
//!   watermark.)
//!
//! # Idle partitions
//!
//! Without an idle timeout, one silent partition (the `users` topic after the
//! registrations of a load run) would hold every window open forever. The
//! price of the timeout: when an idle partition resumes, its events older
//! than the watermark are late — correct by the definition above — but
//! there is a window of a few milliseconds in which its first event and a
//! concurrent watermark advance by another partition (or a query) do not see
//! each other, so that event may still be applied to a window a query has
//! just reported final. Only events of a partition silent for longer than
//! `idle_partition_timeout` *and* older than the watermark are exposed; set
//! the timeout above the longest expected gap of a partition to avoid it.
//! Idleness is measured in processing time, so a view rebuilt by a fast
//! replay (where no partition looks idle) may count fewer late events than
//! the live view did.

use serde::{Deserialize, Serialize};

/// The watermark state of one source partition (a row of `watermarks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionClock {
    pub topic: String,
    pub partition: i32,
    /// Largest event time delivered by this partition (ms since the epoch).
    pub max_event_time_ms: i64,
    /// Processing time of the last event from this partition.
    pub updated_at_ms: i64,
    /// The global watermark as computed when this partition's last event
    /// was processed; keeps the global watermark monotonic.
    #[serde(default)]
    pub published_ms: Option<i64>,
}

impl PartitionClock {
    fn is(&self, topic: &str, partition: i32) -> bool {
        self.topic == topic && self.partition == partition
    }
}

/// Lateness and idleness settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WatermarkPolicy {
    /// How far behind the largest event time an event may be and still be
    /// applied.
    pub allowed_lateness_ms: i64,
    /// Processing time after which a silent partition no longer holds the
    /// watermark back.
    pub idle_timeout_ms: i64,
}

/// What processing one event does to the watermark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    /// Windows ending at or before this are closed for the event (`None`:
    /// nothing is closed yet).
    pub late_threshold_ms: Option<i64>,
    /// The partition's new row.
    pub clock: PartitionClock,
}

impl Advance {
    /// Whether an event whose window ends at `window_end_ms` is late.
    pub fn is_late(&self, window_end_ms: i64) -> bool {
        self.late_threshold_ms
            .is_some_and(|threshold| window_end_ms <= threshold)
    }
}

impl WatermarkPolicy {
    /// `max − allowed lateness` of one partition.
    pub fn partition_watermark(&self, clock: &PartitionClock) -> i64 {
        clock
            .max_event_time_ms
            .saturating_sub(self.allowed_lateness_ms)
    }

    /// Whether `clock`'s partition has been silent for longer than the idle
    /// timeout at `now_ms`.
    pub fn is_idle(&self, clock: &PartitionClock, now_ms: i64) -> bool {
        now_ms.saturating_sub(clock.updated_at_ms) > self.idle_timeout_ms
    }

    /// The global watermark over `clocks` at `now_ms`; `None` before any
    /// partition delivered data. See the module docs.
    pub fn global(&self, clocks: &[PartitionClock], now_ms: i64) -> Option<i64> {
        self.global_of(clocks.iter(), now_ms)
    }

    fn global_of<'a>(
        &self,
        clocks: impl Iterator<Item = &'a PartitionClock> + Clone,
        now_ms: i64,
    ) -> Option<i64> {
        let published = clocks.clone().filter_map(|c| c.published_ms).max();
        let active = clocks
            .clone()
            .filter(|c| !self.is_idle(c, now_ms))
            .map(|c| self.partition_watermark(c))
            .min();
        let progress = match active {
            Some(min) => Some(min),
            None => clocks
                .map(|c| self.partition_watermark(c))
                .max()
                .map(|max| {
                    let quiet = now_ms
                        .saturating_sub(self.idle_timeout_ms)
                        .saturating_sub(self.allowed_lateness_ms);
                    max.max(quiet)
                }),
        };
        match (published, progress) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    /// Processes an event of `topic`/`partition` with event time
    /// `event_time_ms` at `now_ms`, given every partition's current row.
    pub fn advance(
        &self,
        clocks: &[PartitionClock],
        topic: &str,
        partition: i32,
        event_time_ms: i64,
        now_ms: i64,
    ) -> Advance {
        let own = clocks.iter().find(|c| c.is(topic, partition));
        let before = self.global(clocks, now_ms);
        let own_watermark = own.map(|c| self.partition_watermark(c));
        let late_threshold_ms = match (before, own_watermark) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let mut clock = PartitionClock {
            topic: topic.to_owned(),
            partition,
            max_event_time_ms: own
                .map_or(event_time_ms, |c| c.max_event_time_ms.max(event_time_ms)),
            updated_at_ms: own.map_or(now_ms, |c| c.updated_at_ms.max(now_ms)),
            published_ms: None,
        };
        let others = clocks.iter().filter(|c| !c.is(topic, partition));
        let after = self.global_of(others.chain(std::iter::once(&clock)), now_ms);
        clock.published_ms = match (before, after) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        Advance {
            late_threshold_ms,
            clock,
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const POLICY: WatermarkPolicy = WatermarkPolicy {
        allowed_lateness_ms: 5_000,
        idle_timeout_ms: 30_000,
    };

    fn clock(topic: &str, partition: i32, max: i64, updated: i64) -> PartitionClock {
        PartitionClock {
            topic: topic.into(),
            partition,
            max_event_time_ms: max,
            updated_at_ms: updated,
            published_ms: None,
        }
    }

    /// Feeds events through `advance`, keeping the rows like the projector does.
    fn feed(
        clocks: &mut Vec<PartitionClock>,
        topic: &str,
        partition: i32,
        t: i64,
        now: i64,
    ) -> Advance {
        let advance = POLICY.advance(clocks, topic, partition, t, now);
        clocks.retain(|c| !c.is(topic, partition));
        clocks.push(advance.clock.clone());
        advance
    }

    #[test]
    fn no_watermark_before_data() {
        assert_eq!(POLICY.global(&[], 1_000), None);
        let first = POLICY.advance(&[], "orders", 0, 100_000, 100_000);
        assert_eq!(first.late_threshold_ms, None);
        assert!(!first.is_late(0));
        assert_eq!(first.clock.published_ms, Some(95_000));
    }

    #[test]
    fn watermark_is_max_minus_lateness_of_one_partition() {
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 0, 100_000, 1);
        feed(&mut clocks, "orders", 0, 90_000, 2);
        assert_eq!(POLICY.global(&clocks, 3), Some(95_000));
    }

    #[test]
    fn slowest_active_partition_holds_the_watermark() {
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 1, 100_000, 1_000);
        feed(&mut clocks, "orders", 0, 200_000, 1_000);
        assert_eq!(POLICY.global(&clocks, 1_000), Some(95_000));
        // Partition 1 catches up; the watermark follows the new minimum.
        feed(&mut clocks, "orders", 1, 180_000, 2_000);
        assert_eq!(POLICY.global(&clocks, 2_000), Some(175_000));
    }

    #[test]
    fn idle_partitions_stop_holding_the_watermark_back() {
        let mut clocks = Vec::new();
        feed(&mut clocks, "users", 0, 10_000, 0);
        feed(&mut clocks, "orders", 0, 100_000, 0);
        assert_eq!(POLICY.global(&clocks, 0), Some(5_000));
        // Orders keeps flowing; users stays silent past the idle timeout.
        feed(&mut clocks, "orders", 0, 140_000, 31_000);
        assert_eq!(POLICY.global(&clocks, 31_000), Some(135_000));
        // Users resumes with an old event: it is late for closed windows and
        // the watermark does not go back.
        let resumed = feed(&mut clocks, "users", 0, 20_000, 32_000);
        assert!(resumed.is_late(60_000));
        assert!(POLICY.global(&clocks, 32_000) >= Some(135_000));
    }

    #[test]
    fn all_idle_follows_the_wall_clock() {
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 1, 90_000, 100_000);
        feed(&mut clocks, "orders", 0, 100_000, 100_000);
        assert_eq!(POLICY.global(&clocks, 100_000), Some(85_000));
        assert_eq!(POLICY.global(&clocks, 130_000), Some(85_000));
        // Everything silent: at least the largest partition watermark ...
        assert_eq!(POLICY.global(&clocks, 130_001), Some(95_001));
        // ... then the wall clock minus idle timeout and lateness.
        assert_eq!(POLICY.global(&clocks, 200_000), Some(165_000));
    }

    #[test]
    fn lateness_is_decided_per_window() {
        let minute = 60_000;
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 0, 130_000, 0); // watermark 125 s
        // Out of order within lateness: window [120, 180) still open.
        assert!(!feed(&mut clocks, "orders", 0, 121_000, 1).is_late(2 * minute + minute));
        // Window [60, 120) ended at 120 s <= 125 s: late.
        assert!(feed(&mut clocks, "orders", 0, 119_000, 2).is_late(2 * minute));
        // Exactly at the boundary: window end == watermark is final.
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 0, 125_000, 0); // watermark 120 s
        assert!(feed(&mut clocks, "orders", 0, 100_000, 1).is_late(2 * minute));
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 0, 124_999, 0); // watermark 119.999 s
        assert!(!feed(&mut clocks, "orders", 0, 100_000, 1).is_late(2 * minute));
    }

    #[test]
    fn own_partition_watermark_closes_windows_even_if_others_lag() {
        let mut clocks = Vec::new();
        feed(&mut clocks, "orders", 0, 10_000, 0);
        feed(&mut clocks, "orders", 1, 200_000, 0);
        // Global watermark is 5 s, but partition 1 is itself at 195 s.
        let advance = feed(&mut clocks, "orders", 1, 50_000, 1);
        assert!(advance.is_late(60_000));
        let advance = feed(&mut clocks, "orders", 0, 50_000, 1);
        assert!(!advance.is_late(60_000));
    }

    fn event_strategy() -> impl Strategy<Value = (usize, i64, i64)> {
        // (partition, event time, processing-time step)
        (0usize..4, 0i64..600_000, 0i64..20_000)
    }

    proptest! {
        /// Whatever arrives, the global watermark never goes back, and no
        /// window a query saw as final is ever changed afterwards.
        #[test]
        fn watermark_is_monotonic_and_final_windows_stay_final(
            events in prop::collection::vec(event_strategy(), 1..80),
        ) {
            let minute = 60_000;
            let mut clocks: Vec<PartitionClock> = Vec::new();
            let mut now = 0i64;
            let mut last_global: Option<i64> = None;
            for (partition, t, step) in events {
                now += step;
                let seen_by_query = POLICY.global(&clocks, now);
                prop_assert!(seen_by_query >= last_global);
                let advance = feed(&mut clocks, "t", partition as i32, t, now);
                let end = (t.div_euclid(minute) + 1) * minute;
                if seen_by_query.is_some_and(|g| end <= g) {
                    prop_assert!(advance.is_late(end), "final window changed");
                }
                let after = POLICY.global(&clocks, now);
                prop_assert!(after >= seen_by_query);
                last_global = after;
            }
        }
    }

    #[test]
    fn rows_round_trip_through_json() {
        let row = clock("orders", 3, 5, 6);
        let json = serde_json::to_string(&row).expect("serializes");
        assert_eq!(
            serde_json::from_str::<PartitionClock>(&json).expect("parses"),
            row
        );
    }
}
