//! Avro type -> Rust type, and the serde attributes that make apache-avro
//! write what the Avro specification says.

use super::avro::AvroType;

/// The Rust type of a field. Named types map to the generated type of the
/// same simple name (names are checked unique), the envelope to the
/// hand-written `crate::Envelope`.
pub fn rust_type(ty: &AvroType) -> String {
    match ty {
        AvroType::String => "::std::string::String".to_owned(),
        AvroType::Uuid => "::uuid::Uuid".to_owned(),
        AvroType::Int => "i32".to_owned(),
        AvroType::Long | AvroType::TimestampMillis => "i64".to_owned(),
        AvroType::Boolean => "bool".to_owned(),
        AvroType::Double => "f64".to_owned(),
        AvroType::Optional(inner) => format!("::std::option::Option<{}>", rust_type(inner)),
        AvroType::Array(items) => format!("::std::vec::Vec<{}>", rust_type(items)),
        AvroType::Record(full_name) | AvroType::Enum(full_name) => {
            if full_name == super::envelope::FULL_NAME {
                "crate::Envelope".to_owned()
            } else {
                simple_name(full_name).to_owned()
            }
        }
    }
}

pub fn simple_name(full_name: &str) -> &str {
    full_name.rsplit('.').next().unwrap_or(full_name)
}

/// The `#[serde(...)]` attribute of a field, if it needs one.
///
/// uuid: `uuid::Uuid`'s own serde impl writes 16 raw bytes to a serializer
/// that is not human-readable, which apache-avro 0.21 is by default; for an
/// Avro `uuid` (a logical type on `string`) that puts 16 binary bytes where
/// every other Avro implementation expects the 36-character text. The
/// `crate::serde_uuid` adapters always use the text form.
///
/// Option: `#[serde(default)]` so a missing field reads as `None`.
pub fn serde_attribute(ty: &AvroType, at: &str) -> Result<Option<String>, String> {
    Ok(match ty {
        AvroType::Uuid => Some(r#"#[serde(with = "crate::serde_uuid")]"#.to_owned()),
        AvroType::Optional(inner) if **inner == AvroType::Uuid => {
            Some(r#"#[serde(default, with = "crate::serde_uuid::option")]"#.to_owned())
        }
        AvroType::Optional(inner) => {
            reject_nested_uuid(inner, at)?;
            Some("#[serde(default)]".to_owned())
        }
        AvroType::Array(items) => {
            reject_nested_uuid(items, at)?;
            None
        }
        _ => None,
    })
}

/// A uuid inside an array would need a serde adapter per container shape;
/// until a schema needs one, say so at build time instead of writing bytes.
fn reject_nested_uuid(ty: &AvroType, at: &str) -> Result<(), String> {
    match ty {
        AvroType::Uuid => Err(format!(
            "{at}: a uuid inside an array or union-in-array is not supported by the generator \
             (see codegen/rust_types.rs); use a record with a uuid field"
        )),
        AvroType::Optional(inner) | AvroType::Array(inner) => reject_nested_uuid(inner, at),
        _ => Ok(()),
    }
}

/// Whether values of the type support `Eq` (no floating point inside).
pub fn supports_eq(ty: &AvroType, named_is_eq: &dyn Fn(&str) -> bool) -> bool {
    match ty {
        AvroType::Double => false,
        AvroType::Optional(inner) | AvroType::Array(inner) => supports_eq(inner, named_is_eq),
        AvroType::Record(full_name) => named_is_eq(full_name),
        _ => true,
    }
}
