//! Events as the bus hands them to a handler.

use tributary_bus::Received;
use tributary_contracts::events::AnyEvent;

/// `event` as the consumer runtime hands it over on a first delivery:
/// its own topic and key, partition 0, offset 0, attempt 1.
pub fn received(event: impl Into<AnyEvent>) -> Received {
    ReceivedBuilder::new(event).build()
}

/// A [`Received`] with chosen coordinates, for tests where the partition,
/// the offset, the attempt or the key matter (watermarks, retries).
#[derive(Debug, Clone)]
pub struct ReceivedBuilder(Received);

impl ReceivedBuilder {
    /// Starts from the defaults of [`received`].
    pub fn new(event: impl Into<AnyEvent>) -> Self {
        let event = event.into();
        ReceivedBuilder(Received {
            topic: event.topic().to_owned(),
            key: Some(event.key().as_bytes().to_vec()),
            event,
            partition: 0,
            offset: 0,
            attempt: 1,
            timestamp_ms: None,
        })
    }

    pub fn partition(mut self, partition: i32) -> Self {
        self.0.partition = partition;
        self
    }

    pub fn offset(mut self, offset: i64) -> Self {
        self.0.offset = offset;
        self
    }

    /// 1 for the first delivery, 2 for the first retry, ...
    pub fn attempt(mut self, attempt: u32) -> Self {
        self.0.attempt = attempt;
        self
    }

    /// A record produced without a key.
    pub fn without_key(mut self) -> Self {
        self.0.key = None;
        self
    }

    pub fn build(self) -> Received {
        self.0
    }
}
