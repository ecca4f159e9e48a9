use std::time::Duration;

use thiserror::Error;

/// A boxed error from a backend driver (rusqlite, scylla), kept as the source so
/// `{:#}`-style reports show the whole chain.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong opening or using a view store.
///
/// Variants are split by what the caller can do about them: bad input
/// ([`ViewError::UnknownTable`], [`ViewError::InvalidName`],
/// [`ViewError::InvalidTransaction`], [`ViewError::InvalidConfig`]) is a bug in
/// the caller and retrying will not help; [`ViewError::Busy`] and
/// [`ViewError::Unavailable`] are transient (see [`ViewError::is_transient`]);
/// [`ViewError::Corrupted`] means the stored bytes are not what this crate
/// writes and needs an operator.
#[derive(Debug, Error)]
pub enum ViewError {
    /// The store could not be reached or opened (file, directory, cluster).
    #[error("view store unavailable at {location}: {source}")]
    Unavailable {
        /// The file path or the ScyllaDB URI/keyspace.
        location: String,
        #[source]
        source: BoxError,
    },
    /// Another writer held the store's write lock for longer than the busy timeout.
    #[error("view store {location} stayed locked by another writer for {waited:?}")]
    Busy { location: String, waited: Duration },
    /// Creating or upgrading the schema failed.
    #[error("schema migration failed for {location}: {source}")]
    Migration {
        location: String,
        #[source]
        source: BoxError,
    },
    /// A statement failed for a reason other than the ones above.
    #[error("view store query failed on {location}: {source}")]
    Storage {
        location: String,
        #[source]
        source: BoxError,
    },
    /// Stored data does not decode as this crate wrote it.
    #[error("corrupted data in {location}: {detail}")]
    Corrupted { location: String, detail: String },
    /// The table was not declared when the store was opened.
    #[error("unknown view table `{table}`: declare it in the TableDef list given to open_store")]
    UnknownTable { table: String },
    /// A table, service, namespace or keyspace name is not a safe identifier.
    #[error("invalid {what} name `{name}`: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: String,
    },
    /// The transaction is malformed (for example it writes one row twice).
    #[error("invalid transaction: {reason}")]
    InvalidTransaction { reason: String },
    /// A shadow copy to promote does not exist (or is incomplete, or is the
    /// copy already live).
    #[error("cannot promote shadow `{shadow}` in {location}: {detail}")]
    NoSuchShadow {
        location: String,
        shadow: String,
        detail: String,
    },
    /// The configuration cannot work (for example an empty ScyllaDB URI).
    #[error("invalid views configuration: {reason}")]
    InvalidConfig { reason: String },
    /// A blocking worker panicked or the runtime is shutting down.
    #[error("view store worker failed: {detail}")]
    Worker { detail: String },
}

impl ViewError {
    /// True when the same call may succeed if retried later (lock contention,
    /// an unreachable node); false for caller bugs and corrupted data.
    pub fn is_transient(&self) -> bool {
        matches!(self, ViewError::Busy { .. } | ViewError::Unavailable { .. })
    }

    /// A short, stable code for metrics labels and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            ViewError::Unavailable { .. } => "unavailable",
            ViewError::Busy { .. } => "busy",
            ViewError::Migration { .. } => "migration",
            ViewError::Storage { .. } => "storage",
            ViewError::Corrupted { .. } => "corrupted",
            ViewError::UnknownTable { .. } => "unknown_table",
            ViewError::InvalidName { .. } => "invalid_name",
            ViewError::InvalidTransaction { .. } => "invalid_transaction",
            ViewError::NoSuchShadow { .. } => "no_such_shadow",
            ViewError::InvalidConfig { .. } => "invalid_config",
            ViewError::Worker { .. } => "worker",
        }
    }
}
