//! Helpers the generated code in [`crate::events`] calls.

use apache_avro::Schema;

/// Parses a schema embedded by `include_str!` in a generated `Event` impl.
///
/// # Panics
/// When the text is not a valid Avro schema. That cannot happen in a built
/// crate: `build.rs` parsed and validated every schema file before embedding
/// it, and the `every_schema_parses` test parses each one through this path.
/// A panic here therefore means the build invariant itself is broken.
pub(crate) fn parse_generated_schema(json: &str, full_name: &str) -> Schema {
    match Schema::parse_str(json) {
        Ok(schema) => schema,
        Err(error) => panic!(
            "build invariant broken: the embedded schema of `{full_name}` does not parse: {error}"
        ),
    }
}

/// Parses the same embedded schema for `serde_avro_fast`, the encoder and
/// decoder of the hot path (see [`crate::encode_body`]).
///
/// # Panics
/// Under the same build invariant as [`parse_generated_schema`]; the
/// `wire_schemas_parse_and_agree_with_apache_avro` test covers every schema.
pub(crate) fn parse_wire_schema(json: &str, full_name: &str) -> serde_avro_fast::Schema {
    match json.parse() {
        Ok(schema) => schema,
        Err(error) => panic!(
            "build invariant broken: the embedded schema of `{full_name}` does not parse for the wire codec: {error}"
        ),
    }
}
