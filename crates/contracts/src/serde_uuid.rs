//! Serde adapters that write a `Uuid` as its 36-character hyphenated text.
//!
//! Avro's `uuid` logical type annotates a `string`, so every Avro
//! implementation expects text on the wire. `uuid::Uuid`'s own serde impl
//! writes 16 raw bytes to serializers that are not human-readable, and
//! apache-avro 0.21's are not by default: its datum writer would then emit a
//! 16-byte "string" that Java, Python or Go consumers reject. The generated
//! types (and [`crate::Envelope`]) route every uuid field through here.
//!
//! Reading accepts the text form and, for robustness, the 16-byte form.

use std::fmt;

use serde::{Deserializer, Serializer, de};
use uuid::Uuid;

/// `#[serde(with = "crate::serde_uuid")]` on a `Uuid` field.
pub fn serialize<S: Serializer>(uuid: &Uuid, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buffer = Uuid::encode_buffer();
    serializer.serialize_str(uuid.hyphenated().encode_lower(&mut buffer))
}

/// See [`serialize`].
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Uuid, D::Error> {
    deserializer.deserialize_str(UuidVisitor)
}

struct UuidVisitor;

impl de::Visitor<'_> for UuidVisitor {
    type Value = Uuid;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a UUID as text or as 16 bytes")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Uuid, E> {
        Uuid::parse_str(text).map_err(E::custom)
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<Uuid, E> {
        match std::str::from_utf8(bytes) {
            Ok(text) if bytes.len() != 16 => self.visit_str(text),
            _ => Uuid::from_slice(bytes).map_err(E::custom),
        }
    }
}

/// `#[serde(default, with = "crate::serde_uuid::option")]` on an `Option<Uuid>` field.
pub mod option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use uuid::Uuid;

    /// Serializes `Some` through the text form, `None` as null.
    pub fn serialize<S: Serializer>(uuid: &Option<Uuid>, serializer: S) -> Result<S::Ok, S::Error> {
        match uuid {
            Some(uuid) => serializer.serialize_some(&AsText(uuid)),
            None => serializer.serialize_none(),
        }
    }

    /// See [`serialize`].
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Uuid>, D::Error> {
        Option::<AsTextOwned>::deserialize(deserializer)
            .map(|found| found.map(|AsTextOwned(uuid)| uuid))
    }

    struct AsText<'a>(&'a Uuid);

    impl Serialize for AsText<'_> {
        fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            super::serialize(self.0, serializer)
        }
    }

    struct AsTextOwned(Uuid);

    impl<'de> Deserialize<'de> for AsTextOwned {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            super::deserialize(deserializer).map(AsTextOwned)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};
    use uuid::Uuid;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ids {
        #[serde(with = "super")]
        id: Uuid,
        #[serde(default, with = "super::option")]
        cause: Option<Uuid>,
    }

    #[test]
    fn json_uses_the_text_form_both_ways() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let ids = Ids {
            id,
            cause: Some(id),
        };
        let json = serde_json::to_string(&ids).expect("serializes");
        assert_eq!(
            json,
            r#"{"id":"01234567-89ab-cdef-0123-456789abcdef","cause":"01234567-89ab-cdef-0123-456789abcdef"}"#
        );
        assert_eq!(
            serde_json::from_str::<Ids>(&json).expect("deserializes"),
            ids
        );
        let missing: Ids = serde_json::from_str(r#"{"id":"01234567-89ab-cdef-0123-456789abcdef"}"#)
            .expect("cause defaults to None");
        assert_eq!(missing.cause, None);
    }
}
