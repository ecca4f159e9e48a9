use std::{borrow::Cow, fmt::Debug};

use apache_avro::Schema;
use serde::{Serialize, de::DeserializeOwned};

use crate::Envelope;

/// One event type of the contract, implemented by the generated record types.
///
/// The associated constants are what the runtime needs to route, frame and
/// describe an event without parsing anything at run time.
pub trait Event:
    Serialize + DeserializeOwned + Clone + Debug + PartialEq + Send + Sync + 'static
{
    /// The topic every event of this type is published to.
    const TOPIC: &'static str;
    /// The Avro full name, e.g. `tributary.orders.OrderPlaced`.
    const FULL_NAME: &'static str;
    /// The dotted type used for CloudEvents `ce_type` and AMQP routing keys,
    /// e.g. `order.placed`.
    const EVENT_TYPE: &'static str;
    /// The schema text exactly as it stands in `schemas/`.
    const SCHEMA_JSON: &'static str;

    /// The parsed schema, parsed once per process: for compatibility checks,
    /// the registry and decoding bytes written with another schema version.
    fn schema() -> &'static Schema;
    /// The same schema compiled for `serde_avro_fast`, which encodes and
    /// decodes our own schema's bytes without an intermediate Avro value.
    fn wire_schema() -> &'static serde_avro_fast::Schema;
    /// The partition key: the aggregate this event belongs to, as text.
    ///
    /// A `Cow` because most keys are uuid fields (stored as `Uuid`, rendered
    /// to their 36-character text here) while some are string fields
    /// (borrowed). Use `&*event.key()` or `event.key().as_bytes()` for the
    /// Kafka key.
    fn key(&self) -> Cow<'_, str>;
    /// The envelope every event carries.
    fn envelope(&self) -> &Envelope;

    /// The registry subject under the TopicRecordNameStrategy.
    fn subject() -> String {
        subject_name(Self::TOPIC, Self::FULL_NAME)
    }
}

/// A static description of one event type, for catalogues, registration at
/// start-up and documentation generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventDescriptor {
    pub topic: &'static str,
    pub full_name: &'static str,
    pub event_type: &'static str,
    pub schema_json: &'static str,
    /// The field whose value is the Kafka key.
    pub key_field: &'static str,
}

impl EventDescriptor {
    /// The registry subject under the TopicRecordNameStrategy.
    pub fn subject(&self) -> String {
        subject_name(self.topic, self.full_name)
    }

    /// The record's simple name, e.g. `OrderPlaced`.
    pub fn record_name(&self) -> &'static str {
        self.full_name.rsplit('.').next().unwrap_or(self.full_name)
    }
}

/// `<topic>-<fully.qualified.Record>`: Confluent's TopicRecordNameStrategy,
/// which lets several event types share a topic (and its per-key order).
pub fn subject_name(topic: &str, full_name: &str) -> String {
    format!("{topic}-{full_name}")
}
