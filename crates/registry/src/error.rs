//! Errors a [`RegistryClient`](crate::RegistryClient) call can end with.
//!
//! The variants separate what a caller acts on differently: an unreachable
//! registry (retry later, fail readiness), a schema the registry refuses
//! (refuse to start, naming the subject), something that does not exist
//! (a consumer sent the message to its DLQ), and anything else the registry
//! answered (logged as is).

use thiserror::Error;

use self::codes::{
    INCOMPATIBLE_SCHEMA, INVALID_SCHEMA, SCHEMA_NOT_FOUND, SUBJECT_NOT_FOUND, VERSION_NOT_FOUND,
};

/// Confluent's error codes, as sent in `{"error_code": N, "message": ...}`.
pub mod codes {
    /// Confluent's error code for "subject not found".
    pub const SUBJECT_NOT_FOUND: u32 = 40401;
    /// Confluent's error code for "version not found".
    pub const VERSION_NOT_FOUND: u32 = 40402;
    /// Confluent's error code for "schema not found".
    pub const SCHEMA_NOT_FOUND: u32 = 40403;
    /// Confluent's error code for "subject has no subject-level compatibility".
    pub const SUBJECT_LEVEL_NOT_CONFIGURED: u32 = 40408;
    /// Confluent's error code for "incompatible schema" (sent with HTTP 409).
    pub const INCOMPATIBLE_SCHEMA: u32 = 409;
    /// Confluent's error code for "invalid schema".
    pub const INVALID_SCHEMA: u32 = 42201;
    /// Confluent's error code for "invalid version".
    pub const INVALID_VERSION: u32 = 42202;
    /// Confluent's error code for "invalid compatibility level".
    pub const INVALID_COMPATIBILITY_LEVEL: u32 = 42203;
    /// Confluent's error code for "error in the backend data store".
    pub const STORE_ERROR: u32 = 50001;
    /// Confluent's error code for "operation timed out".
    pub const OPERATION_TIMEOUT: u32 = 50002;
}

/// Why a registry call failed.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// No answer after the bounded retries: connection refused, timeouts or
    /// 5xx answers every time.
    #[error("schema registry at {url} unreachable after {attempts} attempt(s): {detail}")]
    Unreachable {
        url: String,
        attempts: u32,
        detail: String,
    },
    /// The registry answered with an error that has no variant of its own.
    /// `error_code` is Confluent's code, or the HTTP status when the body was
    /// not Confluent's error JSON (or, for a 2xx, was not the expected JSON).
    #[error("schema registry answered HTTP {status} (error code {error_code}): {message}")]
    Api {
        status: u16,
        error_code: u32,
        message: String,
    },
    /// The schema breaks the subject's compatibility level (error code 409).
    #[error("schema incompatible with subject `{subject}`: {message}")]
    Incompatible { subject: String, message: String },
    /// A subject, version or schema id the registry does not know
    /// (error codes 40401, 40402, 40403).
    #[error("not found in schema registry: {what}")]
    NotFound { what: String },
    /// The registry (or this client, for a schema it received) could not parse
    /// the schema (error code 42201).
    #[error("invalid schema: {message}")]
    InvalidSchema { message: String },
    /// The registry URL given to the client cannot be used.
    #[error("invalid schema registry URL `{url}`: {detail}")]
    InvalidUrl { url: String, detail: String },
}

impl RegistryError {
    /// A short, stable reason for metrics labels and DLQ headers.
    pub fn reason(&self) -> &'static str {
        match self {
            RegistryError::Unreachable { .. } => "registry_unreachable",
            RegistryError::Api { .. } => "registry_error",
            RegistryError::Incompatible { .. } => "incompatible_schema",
            RegistryError::NotFound { .. } => "schema_not_found",
            RegistryError::InvalidSchema { .. } => "invalid_schema",
            RegistryError::InvalidUrl { .. } => "invalid_registry_url",
        }
    }

    /// Whether trying again later may succeed (the registry was down or
    /// failing), as opposed to an answer that will not change.
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Unreachable { .. } => true,
            RegistryError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// Maps a Confluent error answer to the variant a caller acts on.
    pub(crate) fn from_api(
        subject: Option<&str>,
        status: u16,
        error_code: u32,
        message: String,
    ) -> Self {
        match error_code {
            SUBJECT_NOT_FOUND | VERSION_NOT_FOUND | SCHEMA_NOT_FOUND => {
                RegistryError::NotFound { what: message }
            }
            INCOMPATIBLE_SCHEMA => RegistryError::Incompatible {
                subject: subject.unwrap_or_default().to_owned(),
                message,
            },
            INVALID_SCHEMA => RegistryError::InvalidSchema { message },
            _ => RegistryError::Api {
                status,
                error_code,
                message,
            },
        }
    }
}
