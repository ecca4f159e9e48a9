//! The embedded backend: one SQLite file per service, shared by every local
//! process of that service.
//!
//! - File: `<data_dir>/views/<service>.sqlite`, WAL journal, so readers never
//!   block the writer and several processes can open it at once.
//! - `apply` is one `BEGIN IMMEDIATE` transaction: the processed-event check,
//!   every [`Expect`](crate::Expect) check and all writes (rows, outbox,
//!   position, event id) happen under the file's write lock and commit
//!   together or not at all. Concurrent replicas serialize on that lock
//!   (waiting up to `busy_timeout`), so of two conflicting decisions exactly
//!   one commits and the other sees [`Outcome::Conflict`].
//! - Durability is described on [`EmbeddedConfig`].
//! - Blocking SQLite calls run on tokio's blocking pool with a bounded
//!   connection pool; statements are prepared once and cached per connection.
//!
//! SQLite is compiled in (`rusqlite` with `bundled`); the embedded broker runs
//! as a separate process, so its own SQLite build never links with this one.

mod apply;
mod bulk;
mod config;
mod headers;
mod pool;
mod promote;
mod read;
mod schema;

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use uuid::Uuid;

pub(crate) use self::bulk::EmbeddedBulkLoad;
pub use self::config::{EmbeddedConfig, Synchronous};
use self::pool::{Pool, Shared};
use self::schema::Schema;
use crate::digest::TableDigest;
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Namespace, Row, RowKey, TableDef, validate_tables};
use crate::names::{MAX_SERVICE_NAME, check_identifier};
use crate::store::{ViewStore, find_table};
use crate::transaction::{ConsumedPosition, OutboxEntry, Outcome, Transaction};

/// Largest allowed `pool_size`.
const MAX_POOL_SIZE: usize = 64;

/// A service's view in a SQLite file. Open it through
/// [`open_store`](crate::open_store) or [`EmbeddedStore::open`].
#[derive(Debug)]
pub struct EmbeddedStore {
    pool: Pool,
    describe: String,
    namespace: Namespace,
    tables: Vec<TableDef>,
}

impl EmbeddedStore {
    /// The file a service's views live in.
    pub fn file_path(data_dir: &Path, service: &str) -> PathBuf {
        data_dir.join("views").join(format!("{service}.sqlite"))
    }

    /// Opens (creating if needed) the store of `service` under `data_dir`,
    /// applies pending migrations and creates the declared tables.
    pub async fn open(
        data_dir: &Path,
        config: &EmbeddedConfig,
        service: &str,
        namespace: &Namespace,
        tables: &[TableDef],
    ) -> Result<Self, ViewError> {
        check_identifier("service", service, MAX_SERVICE_NAME)?;
        namespace.validate()?;
        validate_tables(tables)?;
        if config.pool_size == 0 || config.pool_size > MAX_POOL_SIZE {
            return Err(ViewError::InvalidConfig {
                reason: format!(
                    "embedded.pool_size is {}, must be between 1 and {MAX_POOL_SIZE}",
                    config.pool_size
                ),
            });
        }
        let path = Self::file_path(data_dir, service);
        let location = format!("sqlite {}", path.display());
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| ViewError::Unavailable {
                    location: location.clone(),
                    source: Box::new(e),
                })?;
        }
        let shared = Shared {
            path,
            location: location.clone(),
            busy_timeout: config.busy_timeout,
            synchronous: config.synchronous,
            schema: Schema::new(namespace, tables),
        };
        let pool = Pool::new(shared, config.pool_size);
        let owned_tables = tables.to_vec();
        pool.run(move |conn, shared| schema::migrate(conn, shared, &owned_tables))
            .await?;
        tracing::debug!(store = %location, %namespace, tables = tables.len(), "opened embedded view store");
        Ok(Self {
            pool,
            describe: match namespace {
                Namespace::Live => location,
                Namespace::Shadow(_) => format!("{location} ({namespace})"),
            },
            namespace: namespace.clone(),
            tables: tables.to_vec(),
        })
    }

    /// Makes shadow copy `shadow` of `service` the live copy, atomically (see
    /// `promote.rs`): its view tables and processed-event records replace the
    /// live ones in one SQLite transaction; the live outbox and positions stay.
    /// The shadow namespace is gone afterwards.
    pub async fn promote(
        data_dir: &Path,
        config: &EmbeddedConfig,
        service: &str,
        shadow: &str,
        tables: &[TableDef],
    ) -> Result<(), ViewError> {
        Namespace::shadow(shadow)?;
        let live = Self::open(data_dir, config, service, &Namespace::Live, tables).await?;
        let (shadow, tables) = (shadow.to_owned(), tables.to_vec());
        live.pool
            .run(move |conn, shared| promote::promote(conn, shared, &shadow, &tables))
            .await?;
        tracing::info!(store = %live.describe, "promoted a shadow copy to live");
        Ok(())
    }

    /// The SQLite file of this store.
    pub fn path(&self) -> &Path {
        &self.pool.shared().path
    }

    fn check_table(&self, table: &str) -> Result<(), ViewError> {
        find_table(&self.tables, table).map(|_| ())
    }
}

#[async_trait]
impl ViewStore for EmbeddedStore {
    fn describe(&self) -> &str {
        &self.describe
    }

    fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    async fn apply(&self, tx: Transaction) -> Result<Outcome, ViewError> {
        tx.validate(&self.tables)?;
        self.pool
            .run(move |conn, shared| apply::apply(conn, shared, &tx))
            .await
    }

    async fn get(
        &self,
        table: &str,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Row>, ViewError> {
        self.check_table(table)?;
        let (table, partition, clustering) = (
            table.to_owned(),
            partition.to_owned(),
            clustering.to_owned(),
        );
        self.pool
            .run(move |conn, shared| read::get(conn, shared, &table, &partition, &clustering))
            .await
    }

    async fn partition(
        &self,
        table: &str,
        partition: &str,
        order: ClusteringOrder,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        self.check_table(table)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (table, partition) = (table.to_owned(), partition.to_owned());
        self.pool
            .run(move |conn, shared| {
                read::partition(conn, shared, &table, &partition, order, limit)
            })
            .await
    }

    async fn scan(
        &self,
        table: &str,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        self.check_table(table)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (table, after) = (table.to_owned(), after.cloned());
        self.pool
            .run(move |conn, shared| read::scan(conn, shared, &table, after.as_ref(), limit))
            .await
    }

    async fn was_processed(&self, event_id: Uuid) -> Result<bool, ViewError> {
        self.pool
            .run(move |conn, shared| read::was_processed(conn, shared, event_id))
            .await
    }

    async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, ViewError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.pool
            .run(move |conn, shared| read::outbox_pending(conn, shared, limit))
            .await
    }

    async fn outbox_ack(&self, seqs: &[i64]) -> Result<(), ViewError> {
        if seqs.is_empty() {
            return Ok(());
        }
        let seqs = seqs.to_vec();
        self.pool
            .run(move |conn, shared| read::outbox_ack(conn, shared, &seqs))
            .await
    }

    async fn positions(&self, group: &str) -> Result<Vec<ConsumedPosition>, ViewError> {
        let group = group.to_owned();
        self.pool
            .run(move |conn, shared| read::positions(conn, shared, &group))
            .await
    }

    async fn digest(&self, table: &str) -> Result<TableDigest, ViewError> {
        self.check_table(table)?;
        let table = table.to_owned();
        self.pool
            .run(move |conn, shared| read::digest(conn, shared, &table))
            .await
    }
}
