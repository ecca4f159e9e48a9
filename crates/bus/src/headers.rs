//! Kafka message headers: binary-mode CloudEvents attributes, W3C trace
//! context, correlation ids, and the retry / dead-letter bookkeeping headers.
//!
//! Pure functions over [`MessageHeaders`]; converting to and from rdkafka's
//! header types happens at the edges.

use std::{
    borrow::Cow,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rdkafka::message::{BorrowedHeaders, Header, Headers as _, OwnedHeaders};
use tributary_contracts::Envelope;
use tributary_telemetry::TraceHeaders;
use uuid::Uuid;

/// Header names, as on the wire.
pub mod names {
    pub const CE_SPECVERSION: &str = "ce_specversion";
    pub const CE_ID: &str = "ce_id";
    pub const CE_TYPE: &str = "ce_type";
    pub const CE_SOURCE: &str = "ce_source";
    pub const CE_TIME: &str = "ce_time";
    pub const TRACEPARENT: &str = "traceparent";
    pub const TRACESTATE: &str = "tracestate";
    pub const CORRELATION_ID: &str = "correlation_id";
    pub const CAUSATION_ID: &str = "causation_id";
    pub const CONTENT_TYPE: &str = "content-type";

    pub const ERROR: &str = "tributary.error";
    pub const ERROR_REASON: &str = "tributary.error.reason";
    pub const ATTEMPT: &str = "tributary.attempt";
    pub const SOURCE_TOPIC: &str = "tributary.source.topic";
    pub const SOURCE_PARTITION: &str = "tributary.source.partition";
    pub const SOURCE_OFFSET: &str = "tributary.source.offset";
    pub const RETRY_NOT_BEFORE: &str = "tributary.retry.not_before";
}

/// CloudEvents spec version we write.
pub const CE_SPECVERSION: &str = "1.0";
/// Prefix of `ce_type`: `io.tributary.order.placed`.
pub const CE_TYPE_PREFIX: &str = "io.tributary.";
/// Prefix of `ce_source`: `/tributary/gateway`.
pub const CE_SOURCE_PREFIX: &str = "/tributary/";
/// `content-type` of every event payload.
pub const AVRO_CONTENT_TYPE: &str = "application/avro";
/// Error texts longer than this are cut (at a character boundary) so one bad
/// message cannot produce an oversized DLQ record.
pub const MAX_ERROR_LEN: usize = 2048;

/// An ordered list of headers. Names may repeat on the wire; [`set`]
/// replaces every earlier value so our own headers are never ambiguous.
///
/// [`set`]: MessageHeaders::set
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    /// Our own header names are `'static`: no allocation per name per event.
    entries: Vec<(Cow<'static, str>, Vec<u8>)>,
}

impl MessageHeaders {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last value of `name` (the one Kafka clients conventionally use).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.entries
            .iter()
            .rev()
            .find(|(n, _)| n.as_ref() == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The last value of `name` if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Replaces every value of `name` with `value`.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        self.remove(name);
        self.entries
            .push((Cow::Owned(name.to_owned()), value.into()));
    }

    /// Removes every value of `name`.
    pub fn remove(&mut self, name: &str) {
        self.entries.retain(|(n, _)| n.as_ref() != name);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(n, v)| (n.as_ref(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Copies headers read from Kafka (headers without a value are kept with
    /// an empty one).
    pub fn from_kafka(headers: Option<&BorrowedHeaders>) -> Self {
        let Some(headers) = headers else {
            return Self::default();
        };
        let entries = headers
            .iter()
            .map(|h| {
                (
                    Cow::Owned(h.key.to_owned()),
                    h.value.map(<[u8]>::to_vec).unwrap_or_default(),
                )
            })
            .collect();
        MessageHeaders { entries }
    }

    /// The rdkafka form, for producing.
    pub fn to_kafka(&self) -> OwnedHeaders {
        self.entries.iter().fold(
            OwnedHeaders::new_with_capacity(self.entries.len()),
            |h, (n, v)| {
                h.insert(Header {
                    key: n.as_ref(),
                    value: Some(v),
                })
            },
        )
    }
}

impl<N: Into<String>, V: Into<Vec<u8>>> FromIterator<(N, V)> for MessageHeaders {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        MessageHeaders {
            entries: iter
                .into_iter()
                .map(|(n, v)| (Cow::Owned(n.into()), v.into()))
                .collect(),
        }
    }
}

/// The headers of a freshly produced event: CloudEvents binary mode,
/// correlation and causation ids, content type, and the trace context of the
/// sending span when there is one.
pub fn event_headers(
    envelope: &Envelope,
    event_type: &str,
    trace: Option<TraceHeaders>,
) -> MessageHeaders {
    let mut h = MessageHeaders {
        entries: Vec::with_capacity(10),
    };
    h.entries
        .push((Cow::Borrowed(names::CE_SPECVERSION), CE_SPECVERSION.into()));
    h.entries.push((
        Cow::Borrowed(names::CE_ID),
        envelope.event_id.to_string().into_bytes(),
    ));
    h.entries.push((
        Cow::Borrowed(names::CE_TYPE),
        format!("{CE_TYPE_PREFIX}{event_type}").into_bytes(),
    ));
    h.entries.push((
        Cow::Borrowed(names::CE_SOURCE),
        format!("{CE_SOURCE_PREFIX}{}", envelope.producer).into_bytes(),
    ));
    if let Some(time) = rfc3339_millis(envelope.occurred_at) {
        h.entries
            .push((Cow::Borrowed(names::CE_TIME), time.into_bytes()));
    }
    h.entries
        .push((Cow::Borrowed(names::CONTENT_TYPE), AVRO_CONTENT_TYPE.into()));
    h.entries.push((
        Cow::Borrowed(names::CORRELATION_ID),
        envelope.correlation_id.clone().into_bytes(),
    ));
    if let Some(cause) = envelope.causation_id {
        h.entries.push((
            Cow::Borrowed(names::CAUSATION_ID),
            cause.to_string().into_bytes(),
        ));
    }
    if let Some(trace) = trace {
        h.entries.push((
            Cow::Borrowed(names::TRACEPARENT),
            trace.traceparent.into_bytes(),
        ));
        if let Some(state) = trace.tracestate {
            h.entries
                .push((Cow::Borrowed(names::TRACESTATE), state.into_bytes()));
        }
    }
    h
}

/// The CloudEvents attributes and correlation ids read back from headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventAttributes {
    pub id: Uuid,
    /// Without the `io.tributary.` prefix: `order.placed`.
    pub event_type: String,
    /// Without the `/tributary/` prefix: the producing service.
    pub source: String,
    /// Milliseconds since the Unix epoch, when `ce_time` is present.
    pub time_ms: Option<i64>,
    pub correlation_id: Option<String>,
    pub causation_id: Option<Uuid>,
}

/// Why headers are not valid CloudEvents headers of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("header `{0}` is missing")]
    Missing(&'static str),
    #[error("header `{name}` is invalid: {detail}")]
    Invalid { name: &'static str, detail: String },
}

/// Reads the CloudEvents attributes, for the bridge's ingress validation and
/// for tools that show messages without decoding bodies.
pub fn parse_event_headers(h: &MessageHeaders) -> Result<EventAttributes, HeaderError> {
    let required = |name: &'static str| h.get_str(name).ok_or(HeaderError::Missing(name));
    let version = required(names::CE_SPECVERSION)?;
    if version != CE_SPECVERSION {
        return Err(HeaderError::Invalid {
            name: names::CE_SPECVERSION,
            detail: format!("`{version}`, expected `{CE_SPECVERSION}`"),
        });
    }
    let id = parse_uuid(names::CE_ID, required(names::CE_ID)?)?;
    let ce_type = required(names::CE_TYPE)?;
    let event_type = ce_type
        .strip_prefix(CE_TYPE_PREFIX)
        .ok_or_else(|| HeaderError::Invalid {
            name: names::CE_TYPE,
            detail: format!("`{ce_type}` does not start with `{CE_TYPE_PREFIX}`"),
        })?;
    let ce_source = required(names::CE_SOURCE)?;
    let source = ce_source
        .strip_prefix(CE_SOURCE_PREFIX)
        .unwrap_or(ce_source);
    let time_ms = match h.get_str(names::CE_TIME) {
        None => None,
        Some(t) => Some(parse_rfc3339_millis(t).ok_or_else(|| HeaderError::Invalid {
            name: names::CE_TIME,
            detail: format!("`{t}` is not an RFC 3339 timestamp"),
        })?),
    };
    let causation_id = match h.get_str(names::CAUSATION_ID) {
        None => None,
        Some(c) => Some(parse_uuid(names::CAUSATION_ID, c)?),
    };
    Ok(EventAttributes {
        id,
        event_type: event_type.to_owned(),
        source: source.to_owned(),
        time_ms,
        correlation_id: h.get_str(names::CORRELATION_ID).map(str::to_owned),
        causation_id,
    })
}

/// The W3C trace context carried by a message, if any.
pub fn trace_headers(h: &MessageHeaders) -> (Option<&str>, Option<&str>) {
    (h.get_str(names::TRACEPARENT), h.get_str(names::TRACESTATE))
}

/// Where a failed message originally came from, and why it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureInfo {
    /// Human-readable error (cut to [`MAX_ERROR_LEN`]).
    pub error: String,
    /// Stable short code, e.g. `wrong_magic_byte`, `retries_exhausted`.
    pub reason: String,
    /// The delivery attempt this record represents: for a retry record the
    /// next attempt, for a DLQ record the attempts made.
    pub attempt: u32,
    pub source_topic: String,
    pub source_partition: i32,
    pub source_offset: i64,
    /// For retry records: do not handle before this time (Unix ms).
    pub not_before_ms: Option<i64>,
}

/// Writes the retry / DLQ headers onto a copy of the original headers,
/// replacing any from an earlier failure.
pub fn apply_failure(h: &mut MessageHeaders, info: &FailureInfo) {
    h.set(names::ERROR, truncate(&info.error, MAX_ERROR_LEN));
    h.set(names::ERROR_REASON, info.reason.as_str());
    h.set(names::ATTEMPT, info.attempt.to_string());
    h.set(names::SOURCE_TOPIC, info.source_topic.as_str());
    h.set(names::SOURCE_PARTITION, info.source_partition.to_string());
    h.set(names::SOURCE_OFFSET, info.source_offset.to_string());
    match info.not_before_ms {
        Some(ms) => h.set(names::RETRY_NOT_BEFORE, ms.to_string()),
        None => h.remove(names::RETRY_NOT_BEFORE),
    }
}

/// The retry bookkeeping of a message read from a retry topic; fields the
/// headers lack are `None` (a hand-written record) and callers fall back to
/// what they know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetryState {
    pub attempt: Option<u32>,
    pub not_before_ms: Option<i64>,
    pub source_topic: Option<String>,
    pub source_partition: Option<i32>,
    pub source_offset: Option<i64>,
    pub reason: Option<String>,
    pub error: Option<String>,
}

/// Reads the retry / DLQ headers; malformed numbers count as absent.
pub fn parse_retry_state(h: &MessageHeaders) -> RetryState {
    let num = |name| h.get_str(name).and_then(|v| v.trim().parse().ok());
    RetryState {
        attempt: h
            .get_str(names::ATTEMPT)
            .and_then(|v| v.trim().parse().ok()),
        not_before_ms: num(names::RETRY_NOT_BEFORE),
        source_topic: h.get_str(names::SOURCE_TOPIC).map(str::to_owned),
        source_partition: h
            .get_str(names::SOURCE_PARTITION)
            .and_then(|v| v.trim().parse().ok()),
        source_offset: num(names::SOURCE_OFFSET),
        reason: h.get_str(names::ERROR_REASON).map(str::to_owned),
        error: h.get_str(names::ERROR).map(str::to_owned),
    }
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn rfc3339_millis(ms: i64) -> Option<String> {
    let ms = u64::try_from(ms).ok()?;
    let time = UNIX_EPOCH.checked_add(Duration::from_millis(ms))?;
    Some(humantime::format_rfc3339_millis(time).to_string())
}

fn parse_rfc3339_millis(text: &str) -> Option<i64> {
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    let ms = time.duration_since(UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

fn parse_uuid(name: &'static str, value: &str) -> Result<Uuid, HeaderError> {
    Uuid::parse_str(value).map_err(|e| HeaderError::Invalid {
        name,
        detail: format!("`{value}`: {e}"),
    })
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

    fn envelope() -> Envelope {
        Envelope {
            event_id: Uuid::from_u128(1),
            occurred_at: 1_700_000_000_123,
            correlation_id: "order-7".into(),
            causation_id: Some(Uuid::from_u128(2)),
            producer: "gateway".into(),
        }
    }

    #[test]
    fn event_headers_are_binary_mode_cloudevents() {
        let trace = TraceHeaders {
            traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
            tracestate: Some("vendor=1".into()),
        };
        let h = event_headers(&envelope(), "order.placed", Some(trace.clone()));
        assert_eq!(h.get_str("ce_specversion"), Some("1.0"));
        assert_eq!(
            h.get_str("ce_id"),
            Some("00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(h.get_str("ce_type"), Some("io.tributary.order.placed"));
        assert_eq!(h.get_str("ce_source"), Some("/tributary/gateway"));
        assert_eq!(h.get_str("ce_time"), Some("2023-11-14T22:13:20.123Z"));
        assert_eq!(h.get_str("content-type"), Some("application/avro"));
        assert_eq!(h.get_str("correlation_id"), Some("order-7"));
        assert_eq!(h.get_str("traceparent"), Some(trace.traceparent.as_str()));
        assert_eq!(h.get_str("tracestate"), Some("vendor=1"));

        let attrs = parse_event_headers(&h).expect("valid headers");
        assert_eq!(attrs.id, Uuid::from_u128(1));
        assert_eq!(attrs.event_type, "order.placed");
        assert_eq!(attrs.source, "gateway");
        assert_eq!(attrs.time_ms, Some(1_700_000_000_123));
        assert_eq!(attrs.causation_id, Some(Uuid::from_u128(2)));
        assert_eq!(trace_headers(&h).0, Some(trace.traceparent.as_str()));
    }

    #[test]
    fn missing_or_bad_cloudevents_headers_are_named() {
        let mut h = event_headers(&envelope(), "order.placed", None);
        assert_eq!(h.get("traceparent"), None);
        h.set("ce_type", "com.example.x");
        assert!(matches!(
            parse_event_headers(&h),
            Err(HeaderError::Invalid {
                name: "ce_type",
                ..
            })
        ));
        h.remove("ce_id");
        assert_eq!(parse_event_headers(&h), Err(HeaderError::Missing("ce_id")));
    }

    #[test]
    fn failure_headers_round_trip_and_replace_earlier_ones() {
        let mut h: MessageHeaders = [("ce_id", "x"), ("tributary.attempt", "1")]
            .into_iter()
            .collect();
        let info = FailureInfo {
            error: "boom".into(),
            reason: "handler_retryable".into(),
            attempt: 2,
            source_topic: "orders".into(),
            source_partition: 3,
            source_offset: 42,
            not_before_ms: Some(1_000),
        };
        apply_failure(&mut h, &info);
        assert_eq!(
            h.iter().filter(|(n, _)| *n == "tributary.attempt").count(),
            1
        );
        let state = parse_retry_state(&h);
        assert_eq!(state.attempt, Some(2));
        assert_eq!(state.not_before_ms, Some(1_000));
        assert_eq!(state.source_topic.as_deref(), Some("orders"));
        assert_eq!(state.source_partition, Some(3));
        assert_eq!(state.source_offset, Some(42));
        assert_eq!(state.reason.as_deref(), Some("handler_retryable"));
        assert_eq!(h.get_str("ce_id"), Some("x"));

        let dlq = FailureInfo {
            not_before_ms: None,
            ..info
        };
        apply_failure(&mut h, &dlq);
        assert_eq!(h.get("tributary.retry.not_before"), None);
    }

    #[test]
    fn long_errors_are_cut_at_a_char_boundary() {
        let long = "é".repeat(MAX_ERROR_LEN);
        let cut = truncate(&long, MAX_ERROR_LEN);
        assert!(cut.len() <= MAX_ERROR_LEN);
        assert!(long.starts_with(cut));
    }

    #[test]
    fn kafka_conversion_keeps_order_and_values() {
        let h: MessageHeaders = [("a", "1"), ("b", "2")].into_iter().collect();
        let owned = h.to_kafka();
        let back = MessageHeaders::from_kafka(Some(owned.as_borrowed()));
        assert_eq!(back, h);
        assert!(MessageHeaders::from_kafka(None).is_empty());
    }

    #[test]
    fn malformed_retry_numbers_count_as_absent() {
        let h: MessageHeaders = [("tributary.attempt", "two")].into_iter().collect();
        assert_eq!(parse_retry_state(&h).attempt, None);
    }
}
