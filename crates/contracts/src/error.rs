use thiserror::Error;

/// Everything that can go wrong turning bytes into events and back.
///
/// Each variant is a fault in the data or the schema, never in I/O, so callers
/// can route it straight to a dead-letter topic with [`ContractError::reason`].
#[derive(Debug, Error)]
pub enum ContractError {
    /// The payload is shorter than the 5-byte Confluent header.
    #[error("payload of {len} bytes is shorter than the 5-byte Confluent header")]
    TooShort { len: usize },
    /// The first byte is not the Confluent magic byte `0`.
    #[error("wrong magic byte {found:#04x}, expected 0x00")]
    WrongMagicByte { found: u8 },
    /// The writer schema names a record this build has no type for.
    #[error("unknown event record `{full_name}`")]
    UnknownRecord { full_name: String },
    /// The value does not fit the schema (encoding side).
    #[error("event `{full_name}` does not match its schema: {detail}")]
    Encode { full_name: String, detail: String },
    /// The body could not be decoded with the writer schema, or resolved to ours.
    #[error("cannot decode `{full_name}`: {detail}")]
    Decode { full_name: String, detail: String },
    /// A schema text is not valid Avro.
    #[error("invalid Avro schema: {0}")]
    InvalidSchema(String),
}

impl ContractError {
    /// A short, stable, machine-friendly reason for metrics labels and DLQ headers.
    pub fn reason(&self) -> &'static str {
        match self {
            ContractError::TooShort { .. } => "too_short",
            ContractError::WrongMagicByte { .. } => "wrong_magic_byte",
            ContractError::UnknownRecord { .. } => "unknown_record",
            ContractError::Encode { .. } => "encode",
            ContractError::Decode { .. } => "decode",
            ContractError::InvalidSchema(_) => "invalid_schema",
        }
    }
}
