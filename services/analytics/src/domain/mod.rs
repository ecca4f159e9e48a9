//! Pure analytics decisions: window assignment, the watermark, lateness,
//! counting and quantiles. No I/O; the projector reads the view, calls
//! these, and turns the answers into view writes.

pub mod aggregates;
pub mod sketch;
pub mod watermark;
pub mod window;

pub use aggregates::{Aggregates, Fact};
pub use sketch::{DurationSketch, RELATIVE_ERROR};
pub use watermark::{Advance, PartitionClock, WatermarkPolicy};
pub use window::{
    MAX_EVENT_TIME_MS, MAX_WINDOW_MS, WINDOWS_PER_BUCKET, WindowSpec, check_event_time,
};

use thiserror::Error;

/// Why a value cannot be used by the analytics rules.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DomainError {
    #[error("window size {size_ms} ms is outside 1 ms ..= 1 day")]
    WindowSize { size_ms: i64 },
    #[error("event time {time_ms} is outside 1970-01-01 ..= 9999-12-31")]
    EventTime { time_ms: i64 },
}

/// The validated analytics settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    pub window: WindowSpec,
    pub watermark: WatermarkPolicy,
    /// Events stamped further than this into the future of the processing
    /// clock are refused: one skewed clock must not push the watermark ahead
    /// and make every honest event late.
    pub future_tolerance_ms: i64,
}

/// Why an event is not counted in any window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Before 1970 or after 9999.
    OutOfRange,
    /// Further ahead of the processing clock than the tolerance.
    Future,
}

/// Where an accepted event goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Start of the event's window.
    pub window_start_ms: i64,
    /// True when the window was closed for this event: count it in
    /// `late_events` only.
    pub late: bool,
    /// The watermark row of the event's partition after the event.
    pub advance: Advance,
}

impl Rules {
    /// Decides where an event of `topic`/`partition` at `event_time_ms`
    /// goes, given every partition's watermark row, at processing time
    /// `now_ms`.
    pub fn place(
        &self,
        clocks: &[PartitionClock],
        topic: &str,
        partition: i32,
        event_time_ms: i64,
        now_ms: i64,
    ) -> Result<Placement, Refusal> {
        check_event_time(event_time_ms).map_err(|_| Refusal::OutOfRange)?;
        if event_time_ms > now_ms.saturating_add(self.future_tolerance_ms) {
            return Err(Refusal::Future);
        }
        let advance = self
            .watermark
            .advance(clocks, topic, partition, event_time_ms, now_ms);
        let window_start_ms = self.window.start_of(event_time_ms);
        Ok(Placement {
            window_start_ms,
            late: advance.is_late(self.window.end_of(window_start_ms)),
            advance,
        })
    }

    /// Whether the window starting at `start_ms` is final under `watermark`.
    pub fn is_final(&self, start_ms: i64, watermark: Option<i64>) -> bool {
        watermark.is_some_and(|w| self.window.end_of(start_ms) <= w)
    }
}

/// A saga's duration: terminal event time minus placement time, in ms.
/// Producers' clocks may disagree by a little; a negative difference counts
/// as zero rather than being dropped.
pub fn saga_duration_ms(placed_at_ms: i64, ended_at_ms: i64) -> u64 {
    u64::try_from(ended_at_ms.saturating_sub(placed_at_ms)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            window: WindowSpec::new(60_000).expect("valid"),
            watermark: WatermarkPolicy {
                allowed_lateness_ms: 5_000,
                idle_timeout_ms: 30_000,
            },
            future_tolerance_ms: 60_000,
        }
    }

    #[test]
    fn refuses_times_it_cannot_window() {
        let r = rules();
        assert_eq!(r.place(&[], "t", 0, -1, 0), Err(Refusal::OutOfRange));
        assert_eq!(
            r.place(&[], "t", 0, MAX_EVENT_TIME_MS + 1, MAX_EVENT_TIME_MS),
            Err(Refusal::OutOfRange)
        );
        assert_eq!(r.place(&[], "t", 0, 60_001, 0), Err(Refusal::Future));
        assert!(r.place(&[], "t", 0, 60_000, 0).is_ok());
    }

    #[test]
    fn places_in_the_window_and_judges_lateness() {
        let r = rules();
        let first = r.place(&[], "t", 0, 130_000, 130_000).expect("accepted");
        assert_eq!(first.window_start_ms, 120_000);
        assert!(!first.late);
        let clocks = vec![first.advance.clock];
        let late = r
            .place(&clocks, "t", 0, 119_999, 130_001)
            .expect("accepted");
        assert_eq!(late.window_start_ms, 60_000);
        assert!(late.late);
        assert!(r.is_final(60_000, Some(125_000)));
        assert!(!r.is_final(120_000, Some(125_000)));
        assert!(!r.is_final(0, None));
    }

    #[test]
    fn durations_never_go_negative() {
        assert_eq!(saga_duration_ms(1_000, 1_250), 250);
        assert_eq!(saga_duration_ms(1_000, 900), 0);
        assert_eq!(
            saga_duration_ms(i64::MIN, i64::MAX),
            u64::try_from(i64::MAX).unwrap_or(0)
        );
    }
}
