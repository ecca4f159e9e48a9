//! Tumbling event-time windows: which window an event belongs to, and how
//! windows are grouped into view partitions.

use super::DomainError;

/// Latest event time the service accepts: 9999-12-31T23:59:59.999Z, the last
/// instant RFC 3339 can write. Earlier than 1970 is refused as well, so every
/// window start is a non-negative number of at most 15 digits and the
/// zero-padded clustering keys sort chronologically.
pub const MAX_EVENT_TIME_MS: i64 = 253_402_300_799_999;

/// Longest window: one day. Longer windows make the per-bucket partitions
/// (60 windows each) span months, which no query of this service needs.
pub const MAX_WINDOW_MS: i64 = 86_400_000;

/// Windows per view partition ("an hour of one-minute windows"), so that a
/// range of windows is a handful of partition reads whatever the window size.
pub const WINDOWS_PER_BUCKET: i64 = 60;

/// The size of the tumbling windows. Windows are aligned to the Unix epoch:
/// window `k` covers `[k * size, (k + 1) * size)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    size_ms: i64,
}

impl WindowSpec {
    /// Windows of `size_ms` milliseconds, `1..=MAX_WINDOW_MS`.
    pub fn new(size_ms: i64) -> Result<Self, DomainError> {
        if (1..=MAX_WINDOW_MS).contains(&size_ms) {
            Ok(WindowSpec { size_ms })
        } else {
            Err(DomainError::WindowSize { size_ms })
        }
    }

    pub fn size_ms(&self) -> i64 {
        self.size_ms
    }

    /// Start of the window holding `time_ms` (floor, also for negative times).
    pub fn start_of(&self, time_ms: i64) -> i64 {
        time_ms.div_euclid(self.size_ms) * self.size_ms
    }

    /// End (exclusive) of the window starting at `start_ms`.
    pub fn end_of(&self, start_ms: i64) -> i64 {
        start_ms.saturating_add(self.size_ms)
    }

    /// The first window start of the view partition holding `start_ms`.
    pub fn bucket_of(&self, start_ms: i64) -> i64 {
        let span = self.size_ms * WINDOWS_PER_BUCKET;
        start_ms.div_euclid(span) * span
    }

    /// Starts of the windows overlapping `[from_ms, to_ms)`, oldest first.
    /// Empty when `to_ms <= from_ms`.
    pub fn starts_between(&self, from_ms: i64, to_ms: i64) -> impl Iterator<Item = i64> + use<> {
        let size = self.size_ms;
        let first = self.start_of(from_ms);
        let count = self.count_between(from_ms, to_ms);
        (0..count).map(move |k| first + k * size)
    }

    /// How many windows overlap `[from_ms, to_ms)`.
    pub fn count_between(&self, from_ms: i64, to_ms: i64) -> i64 {
        if to_ms <= from_ms {
            return 0;
        }
        let first = self.start_of(from_ms);
        // Ceiling division of a positive span.
        (to_ms - first + self.size_ms - 1) / self.size_ms
    }
}

/// Whether an event time is one the service can place in a window.
pub fn check_event_time(time_ms: i64) -> Result<(), DomainError> {
    if (0..=MAX_EVENT_TIME_MS).contains(&time_ms) {
        Ok(())
    } else {
        Err(DomainError::EventTime { time_ms })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MINUTE: i64 = 60_000;

    #[test]
    fn assigns_boundaries_to_the_window_they_open() {
        let spec = WindowSpec::new(MINUTE).expect("valid size");
        assert_eq!(spec.start_of(0), 0);
        assert_eq!(spec.start_of(MINUTE - 1), 0);
        assert_eq!(spec.start_of(MINUTE), MINUTE);
        assert_eq!(spec.start_of(MINUTE + 1), MINUTE);
        assert_eq!(spec.end_of(MINUTE), 2 * MINUTE);
        assert_eq!(spec.start_of(-1), -MINUTE);
    }

    #[test]
    fn rejects_unusable_sizes_and_times() {
        assert!(WindowSpec::new(0).is_err());
        assert!(WindowSpec::new(-5).is_err());
        assert!(WindowSpec::new(MAX_WINDOW_MS + 1).is_err());
        assert!(WindowSpec::new(1).is_ok());
        assert!(check_event_time(-1).is_err());
        assert!(check_event_time(MAX_EVENT_TIME_MS + 1).is_err());
        assert!(check_event_time(0).is_ok());
        assert!(check_event_time(MAX_EVENT_TIME_MS).is_ok());
    }

    #[test]
    fn buckets_group_sixty_windows() {
        let spec = WindowSpec::new(MINUTE).expect("valid size");
        let hour = 60 * MINUTE;
        assert_eq!(spec.bucket_of(0), 0);
        assert_eq!(spec.bucket_of(59 * MINUTE), 0);
        assert_eq!(spec.bucket_of(hour), hour);
    }

    #[test]
    fn lists_the_windows_overlapping_a_range() {
        let spec = WindowSpec::new(MINUTE).expect("valid size");
        let starts: Vec<_> = spec.starts_between(30_000, 2 * MINUTE).collect();
        assert_eq!(starts, vec![0, MINUTE]);
        let starts: Vec<_> = spec.starts_between(MINUTE, 2 * MINUTE + 1).collect();
        assert_eq!(starts, vec![MINUTE, 2 * MINUTE]);
        assert_eq!(spec.starts_between(5, 5).count(), 0);
        assert_eq!(spec.starts_between(10, 5).count(), 0);
    }

    proptest! {
        #[test]
        fn every_time_falls_in_exactly_its_window(
            size in 1i64..=MAX_WINDOW_MS,
            time in 0i64..=MAX_EVENT_TIME_MS,
        ) {
            let spec = WindowSpec::new(size).expect("valid size");
            let start = spec.start_of(time);
            prop_assert!(start <= time && time < spec.end_of(start));
            prop_assert_eq!(start % size, 0);
            let bucket = spec.bucket_of(start);
            prop_assert!(bucket <= start && start < bucket + size * WINDOWS_PER_BUCKET);
        }

        #[test]
        fn range_listing_covers_the_range(
            size in 1i64..=10_000,
            from in 0i64..1_000_000,
            len in 0i64..100_000,
        ) {
            let spec = WindowSpec::new(size).expect("valid size");
            let to = from + len;
            let starts: Vec<_> = spec.starts_between(from, to).collect();
            prop_assert_eq!(starts.len() as i64, spec.count_between(from, to));
            for t in [from, to - 1, from + len / 2] {
                if len > 0 {
                    prop_assert!(starts.contains(&spec.start_of(t)));
                }
            }
            for s in &starts {
                prop_assert!(*s < to && spec.end_of(*s) > from);
            }
        }
    }
}
