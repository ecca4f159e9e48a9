use tributary_contracts::events::AnyEvent;
use tributary_views::Write;

/// What handling one event (or one request) changes: view writes and events
/// to emit. The runtime applies both atomically with the processed-event
/// record, so they can never diverge.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Effects {
    /// View rows to put or delete, with their optimistic-concurrency
    /// expectations.
    pub writes: Vec<Write>,
    /// Events to publish through the outbox, in order.
    pub emit: Vec<AnyEvent>,
}

impl Effects {
    /// No change: the event is recorded as processed and nothing else happens.
    pub fn none() -> Self {
        Effects::default()
    }

    /// Adds a view write.
    pub fn write(mut self, write: Write) -> Self {
        self.writes.push(write);
        self
    }

    /// Adds an event to emit.
    pub fn emit(mut self, event: impl Into<AnyEvent>) -> Self {
        self.emit.push(event.into());
        self
    }

    /// True when applying these effects would change nothing but the
    /// processed-event record.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty() && self.emit.is_empty()
    }
}
