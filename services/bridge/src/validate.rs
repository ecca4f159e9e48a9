//! Ingress validation: is this AMQP message an event of ours, for this
//! topic, of the type its routing key claims? Only the registry is asked;
//! everything else is pure.

use tributary_bus::{
    EventCodec,
    headers::{CE_TYPE_PREFIX, MessageHeaders, event_headers, names},
};
use tributary_contracts::CATALOG;

/// A message fit for Kafka: the original bytes go out with these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Valid {
    pub key: Vec<u8>,
    pub headers: MessageHeaders,
    pub event_id: uuid::Uuid,
}

/// Why a message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// The message itself is bad: dead-letter it with `reason`.
    Invalid { reason: &'static str, error: String },
    /// The registry could not be asked: keep the message and try later.
    Transient(String),
}

impl Rejection {
    fn invalid(reason: &'static str, error: impl Into<String>) -> Self {
        Rejection::Invalid {
            reason,
            error: error.into(),
        }
    }
}

/// Validates one ingress message for contract topic `topic`: the routing key
/// names an event type of the topic; the payload is Confluent-framed with a
/// schema id the registry knows, whose record is that event type, and
/// decodes; CloudEvents headers, where given, agree with the event. Missing
/// standard headers are filled from the event's envelope; the key defaults
/// to the event's partition key.
pub async fn validate(
    codec: &EventCodec,
    topic: &str,
    routing_key: &str,
    payload: &[u8],
    mut headers: MessageHeaders,
    key: Option<Vec<u8>>,
) -> Result<Valid, Rejection> {
    let descriptor = CATALOG
        .iter()
        .find(|d| d.event_type == routing_key)
        .ok_or_else(|| {
            Rejection::invalid(
                "unknown_event_type",
                format!("routing key `{routing_key}` is not an event type of the contract"),
            )
        })?;
    if descriptor.topic != topic {
        return Err(Rejection::invalid(
            "wrong_topic",
            format!(
                "`{routing_key}` events belong to topic `{}`, not `{topic}`",
                descriptor.topic
            ),
        ));
    }
    let event = codec.decode(payload).await.map_err(|e| {
        if e.is_transient() {
            Rejection::Transient(e.to_string())
        } else {
            Rejection::invalid(e.reason(), e.to_string())
        }
    })?;
    if event.event_type() != routing_key {
        return Err(Rejection::invalid(
            "event_type_mismatch",
            format!(
                "payload is a `{}` ({}), routing key says `{routing_key}`",
                event.event_type(),
                event.full_name()
            ),
        ));
    }
    let envelope = event.envelope();
    if let Some(id) = headers.get_str(names::CE_ID)
        && id != envelope.event_id.to_string()
    {
        return Err(Rejection::invalid(
            "header_mismatch",
            format!(
                "ce_id `{id}` differs from the event id {}",
                envelope.event_id
            ),
        ));
    }
    let expected_type = format!("{CE_TYPE_PREFIX}{routing_key}");
    if let Some(ce_type) = headers.get_str(names::CE_TYPE)
        && ce_type != expected_type
    {
        return Err(Rejection::invalid(
            "header_mismatch",
            format!("ce_type `{ce_type}`, expected `{expected_type}`"),
        ));
    }
    for (name, value) in event_headers(envelope, routing_key, None).iter() {
        if headers.get(name).is_none() {
            headers.set(name, value);
        }
    }
    let key = key.unwrap_or_else(|| event.key().as_bytes().to_vec());
    Ok(Valid {
        key,
        headers,
        event_id: envelope.event_id,
    })
}
