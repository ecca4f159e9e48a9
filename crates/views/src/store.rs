//! The [`ViewStore`] trait and the constructor that picks a backend.

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

use crate::config::{Backend, ViewsConfig};
use crate::digest::TableDigest;
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Namespace, Row, RowKey, TableDef};
use crate::transaction::{ConsumedPosition, OutboxEntry, Outcome, Transaction};

/// A service's materialized view: its tables, its processed-event records, its
/// transactional outbox and its consumer positions.
///
/// Every replica of a service opens the same store (one SQLite file, or one
/// ScyllaDB keyspace), so any replica can answer any query, and decisions that
/// race between replicas are settled by [`Expect`](crate::Expect) conditions.
///
/// Implementations never block the async runtime and hold no lock across an
/// `.await`. If a call's future is dropped mid-way, the backend may still
/// finish the work: treat the outcome as unknown and let at-least-once
/// redelivery plus the processed-event record sort it out.
#[async_trait]
pub trait ViewStore: Send + Sync + std::fmt::Debug + 'static {
    /// Human-readable location for logs ("sqlite /data/views/orders.sqlite").
    fn describe(&self) -> &str;

    /// Which copy of the service's store this is.
    fn namespace(&self) -> &Namespace;

    /// The tables declared when the store was opened.
    fn tables(&self) -> &[TableDef];

    /// Applies a transaction: checks the event id and every expectation, then
    /// writes rows, outbox messages, the position and the event id.
    async fn apply(&self, tx: Transaction) -> Result<Outcome, ViewError>;

    /// One row, or `None`.
    async fn get(
        &self,
        table: &str,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Row>, ViewError>;

    /// Up to `limit` rows of one partition in clustering order.
    async fn partition(
        &self,
        table: &str,
        partition: &str,
        order: ClusteringOrder,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError>;

    /// Pages over a whole table: up to `limit` rows strictly after `after` in
    /// the backend's stable key order (SQLite: partition then clustering;
    /// ScyllaDB: partition token then clustering). Pass the last row's key to
    /// get the next page; an empty page means the end. Rows written while
    /// paging may or may not be seen; each existing row is returned once.
    async fn scan(
        &self,
        table: &str,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError>;

    /// Whether `event_id` was recorded by an applied transaction.
    async fn was_processed(&self, event_id: Uuid) -> Result<bool, ViewError>;

    /// Up to `limit` unacknowledged outbox messages, lowest `seq` first.
    async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, ViewError>;

    /// Removes delivered messages. Unknown sequence numbers are ignored, so an
    /// ack may be repeated.
    async fn outbox_ack(&self, seqs: &[i64]) -> Result<(), ViewError>;

    /// The recorded positions of `group`, ordered by topic and partition.
    async fn positions(&self, group: &str) -> Result<Vec<ConsumedPosition>, ViewError>;

    /// Content digest of a table, independent of insertion order.
    async fn digest(&self, table: &str) -> Result<TableDigest, ViewError>;
}

/// A [`ViewStore`] for loading a copy of a view that no other process
/// writes, such as a rebuild's shadow: it may group many applies into one
/// backend transaction (the embedded backend commits every thousand or
/// so), so other stores see the applies only after [`finish`](Self::finish).
/// Reads through the loader itself see every apply so far, and each apply
/// still applies all of its transaction or nothing.
#[async_trait]
pub trait BulkLoad: ViewStore {
    /// Makes every apply so far durable and visible to other stores. If the
    /// loader is dropped without it, applies since the last internal commit
    /// are lost.
    async fn finish(&self) -> Result<(), ViewError>;
}

/// Opens `namespace` of `service` for a bulk load (see [`BulkLoad`]),
/// creating its schema and tables like [`open_store_in`].
pub async fn open_bulk_load(
    config: &ViewsConfig,
    service: &str,
    namespace: &Namespace,
    tables: &[TableDef],
) -> Result<Arc<dyn BulkLoad>, ViewError> {
    Ok(
        match open_backend(config, service, namespace, tables).await? {
            Opened::Embedded(store) => Arc::new(crate::embedded::EmbeddedBulkLoad::new(store)?),
            // Every write is its own statement there already; nothing to group.
            Opened::Scylla(store) => Arc::new(store),
        },
    )
}

/// Opens the live store of `service` with the backend chosen by `config`,
/// creating or upgrading its schema and the declared tables.
pub async fn open_store(
    config: &ViewsConfig,
    service: &str,
    tables: &[TableDef],
) -> Result<Arc<dyn ViewStore>, ViewError> {
    open_store_in(config, service, &Namespace::Live, tables).await
}

/// Like [`open_store`], for a chosen [`Namespace`] (shadow copies for rebuilds).
pub async fn open_store_in(
    config: &ViewsConfig,
    service: &str,
    namespace: &Namespace,
    tables: &[TableDef],
) -> Result<Arc<dyn ViewStore>, ViewError> {
    Ok(
        match open_backend(config, service, namespace, tables).await? {
            Opened::Embedded(store) => Arc::new(store),
            Opened::Scylla(store) => Arc::new(store),
        },
    )
}

/// A store of the backend `config` chose, before it is put behind a trait
/// (short-lived, so the size difference between the variants is no cost).
#[allow(clippy::large_enum_variant)]
enum Opened {
    Embedded(crate::embedded::EmbeddedStore),
    Scylla(crate::scylla::ScyllaStore),
}

async fn open_backend(
    config: &ViewsConfig,
    service: &str,
    namespace: &Namespace,
    tables: &[TableDef],
) -> Result<Opened, ViewError> {
    Ok(match config.backend {
        Backend::Embedded => Opened::Embedded(
            crate::embedded::EmbeddedStore::open(
                &config.data_dir,
                &config.embedded,
                service,
                namespace,
                tables,
            )
            .await?,
        ),
        Backend::Scylla => Opened::Scylla(
            crate::scylla::ScyllaStore::open(&config.scylla, service, namespace, tables).await?,
        ),
    })
}

/// Finds a declared table or reports it unknown.
pub(crate) fn find_table<'a>(
    tables: &'a [TableDef],
    name: &str,
) -> Result<&'a TableDef, ViewError> {
    tables
        .iter()
        .find(|t| t.name == name)
        .ok_or_else(|| ViewError::UnknownTable {
            table: name.to_owned(),
        })
}

