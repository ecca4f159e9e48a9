//! The wide-column data model shared by every backend.
//!
//! A view table is a sorted map `partition -> clustering -> (value, version)`.
//! That is exactly a ScyllaDB table with `PRIMARY KEY ((partition), clustering)`
//! and a SQLite `WITHOUT ROWID` table keyed by `(partition, clustering)`, so
//! queries designed for one backend run natively on the other. Values are
//! opaque bytes (JSON produced by the owning service); the store never looks
//! inside them.

use std::fmt;

use crate::error::ViewError;
use crate::names::{MAX_NAMESPACE_NAME, MAX_TABLE_NAME, check_identifier};

/// Declares one view table. Services keep these as `const`s next to the code
/// that reads and writes them, and pass the full list to
/// [`open_store`](crate::open_store), which creates missing tables.
///
/// ```
/// use tributary_views::TableDef;
/// pub const ORDERS_BY_ID: TableDef = TableDef {
///     name: "orders_by_id",
///     doc: "partition = order id, clustering = \"\", value = order JSON",
/// };
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TableDef {
    /// `[a-z][a-z0-9_]*`, at most 32 characters; unique within a service.
    pub name: &'static str,
    /// What the partition and clustering keys hold and which query the table serves.
    pub doc: &'static str,
}

impl TableDef {
    /// Checks the name is a safe identifier (it is spliced into SQL/CQL).
    pub fn validate(&self) -> Result<(), ViewError> {
        check_identifier("table", self.name, MAX_TABLE_NAME)
    }
}

/// Checks a table list: valid names, no duplicates.
pub(crate) fn validate_tables(tables: &[TableDef]) -> Result<(), ViewError> {
    for (i, table) in tables.iter().enumerate() {
        table.validate()?;
        if tables[..i].iter().any(|t| t.name == table.name) {
            return Err(ViewError::InvalidName {
                what: "table",
                name: table.name.to_owned(),
                reason: "declared twice".into(),
            });
        }
    }
    Ok(())
}

/// The primary key of a row within one table. The partition key must not be
/// empty (ScyllaDB cannot store an empty partition key); the clustering key
/// may be (`""` for single-row partitions).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RowKey {
    pub partition: String,
    pub clustering: String,
}

impl RowKey {
    pub fn new(partition: impl Into<String>, clustering: impl Into<String>) -> Self {
        Self {
            partition: partition.into(),
            clustering: clustering.into(),
        }
    }
}

impl fmt::Display for RowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:?}, {:?})", self.partition, self.clustering)
    }
}

/// One stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub partition: String,
    pub clustering: String,
    /// Opaque bytes written by the owning service (JSON by convention).
    pub value: Vec<u8>,
    /// Optimistic-concurrency token: 1 after the first put, +1 on every put.
    /// Compare it with [`Expect::Version`](crate::Expect::Version).
    pub version: i64,
}

impl Row {
    pub fn key(&self) -> RowKey {
        RowKey::new(self.partition.clone(), self.clustering.clone())
    }
}

/// Order of clustering keys when reading one partition. Clustering keys sort
/// by their UTF-8 bytes on every backend, so zero-padded numbers and RFC 3339
/// timestamps sort chronologically (use `Descending` for "newest first").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClusteringOrder {
    Ascending,
    Descending,
}

/// Which copy of a service's store to open.
///
/// Every service normally uses [`Namespace::Live`]. A view rebuild writes into
/// a [`Namespace::Shadow`] copy — its own view tables, processed-event records,
/// outbox and positions — with the same handlers, compares it with the live
/// copy ([`compare_tables`](crate::compare_tables)) and only then switches.
/// The embedded backend keeps a shadow in the same SQLite file (table prefix
/// `shadow_<name>__`) so that the switch ([`promote_shadow`](crate::promote_shadow))
/// is one atomic transaction of renames; ScyllaDB keeps it in its own keyspace
/// `<prefix>_<service>__s_<name>` and switches by moving a pointer row.
/// The outbox of a shadow is never relayed: rebuilt events were emitted already.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Namespace {
    /// The copy the service reads and writes.
    #[default]
    Live,
    /// A rebuild copy, `[a-z][a-z0-9_]*`, at most 12 characters.
    Shadow(String),
}

impl Namespace {
    /// A validated shadow namespace.
    pub fn shadow(name: impl Into<String>) -> Result<Self, ViewError> {
        let ns = Namespace::Shadow(name.into());
        ns.validate()?;
        Ok(ns)
    }

    pub(crate) fn validate(&self) -> Result<(), ViewError> {
        match self {
            Namespace::Live => Ok(()),
            Namespace::Shadow(name) => check_identifier("namespace", name, MAX_NAMESPACE_NAME),
        }
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Namespace::Live => f.write_str("live"),
            Namespace::Shadow(name) => write!(f, "shadow {name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_tables_are_rejected() {
        let t = TableDef { name: "a", doc: "" };
        assert!(validate_tables(&[t, TableDef { name: "b", doc: "" }]).is_ok());
        assert!(validate_tables(&[t, t]).is_err());
        assert!(
            validate_tables(&[TableDef {
                name: "Bad",
                doc: ""
            }])
            .is_err()
        );
    }

    #[test]
    fn shadow_names_are_checked() {
        assert!(Namespace::shadow("rebuild1").is_ok());
        assert!(Namespace::shadow("x".repeat(13)).is_err());
        assert!(Namespace::shadow("a-b").is_err());
    }
}
