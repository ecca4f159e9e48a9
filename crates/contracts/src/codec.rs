//! Avro binary encoding of event bodies (without the Confluent frame).

use apache_avro::{Schema, from_avro_datum, from_value, write_avro_datum_ref};

use crate::{ContractError, Event};

/// Encodes an event body with its own schema, validating it on the way.
pub fn encode_body<E: Event>(event: &E) -> Result<Vec<u8>, ContractError> {
    let mut body = Vec::with_capacity(128);
    write_avro_datum_ref(E::schema(), event, &mut body).map_err(|e| ContractError::Encode {
        full_name: E::FULL_NAME.to_owned(),
        detail: e.to_string(),
    })?;
    Ok(body)
}

/// Decodes an event body.
///
/// `writer_schema` is the schema the producer used, as the registry returned
/// it for the frame's schema id. `None` means "written with this build's own
/// schema", which skips schema resolution.
pub fn decode_body<E: Event>(
    body: &[u8],
    writer_schema: Option<&Schema>,
) -> Result<E, ContractError> {
    let decode_err = |e: apache_avro::Error| ContractError::Decode {
        full_name: E::FULL_NAME.to_owned(),
        detail: e.to_string(),
    };
    let mut reader = body;
    let value = match writer_schema {
        None => from_avro_datum(E::schema(), &mut reader, None),
        Some(writer) => from_avro_datum(writer, &mut reader, Some(E::schema())),
    }
    .map_err(decode_err)?;
    if !reader.is_empty() {
        return Err(ContractError::Decode {
            full_name: E::FULL_NAME.to_owned(),
            detail: format!("{} trailing bytes after the record", reader.len()),
        });
    }
    from_value::<E>(&value).map_err(decode_err)
}
