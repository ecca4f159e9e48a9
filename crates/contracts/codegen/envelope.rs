//! The canonical envelope record every event schema inlines as its first field.
//!
//! It must match the hand-written `Envelope` struct in `src/envelope.rs`
//! field for field, in order (apache-avro's serializer writes struct fields in
//! declaration order); the round-trip tests prove the two agree.

/// Full name of the envelope record.
pub const FULL_NAME: &str = "tributary.common.Envelope";

/// Name of the field that carries the envelope in every event record.
pub const FIELD: &str = "envelope";

/// The envelope definition; schemas must inline exactly this (docs included).
pub const CANONICAL_JSON: &str = r#"{
  "type": "record",
  "name": "Envelope",
  "namespace": "tributary.common",
  "doc": "Metadata every Tributary event carries. Identical in every event schema.",
  "fields": [
    {
      "name": "event_id",
      "type": {"type": "string", "logicalType": "uuid"},
      "doc": "Unique id of this event; consumers deduplicate on it."
    },
    {
      "name": "occurred_at",
      "type": {"type": "long", "logicalType": "timestamp-millis"},
      "doc": "When the fact happened (event time), in milliseconds since the Unix epoch."
    },
    {
      "name": "correlation_id",
      "type": "string",
      "doc": "The business transaction this event belongs to: the order id for the order saga, the user id for user events."
    },
    {
      "name": "causation_id",
      "type": ["null", {"type": "string", "logicalType": "uuid"}],
      "default": null,
      "doc": "Id of the event that caused this one; null for events caused by an outside request."
    },
    {"name": "producer", "type": "string", "doc": "Name of the service that produced the event."}
  ]
}"#;
