//! The records of the `_schemas` log, in Confluent's layout.
//!
//! Keys and values are JSON, shaped like the ones Confluent Schema Registry
//! writes (`{"keytype":"SCHEMA","subject":…,"version":…,"magic":1}`), so the
//! topic reads familiarly to operators and compaction keeps exactly one record
//! per (subject, version) and per config scope. Decoding is tolerant: unknown
//! fields and key types (MODE, NOOP, DELETE_SUBJECT, …) written by other
//! registries are skipped rather than treated as corruption.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tributary_contracts::CompatibilityLevel;

/// One decoded record of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogRecord {
    /// A version of a subject; `None` is a tombstone (version removed).
    Schema {
        subject: String,
        version: u32,
        value: Option<SchemaValue>,
    },
    /// A compatibility level; `subject: None` is the global one and
    /// `level: None` removes the setting.
    Config {
        subject: Option<String>,
        level: Option<CompatibilityLevel>,
    },
    /// A record that carries no state for us (NOOP, DELETE_SUBJECT, MODE,
    /// or a key type from a newer registry).
    Ignored { keytype: String },
}

/// The value of a SCHEMA record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaValue {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
    /// Soft-deleted versions stay in the log (and keep their id) but are no
    /// longer listed.
    #[serde(default)]
    pub deleted: bool,
    /// Absent means AVRO, as in Confluent's records.
    #[serde(
        rename = "schemaType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub schema_type: Option<String>,
}

/// Why a log record could not be read. The tailer skips such records with a
/// warning: one bad record must not make the registry unstartable.
#[derive(Debug, Error)]
pub enum RecordError {
    #[error("record has no key")]
    MissingKey,
    #[error("record key is not valid JSON of a known shape: {0}")]
    Key(serde_json::Error),
    #[error("record value is not valid JSON of a known shape: {0}")]
    Value(serde_json::Error),
    #[error("record value does not match its key: {0}")]
    Mismatch(String),
}

/// Key of SCHEMA records; the field order is Confluent's and must stay fixed,
/// since compaction compares key bytes.
#[derive(Serialize)]
struct SchemaKeyOut<'a> {
    keytype: &'static str,
    subject: &'a str,
    version: u32,
    magic: u8,
}

/// Key of CONFIG records (`subject: null` for the global level).
#[derive(Serialize)]
struct ConfigKeyOut<'a> {
    keytype: &'static str,
    subject: Option<&'a str>,
    magic: u8,
}

#[derive(Deserialize)]
struct KeyIn {
    keytype: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    version: Option<u32>,
}

#[derive(Serialize, Deserialize)]
struct ConfigValue {
    #[serde(rename = "compatibilityLevel")]
    compatibility_level: CompatibilityLevel,
}

impl LogRecord {
    /// The SCHEMA record for `value`.
    pub fn schema(value: SchemaValue) -> LogRecord {
        LogRecord::Schema {
            subject: value.subject.clone(),
            version: value.version,
            value: Some(value),
        }
    }

    /// Encodes the record as (key, value) bytes; `None` value is a tombstone.
    pub fn encode(&self) -> Result<(Vec<u8>, Option<Vec<u8>>), serde_json::Error> {
        match self {
            LogRecord::Schema {
                subject,
                version,
                value,
            } => {
                let key = serde_json::to_vec(&SchemaKeyOut {
                    keytype: "SCHEMA",
                    subject,
                    version: *version,
                    magic: 1,
                })?;
                let value = value.as_ref().map(serde_json::to_vec).transpose()?;
                Ok((key, value))
            }
            LogRecord::Config { subject, level } => {
                let key = serde_json::to_vec(&ConfigKeyOut {
                    keytype: "CONFIG",
                    subject: subject.as_deref(),
                    magic: 0,
                })?;
                let value = level
                    .map(|compatibility_level| {
                        serde_json::to_vec(&ConfigValue {
                            compatibility_level,
                        })
                    })
                    .transpose()?;
                Ok((key, value))
            }
            LogRecord::Ignored { keytype } => {
                let key =
                    serde_json::to_vec(&serde_json::json!({ "keytype": keytype, "magic": 0 }))?;
                Ok((key, None))
            }
        }
    }

