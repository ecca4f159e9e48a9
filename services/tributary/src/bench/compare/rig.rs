//! What a measurement needs on either broker: how many groups (Kafka
//! consumer groups, RabbitMQ queues) with how many consumers each, and what
//! a consumer does with a message.

use std::time::Duration;

use super::stamp::Stamp;

/// The consumers of one rig.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RigSpec {
    /// Kafka: consumer groups on one topic. RabbitMQ: one queue on the
    /// default exchange for 1, a fanout exchange with one queue per group
    /// for more.
    pub groups: usize,
    /// Consumers per group (0: publish only).
    pub consumers: usize,
    pub work: Work,
}

/// What a consumer does before it reports a message processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Work {
    /// Nothing: the broker path alone is measured.
    Nothing,
    /// 0-3 ms by sequence number, the same for both brokers: handlers that
    /// take different times are what lets competing consumers overtake each
    /// other.
    Varied,
}

impl Work {
    pub fn duration(self, stamp: &Stamp) -> Duration {
        match self {
            Work::Nothing => Duration::ZERO,
            Work::Varied => Duration::from_millis(stamp.seq.wrapping_mul(7) % 4),
        }
    }

    pub async fn apply(self, stamp: &Stamp) {
        let pause = self.duration(stamp);
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
    }
}

/// How a behaviour test's reader acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AckPolicy {
    /// Every message (RabbitMQ ack; Kafka offset stored, auto-committed and
    /// committed once more at the end).
    Each,
    /// Acknowledge (RabbitMQ `multiple` ack; Kafka synchronous commit) every
    /// `every` messages, and die without acknowledging after `die_after`.
    BatchThenDie { every: u64, die_after: u64 },
}

/// One message a behaviour reader processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Read {
    pub stamp: Stamp,
    /// RabbitMQ's redelivered flag (Kafka has none).
    pub redelivered: bool,
    /// Kafka: the partition and offset it was read from, so what a group
    /// committed can be matched against what its consumer processed.
    pub position: Option<(i32, i64)>,
}

/// Upper bound on waiting for consumers to be ready.
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
