use crate::Metrics;

/// A notable thing that happened inside a component.
///
/// Each implementation is a small struct carrying the facts; `emit` writes the
/// log line (structured fields, no `format!`) and updates the metrics, so the
/// two can never disagree and call sites stay one line long.
pub trait InternalEvent {
    /// Logs and counts the event.
    fn emit(self, metrics: &Metrics);
}
