//! Avro binary encoding of event bodies (without the Confluent frame).
//!
//! Two Avro libraries, each where it is best:
//!
//! - `serde_avro_fast` encodes every event and decodes bytes written with
//!   this build's own schema, the hot path of every producer and consumer. It
//!   goes straight between the Rust type and the bytes, about four times
//!   faster than apache-avro's decode through an intermediate `Value`
//!   (`tributary bench codec`, docs/benchmarks.md).
//! - `apache-avro` decodes bytes written with another version of the schema,
//!   because that takes Avro schema resolution (added fields with defaults,
//!   unknown enum symbols), and it parses schemas for the registry and the
//!   compatibility checks.
//!
//! Both write the same bytes for every event: the `both_libraries_agree`
//! property tests compare them on generated events of every type.

use apache_avro::{Schema, from_avro_datum, from_value};
use serde_avro_fast::{
    de::{DeserializerConfig, DeserializerState, read::ReaderRead},
    ser::SerializerConfig,
};

use crate::{ContractError, Event};

/// Encodes an event body with its own schema. A value the schema cannot hold
/// is an [`ContractError::Encode`], never bytes.
pub fn encode_body<E: Event>(event: &E) -> Result<Vec<u8>, ContractError> {
    let mut config = SerializerConfig::new(E::wire_schema());
    serde_avro_fast::to_datum(event, Vec::with_capacity(128), &mut config).map_err(|e| {
        ContractError::Encode {
            full_name: E::FULL_NAME.to_owned(),
            detail: e.to_string(),
        }
    })
}

/// Decodes an event body.
///
/// `writer_schema` is the schema the producer used, as the registry returned
/// it for the frame's schema id. `None` means "written with this build's own
/// schema", which needs no schema resolution and takes the fast path.
pub fn decode_body<E: Event>(
    body: &[u8],
    writer_schema: Option<&Schema>,
) -> Result<E, ContractError> {
    let decode_err = |detail: String| ContractError::Decode {
        full_name: E::FULL_NAME.to_owned(),
        detail,
    };
    let (event, rest) = match writer_schema {
        None => decode_own(body).map_err(|e| decode_err(e.to_string()))?,
        Some(writer) => {
            let mut rest = body;
            let value = from_avro_datum(writer, &mut rest, Some(E::schema()))
                .map_err(|e| decode_err(e.to_string()))?;
            let event = from_value::<E>(&value).map_err(|e| decode_err(e.to_string()))?;
            (event, rest)
        }
    };
    if !rest.is_empty() {
        return Err(decode_err(format!(
            "{} trailing bytes after the record",
            rest.len()
        )));
    }
    Ok(event)
}

/// Decodes with the event's own schema; returns what is left of `body`.
fn decode_own<E: Event>(body: &[u8]) -> Result<(E, &[u8]), serde_avro_fast::de::DeError> {
    // A reader over the slice rather than the slice itself: it gives the
    // unread rest back, which is how trailing garbage is caught.
    let mut reader = ReaderRead::new(body);
    // No string or array of a valid body is longer than the body, so a
    // garbage length prefix fails at once instead of allocating or looping.
    reader.max_alloc_size = body.len();
    let mut config = DeserializerConfig::new(E::wire_schema());
    config.max_seq_size = body.len();
    let mut state = DeserializerState::with_config(reader, config);
    let event = E::deserialize(state.deserializer())?;
    Ok((event, state.into_reader().into_inner()))
}