/// Makes the shadow copy `shadow` of `service` its live copy, atomically on
/// either backend: afterwards every store opened with [`open_store`] reads and
/// writes the rebuilt view tables and processed-event records, and none ever
/// sees a mix of old and new. The live outbox (messages not yet published)
/// and consumer positions are kept. The shadow namespace itself is gone.
///
/// - embedded: one SQLite transaction drops the live tables and renames the
///   shadow's into their place; processes with the file open see the new
///   tables on their next statement.
/// - ScyllaDB: one write of the service's active-namespace pointer row, read
///   when a store is opened; the previous keyspace stays for rollback.
///
/// Call it only while no process of the service runs (stores opened earlier
/// keep the old copy on ScyllaDB, and a running consumer would write into the
/// view being replaced). Fails with [`ViewError::NoSuchShadow`], changing
/// nothing, when the shadow does not exist or lacks one of `tables`.
pub async fn promote_shadow(
    config: &ViewsConfig,
    service: &str,
    shadow: &str,
    tables: &[TableDef],
) -> Result<(), ViewError> {
    match config.backend {
        Backend::Embedded => {
            crate::embedded::EmbeddedStore::promote(
                &config.data_dir,
                &config.embedded,
                service,
                shadow,
                tables,
            )
            .await
        }
        Backend::Scylla => {
            crate::scylla::ScyllaStore::promote(&config.scylla, service, shadow, tables).await
        }
    }
}
