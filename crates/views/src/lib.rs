//! Per-service materialized views for Tributary.
//!
//! Every service materializes its own view from Kafka events. Handlers are
//! idempotent because each [`Transaction`] carries the consumed event's id: it
//! is stored with the view change it caused, together with the events to emit
//! (a transactional outbox) and the consumed position, and a redelivered event
//! comes back as [`Outcome::Duplicate`] with nothing applied. All replicas of a
//! service share one store, so decisions that race between replicas (two
//! inventory replicas reserving the last unit of a SKU) use optimistic
//! concurrency: [`Expect::Absent`] / [`Expect::Version`] conditions, checked
//! atomically with the write, and [`Outcome::Conflict`] for the loser.
//!
//! Two backends implement [`ViewStore`], selected by [`ViewsConfig`] in
//! [`open_store`]:
//! - [`embedded`]: SQLite in WAL mode, one file per service, fully atomic
//!   transactions (the default; several local processes share the file);
//! - [`scylla`]: a ScyllaDB keyspace per service, LWT for decisions, with the
//!   weaker but replay-convergent guarantees documented in that module.
//!
//! [`conformance`] holds the behaviour both must show; [`compare_tables`],
//! [`Namespace::Shadow`], [`open_bulk_load`] (many applies per backend
//! transaction) and [`promote_shadow`] (the atomic switch) are the building
//! blocks of view rebuilds.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tributary_views::ViewError> {
//! use tributary_views::{Expect, Outcome, TableDef, Transaction, ViewsConfig, open_store};
//!
//! const STOCK_BY_SKU: TableDef = TableDef { name: "stock_by_sku", doc: "partition = sku" };
//!
//! let store = open_store(&ViewsConfig::embedded("data"), "inventory", &[STOCK_BY_SKU]).await?;
//! let event_id = uuid::Uuid::new_v4();
//! let current = store.get(STOCK_BY_SKU.name, "sku-1", "").await?;
//! let expect = current.as_ref().map_or(Expect::Absent, |row| Expect::Version(row.version));
//! let tx = Transaction::for_event(event_id).put(&STOCK_BY_SKU, "sku-1", "", br#"{"available":9}"#.to_vec(), expect);
//! match store.apply(tx).await? {
//!     Outcome::Applied | Outcome::Duplicate => { /* commit the Kafka offset */ }
//!     Outcome::Conflict { .. } => { /* another replica won: re-read and decide again */ }
//! }
//! # Ok(()) }
//! ```

mod config;
pub mod conformance;
mod digest;
pub mod embedded;
mod error;
mod model;
mod names;
pub mod scylla;
mod store;
mod transaction;
mod verify;

pub use config::{
    Backend, ConsistencyLevel, EmbeddedConfig, Replication, ScyllaConfig, SerialConsistencyLevel,
    Synchronous, ViewsConfig,
};
pub use digest::{DigestBuilder, TableDigest};
pub use error::{BoxError, ViewError};
pub use model::{ClusteringOrder, Namespace, Row, RowKey, TableDef};
pub use names::{MAX_NAMESPACE_NAME, MAX_SERVICE_NAME, MAX_TABLE_NAME};
pub use store::{BulkLoad, ViewStore, open_bulk_load, open_store, open_store_in, promote_shadow};
pub use transaction::{
    ConsumedPosition, Expect, OutboxEntry, OutboxMessage, Outcome, Transaction, Write,
};
pub use verify::{CompareOptions, RowDifference, TableComparison, compare_tables};
