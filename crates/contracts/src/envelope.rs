use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for deterministic ids of events emitted in reaction to another
/// event. Fixed forever: changing it would change every derived id.
const DERIVED_ID_NAMESPACE: Uuid = Uuid::from_u128(0x7d1b_6c3e_2f4a_4b8e_9a61_0c2d_5e7f_1a93);

/// The metadata every event carries, as the nested Avro record
/// `tributary.common.Envelope` that each schema in `schemas/` inlines.
///
/// Field order matters: apache-avro writes struct fields in declaration
/// order, so it must match the canonical record in
/// `crates/contracts/codegen/envelope.rs` (which `build.rs` enforces on
/// every schema). The uuid fields go through the `serde_uuid` adapters so they
/// are written as Avro `uuid` text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// Unique id of this event; consumers deduplicate on it.
    #[serde(with = "crate::serde_uuid")]
    pub event_id: Uuid,
    /// When the fact happened, in milliseconds since the Unix epoch (event time).
    pub occurred_at: i64,
    /// The business transaction this event belongs to: the order id for the
    /// order saga, the user id for user events.
    pub correlation_id: String,
    /// The event that caused this one, absent for events caused by a request.
    #[serde(default, with = "crate::serde_uuid::option")]
    pub causation_id: Option<Uuid>,
    /// The service that produced the event.
    pub producer: String,
}

impl Envelope {
    /// An envelope for an event caused by an outside request (an HTTP call, an
    /// admin command): a random id and no causing event.
    pub fn originating(
        producer: &str,
        correlation_id: impl Into<String>,
        occurred_at: i64,
    ) -> Self {
        Envelope {
            event_id: Uuid::new_v4(),
            occurred_at,
            correlation_id: correlation_id.into(),
            causation_id: None,
            producer: producer.to_owned(),
        }
    }

    /// An envelope for an event emitted in reaction to `cause`.
    ///
    /// The id is derived from the cause's id and `step`, so handling a
    /// redelivered cause emits an event with the same id and downstream
    /// deduplication collapses the two.
    pub fn caused_by(cause: &Envelope, step: &str, producer: &str, occurred_at: i64) -> Self {
        Envelope {
            event_id: derived_event_id(cause.event_id, step),
            occurred_at,
            correlation_id: cause.correlation_id.clone(),
            causation_id: Some(cause.event_id),
            producer: producer.to_owned(),
        }
    }
}

/// UUIDv5 of the causing event's id and the reaction step.
pub fn derived_event_id(cause: Uuid, step: &str) -> Uuid {
    let mut name = Vec::with_capacity(16 + step.len());
    name.extend_from_slice(cause.as_bytes());
    name.extend_from_slice(step.as_bytes());
    Uuid::new_v5(&DERIVED_ID_NAMESPACE, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_deterministic_and_step_specific() {
        let cause = Envelope::originating("gateway", "order-1", 1);
        let a = Envelope::caused_by(&cause, "reserve", "inventory", 2);
        let b = Envelope::caused_by(&cause, "reserve", "inventory", 3);
        let c = Envelope::caused_by(&cause, "release", "inventory", 2);
        assert_eq!(a.event_id, b.event_id);
        assert_ne!(a.event_id, c.event_id);
        assert_eq!(a.causation_id, Some(cause.event_id));
        assert_eq!(a.correlation_id, "order-1");
    }
}
