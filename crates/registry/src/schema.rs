//! Schemas as the registry holds them: the text it serves, the parsed Avro
//! schema it checks compatibility with, and the identity it deduplicates by.

use std::{fmt::Write as _, sync::Arc};

use apache_avro::Schema;
use serde_json::Value;
use thiserror::Error;

/// Why a submitted schema is refused (Confluent error 42201).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum SchemaError {
    #[error("Schema type {0} is not supported; this registry accepts AVRO only")]
    UnsupportedType(String),
    #[error("Schema references are not supported by this registry")]
    References,
    #[error("Invalid schema: {0}")]
    Invalid(String),
}

/// A parsed Avro schema with the text it was registered with.
#[derive(Debug, Clone)]
pub struct StoredSchema {
    /// The text served back, as first registered (trimmed).
    pub text: String,
    /// Identity used for deduplication; see [`identity`].
    pub identity: String,
    pub parsed: Arc<Schema>,
}

impl PartialEq for StoredSchema {
    fn eq(&self, other: &Self) -> bool {
        self.identity == other.identity
    }
}

impl StoredSchema {
    /// Parses and validates a schema text of the given Confluent schema type
    /// (`None` means AVRO, as in Confluent's API).
    pub fn parse(text: &str, schema_type: Option<&str>) -> Result<StoredSchema, SchemaError> {
        if let Some(kind) = schema_type
            && !kind.eq_ignore_ascii_case("AVRO")
        {
            return Err(SchemaError::UnsupportedType(kind.to_owned()));
        }
        let text = text.trim();
        let json: Value = serde_json::from_str(text)
            .map_err(|e| SchemaError::Invalid(format!("not JSON: {e}")))?;
        let parsed = Schema::parse(&json).map_err(|e| SchemaError::Invalid(e.to_string()))?;
        Ok(StoredSchema {
            text: text.to_owned(),
            identity: identity(&json),
            parsed: Arc::new(parsed),
        })
    }
}

/// The schema JSON re-serialized compactly with object keys sorted, so that
/// the same schema submitted with other whitespace or key order gets the same
/// id. Unlike Avro's Parsing Canonical Form it keeps defaults, docs and
/// aliases, which matter for compatibility and so must not be merged.
pub fn identity(json: &Value) -> String {
    let mut out = String::new();
    write_sorted(json, &mut out);
    out
}

fn write_sorted(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, value)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                // A String always serializes; fall back to Debug to stay panic-free.
                match serde_json::to_string(key) {
                    Ok(text) => out.push_str(&text),
                    Err(_) => {
                        let _ = write!(out, "{key:?}");
                    }
                }
                out.push(':');
                write_sorted(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_sorted(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_whitespace_and_key_order_but_not_defaults() {
        let a = StoredSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":1}]}"#,
            None,
        )
        .expect("valid");
        let b = StoredSchema::parse(
            "{ \"fields\": [ {\"default\": 1, \"type\": \"int\", \"name\": \"a\"} ],\n \"name\": \"R\", \"type\": \"record\" }",
            Some("AVRO"),
        )
        .expect("valid");
        let c = StoredSchema::parse(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"int","default":2}]}"#,
            None,
        )
        .expect("valid");
        assert_eq!(a.identity, b.identity);
        assert_ne!(a.identity, c.identity);
    }

    #[test]
    fn rejects_other_types_and_invalid_avro() {
        assert_eq!(
            StoredSchema::parse(r#""string""#, Some("PROTOBUF")).expect_err("must fail"),
            SchemaError::UnsupportedType("PROTOBUF".to_owned())
        );
        assert!(matches!(
            StoredSchema::parse("{not json", None),
            Err(SchemaError::Invalid(_))
        ));
        assert!(matches!(
            StoredSchema::parse(r#"{"type":"record","name":"R"}"#, None),
            Err(SchemaError::Invalid(_))
        ));
        assert!(StoredSchema::parse(r#""string""#, None).is_ok());
    }
}