    /// Decodes a record read from the log.
    pub fn decode(key: Option<&[u8]>, value: Option<&[u8]>) -> Result<LogRecord, RecordError> {
        let key: KeyIn = serde_json::from_slice(key.ok_or(RecordError::MissingKey)?)
            .map_err(RecordError::Key)?;
        match key.keytype.as_str() {
            "SCHEMA" => {
                let (Some(subject), Some(version)) = (key.subject, key.version) else {
                    return Err(RecordError::Mismatch(
                        "SCHEMA key without subject or version".to_owned(),
                    ));
                };
                let value: Option<SchemaValue> = value
                    .map(serde_json::from_slice)
                    .transpose()
                    .map_err(RecordError::Value)?;
                if let Some(v) = &value
                    && (v.subject != subject || v.version != version)
                {
                    return Err(RecordError::Mismatch(format!(
                        "key says {subject} v{version}, value says {} v{}",
                        v.subject, v.version
                    )));
                }
                Ok(LogRecord::Schema {
                    subject,
                    version,
                    value,
                })
            }
            "CONFIG" => {
                let level = value
                    .map(serde_json::from_slice::<ConfigValue>)
                    .transpose()
                    .map_err(RecordError::Value)?
                    .map(|v| v.compatibility_level);
                Ok(LogRecord::Config {
                    subject: key.subject,
                    level,
                })
            }
            _ => Ok(LogRecord::Ignored {
                keytype: key.keytype,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value() -> SchemaValue {
        SchemaValue {
            subject: "orders-x.Y".to_owned(),
            version: 2,
            id: 7,
            schema: r#"{"type":"string"}"#.to_owned(),
            deleted: false,
            schema_type: None,
        }
    }

    #[test]
    fn schema_records_use_confluent_key_layout_and_round_trip() {
        let record = LogRecord::schema(value());
        let (key, payload) = record.encode().expect("encodes");
        assert_eq!(
            std::str::from_utf8(&key).expect("utf8"),
            r#"{"keytype":"SCHEMA","subject":"orders-x.Y","version":2,"magic":1}"#
        );
        let decoded = LogRecord::decode(Some(&key), payload.as_deref()).expect("decodes");
        assert_eq!(decoded, record);
    }

    #[test]
    fn config_records_round_trip_including_global_and_tombstones() {
        for record in [
            LogRecord::Config {
                subject: None,
                level: Some(CompatibilityLevel::Full),
            },
            LogRecord::Config {
                subject: Some("s".to_owned()),
                level: Some(CompatibilityLevel::None),
            },
            LogRecord::Config {
                subject: Some("s".to_owned()),
                level: None,
            },
        ] {
            let (key, payload) = record.encode().expect("encodes");
            assert_eq!(
                LogRecord::decode(Some(&key), payload.as_deref()).expect("decodes"),
                record
            );
        }
    }

    #[test]
    fn reads_confluent_written_records_and_skips_unknown_key_types() {
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        let value = br#"{"subject":"s","version":1,"id":3,"schemaType":"AVRO","schema":"\"int\"","deleted":false,"metadata":null}"#;
        let LogRecord::Schema { value: Some(v), .. } =
            LogRecord::decode(Some(key), Some(value)).expect("decodes")
        else {
            panic!("schema record expected")
        };
        assert_eq!((v.id, v.schema_type.as_deref()), (3, Some("AVRO")));

        let noop =
            LogRecord::decode(Some(br#"{"keytype":"NOOP","magic":0}"#), None).expect("decodes");
        assert_eq!(
            noop,
            LogRecord::Ignored {
                keytype: "NOOP".to_owned()
            }
        );
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        assert!(matches!(
            LogRecord::decode(None, None),
            Err(RecordError::MissingKey)
        ));
        assert!(matches!(
            LogRecord::decode(Some(b"\xff"), None),
            Err(RecordError::Key(_))
        ));
        let key = br#"{"keytype":"SCHEMA","subject":"s","version":1,"magic":1}"#;
        assert!(matches!(
            LogRecord::decode(Some(key), Some(b"{}")),
            Err(RecordError::Value(_))
        ));
        let other = br#"{"subject":"t","version":1,"id":3,"schema":"\"int\""}"#;
        assert!(matches!(
            LogRecord::decode(Some(key), Some(other)),
            Err(RecordError::Mismatch(_))
        ));
    }
}
