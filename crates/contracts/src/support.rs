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
