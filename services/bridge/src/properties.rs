//! Kafka headers ↔ AMQP message properties, as pure functions.
//!
//! Egress: every Kafka header travels as an AMQP header with the same name
//! and the same bytes (an AMQP long string holds arbitrary bytes); the
//! CloudEvents id and the correlation id also fill the AMQP `message_id` and
//! `correlation_id` properties, so AMQP tooling can deduplicate and
//! correlate without reading headers. Ingress: the reverse, minus the
//! broker's own `x-*` bookkeeping headers.

use lapin::{
    BasicProperties,
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use tributary_bus::headers::{AVRO_CONTENT_TYPE, MessageHeaders, names};

/// AMQP `delivery_mode` of a persistent message.
pub const PERSISTENT: u8 = 2;
/// The AMQP header carrying the partition key (the Kafka message key).
pub const KEY_HEADER: &str = "partition_key";
/// Accepted on ingress as an alias of [`KEY_HEADER`].
pub const KEY_HEADER_ALIAS: &str = "key";
/// The human-readable reason a message was dead-lettered.
pub const ERROR_HEADER: &str = "x-tributary-error";
/// The stable short code of why a message was dead-lettered.
pub const REASON_HEADER: &str = "x-tributary-error-reason";
/// `app_id` of every message the bridge publishes.
pub const APP_ID: &str = "tributary-bridge";

/// The properties of a Kafka message bridged to RabbitMQ. Header names that
/// do not fit an AMQP short string (over 255 bytes) are left out; ours never
/// are.
pub fn to_amqp(
    headers: &MessageHeaders,
    key: Option<&[u8]>,
    timestamp_ms: Option<i64>,
    event_type: &str,
) -> BasicProperties {
    let mut table = FieldTable::default();
    for (name, value) in headers.iter() {
        if let Ok(name) = ShortString::try_new(name) {
            table.insert(
                name,
                AMQPValue::LongString(LongString::from(value.to_vec())),
            );
        }
    }
    if let Some(key) = key {
        table.insert(
            ShortString::from(KEY_HEADER),
            AMQPValue::LongString(LongString::from(key.to_vec())),
        );
    }
    let text = |name| {
        headers
            .get_str(name)
            .and_then(|v| ShortString::try_new(v).ok())
    };
    let content_type = text(names::CONTENT_TYPE).unwrap_or_else(|| AVRO_CONTENT_TYPE.into());
    let mut props = BasicProperties::default()
        .with_headers(table)
        .with_delivery_mode(PERSISTENT)
        .with_content_type(content_type)
        .with_app_id(APP_ID.into());
    if let Ok(kind) = ShortString::try_new(event_type) {
        props = props.with_type(kind);
    }
    if let Some(id) = text(names::CE_ID) {
        props = props.with_message_id(id);
    }
    if let Some(correlation) = text(names::CORRELATION_ID) {
        props = props.with_correlation_id(correlation);
    }
    if let Some(seconds) = timestamp_ms.and_then(|ms| u64::try_from(ms / 1000).ok()) {
        props = props.with_timestamp(seconds);
    }
    props
}

/// The Kafka headers and key of an ingress message: string, byte and
/// number headers as bytes (numbers as decimal text), `x-*` headers dropped,
/// the key taken from [`KEY_HEADER`] or [`KEY_HEADER_ALIAS`].
pub fn from_amqp(props: &BasicProperties) -> (MessageHeaders, Option<Vec<u8>>) {
    let mut headers = MessageHeaders::new();
    let mut key = None;
    let mut alias_key = None;
    if let Some(table) = props.headers() {
        for (name, value) in table.inner() {
            let name = name.as_str();
            if name.starts_with("x-") {
                continue;
            }
            let Some(bytes) = value_bytes(value) else {
                continue;
            };
            match name {
                KEY_HEADER => key = Some(bytes),
                KEY_HEADER_ALIAS => alias_key = Some(bytes),
                _ => headers.set(name, bytes),
            }
        }
    }
    if headers.get(names::CE_ID).is_none()
        && let Some(id) = props.message_id()
    {
        headers.set(names::CE_ID, id.as_str());
    }
    if headers.get(names::CORRELATION_ID).is_none()
        && let Some(correlation) = props.correlation_id()
    {
        headers.set(names::CORRELATION_ID, correlation.as_str());
    }
    (headers, key.or(alias_key))
}

/// A header value as bytes, if it is a scalar.
pub fn value_bytes(value: &AMQPValue) -> Option<Vec<u8>> {
    Some(match value {
        AMQPValue::LongString(s) => s.as_bytes().to_vec(),
        AMQPValue::ShortString(s) => s.as_str().as_bytes().to_vec(),
        AMQPValue::ByteArray(b) => b.as_slice().to_vec(),
        AMQPValue::Boolean(b) => b.to_string().into_bytes(),
        AMQPValue::ShortShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortInt(n) => n.to_string().into_bytes(),
        AMQPValue::ShortUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongUInt(n) => n.to_string().into_bytes(),
        AMQPValue::LongLongInt(n) => n.to_string().into_bytes(),
        AMQPValue::Timestamp(n) => n.to_string().into_bytes(),
        _ => return None,
    })
}

/// `props` with the dead-letter reason headers added.
pub fn with_failure(props: &BasicProperties, reason: &str, error: &str) -> BasicProperties {
    let mut table = props.headers().clone().unwrap_or_default();
    table.insert(
        ShortString::from(REASON_HEADER),
        AMQPValue::LongString(LongString::from(reason.as_bytes().to_vec())),
    );
    let error = truncate(error, tributary_bus::headers::MAX_ERROR_LEN);
    table.insert(
        ShortString::from(ERROR_HEADER),
        AMQPValue::LongString(LongString::from(error.as_bytes().to_vec())),
    );
    props.clone().with_headers(table)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka_headers() -> MessageHeaders {
        [
            ("ce_specversion", "1.0"),
            ("ce_id", "00000000-0000-0000-0000-000000000001"),
            ("ce_type", "io.tributary.order.placed"),
            ("correlation_id", "order-7"),
            (
                "traceparent",
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            ),
            ("content-type", "application/avro"),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn egress_properties_carry_every_header_and_the_ids() {
        let props = to_amqp(
            &kafka_headers(),
            Some(b"order-7"),
            Some(1_700_000_000_123),
            "order.placed",
        );
        assert_eq!(props.delivery_mode(), &Some(PERSISTENT));
        assert_eq!(
            props.message_id().as_ref().map(ShortString::as_str),
            Some("00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(
            props.correlation_id().as_ref().map(ShortString::as_str),
            Some("order-7")
        );
        assert_eq!(
            props.content_type().as_ref().map(ShortString::as_str),
            Some("application/avro")
        );
        assert_eq!(
            props.kind().as_ref().map(ShortString::as_str),
            Some("order.placed")
        );
        assert_eq!(props.timestamp(), &Some(1_700_000_000));
        let (back, key) = from_amqp(&props);
        assert_eq!(key.as_deref(), Some(&b"order-7"[..]));
        for (name, value) in kafka_headers().iter() {
            assert_eq!(back.get(name), Some(value), "header {name}");
        }
    }

    #[test]
    fn ingress_drops_broker_headers_and_fills_ids_from_properties() {
        let mut table = FieldTable::default();
        table.insert(
            "x-death".into(),
            AMQPValue::LongString(b"x".to_vec().into()),
        );
        table.insert("key".into(), AMQPValue::ShortString("k1".into()));
        table.insert("attempt".into(), AMQPValue::LongInt(3));
        let props = BasicProperties::default()
            .with_headers(table)
            .with_message_id("id-1".into())
            .with_correlation_id("c-1".into());
        let (headers, key) = from_amqp(&props);
        assert_eq!(key.as_deref(), Some(&b"k1"[..]));
        assert_eq!(headers.get("x-death"), None);
        assert_eq!(headers.get_str("attempt"), Some("3"));
        assert_eq!(headers.get_str("ce_id"), Some("id-1"));
        assert_eq!(headers.get_str("correlation_id"), Some("c-1"));
    }

    #[test]
    fn failure_headers_are_added_and_cut() {
        let props = with_failure(
            &BasicProperties::default(),
            "wrong_magic_byte",
            &"é".repeat(5000),
        );
        let table = props.headers().clone().expect("headers");
        let error = table
            .inner()
            .get(ERROR_HEADER)
            .and_then(value_bytes)
            .expect("error");
        assert!(error.len() <= tributary_bus::headers::MAX_ERROR_LEN);
        assert_eq!(
            table
                .inner()
                .get(REASON_HEADER)
                .and_then(value_bytes)
                .as_deref(),
            Some(&b"wrong_magic_byte"[..])
        );
    }
}
