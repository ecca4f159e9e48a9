//! The ScyllaDB backend: one keyspace per service, shared by all replicas.
//!
//! # What `apply` does
//!
//! 1. **Duplicate check** — a read of `processed_events` at the configured
//!    consistency (step 4 commits at the same consistency, so a completed
//!    commit is always seen); a recorded id returns [`Outcome::Duplicate`]
//!    before anything is written. Only a twin racing through the same event
//!    at the same moment gets past it, and step 4 stops that one.
//! 2. **Decisions** — writes with [`Expect::Absent`] / [`Expect::Version`] are
//!    grouped by (table, partition). Each group is one lightweight transaction
//!    (`INSERT … IF NOT EXISTS`, `UPDATE … IF version = ?`,
//!    `DELETE … IF version = ?`; several rows of one partition go in one
//!    conditional batch), applied in order. The first group whose condition
//!    fails ends the call with [`Outcome::Conflict`].
//! 3. **Everything else** — [`Expect::Any`] puts and deletes, outbox messages
//!    and the consumer position — as one *logged* batch (a single statement is
//!    sent alone) with one explicit timestamp: [`Transaction::write_time`], or
//!    the current time.
//! 4. **Commit point** — `INSERT INTO processed_events … IF NOT EXISTS`. If a
//!    concurrent twin committed first, the result is [`Outcome::Duplicate`].
//!
//! # Guarantees compared with the embedded backend
//!
//! | | embedded (SQLite) | ScyllaDB |
//! |---|---|---|
//! | all-or-nothing | the whole transaction | each decision group; the logged batch (eventually, not isolated) |
//! | isolation of decisions | every row, across tables | per partition (Paxos) |
//! | a conflict applies nothing | always | nothing of the failed group, nor of steps 3–4; decision groups before it stay applied |
//! | crash mid-`apply` | nothing applied | any prefix of steps 2–4 may be applied |
//! | outbox | exactly one copy per applied transaction | at least one: a replay after a partial apply appends another copy with the same `event_id` and a new `seq` |
//! | `version` after an `Any` put | previous + 1, exact | read then +1: exact unless two writers race on that row |
//! | duplicate detection | under the same lock as the writes | pre-check plus `IF NOT EXISTS` commit point |
//!
//! SQLite serializes every writer on one file lock, so it can offer full ACID
//! transactions. ScyllaDB offers atomic, isolated conditional updates only
//! within one partition, and multi-partition atomicity (logged batches)
//! without isolation or conditions; cross-partition transactions would need a
//! distributed lock or two-phase commit, costing availability and latency on
//! every event. The backend therefore relies on handlers being idempotent.
//!
//! # Why this is enough: replays converge
//!
//! The consumer commits its Kafka offset only after `apply` returned
//! `Applied` or `Duplicate`, so an event whose `apply` failed or crashed part
//! way is delivered again and its handler runs again on the current view:
//! - *Unconditional writes* are blind and computed from the event, so the
//!   replay writes the same cells with the same timestamp (when
//!   `write_time` comes from the event): re-applying them changes nothing.
//!   Because the timestamp is the event's, a late replay from a zombie consumer
//!   (one that lost its partitions in a rebalance but still finishes an old
//!   event) cannot overwrite what a newer event of the same key wrote.
//! - *Decisions* land atomically per partition. Keep a decision and the
//!   evidence that it was taken in **one partition of one table** (for
//!   example the stock row of a SKU and the `reservation/<order>` row next to
//!   it). The replayed handler then reads its own earlier decision and does
//!   not take it again; the version conditions stop two replicas from both
//!   taking a decision on the same state. A decision spanning partitions (an
//!   order with several SKUs) must be resumable: on replay or after a
//!   conflict, the handler sees which partitions already carry its evidence,
//!   completes the rest, or compensates.
//! - The *processed-event record* is written last, so it is only recorded
//!   once everything before it is durable; after that, redeliveries are
//!   `Duplicate`.
//! - *Outbox copies* carry the same deterministic `event_id`, so downstream
//!   processed-event records collapse them.
//!
//! Two rules follow for service authors on this backend: set
//! [`Transaction::write_time`] from the event (microseconds of
//! `occurred_at`), and do not mix conditional and unconditional writes on the
//! same row — lightweight transactions use Paxos timestamps (the coordinator's
//! clock), so an unconditional write with an older event time would be
//! silently shadowed.
//!
//! # Other notes
//!
//! - Conditional statements are not marked idempotent: the driver does not
//!   retry them, and a timeout surfaces as an error (the outcome is unknown;
//!   the redelivery sorts it out as above).
//! - [`ViewStore::scan`] pages in token order; [`ViewStore::digest`] streams
//!   the table and is independent of that order.
//! - Check that keyspaces support LWT: on ScyllaDB versions where tablet
//!   keyspaces do not, set [`ScyllaConfig::tablets`] to `false`.
//!
//! [`Expect::Absent`]: crate::Expect::Absent
//! [`Expect::Version`]: crate::Expect::Version
//! [`Expect::Any`]: crate::Expect::Any
//! [`Outcome::Duplicate`]: crate::Outcome::Duplicate
//! [`Outcome::Conflict`]: crate::Outcome::Conflict
//! [`Transaction::write_time`]: crate::Transaction::write_time
//! [`ViewStore::scan`]: crate::ViewStore::scan
//! [`ViewStore::digest`]: crate::ViewStore::digest

mod apply;
mod config;
mod error;
mod outbox;
mod promote;
mod read;
mod schema;
mod statements;

use ::scylla::client::execution_profile::ExecutionProfile;
use ::scylla::client::session::Session;
use ::scylla::client::session_builder::SessionBuilder;
use ::scylla::statement::{Consistency, SerialConsistency};
use async_trait::async_trait;
use uuid::Uuid;

pub use self::config::{ConsistencyLevel, Replication, ScyllaConfig, SerialConsistencyLevel};
use self::statements::Statements;
use crate::digest::TableDigest;
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Namespace, Row, RowKey, TableDef, validate_tables};
use crate::store::{ViewStore, find_table};
use crate::transaction::{ConsumedPosition, OutboxEntry, Outcome, Transaction};

/// A service's view in a ScyllaDB keyspace. Open it through
/// [`open_store`](crate::open_store) or [`ScyllaStore::open`].
pub struct ScyllaStore {
    session: Session,
    statements: Statements,
    keyspace: String,
    /// `scylla <uri> keyspace <ks>`, used in every error.
    location: String,
    namespace: Namespace,
    tables: Vec<TableDef>,
}

impl std::fmt::Debug for ScyllaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScyllaStore")
            .field("location", &self.location)
            .field("namespace", &self.namespace)
            .field("tables", &self.tables.len())
            .finish_non_exhaustive()
    }
}

impl ScyllaStore {
    /// Connects, creates the keyspace and tables if missing, applies pending
    /// migrations and prepares every statement.
    pub async fn open(
        config: &ScyllaConfig,
        service: &str,
        namespace: &Namespace,
        tables: &[TableDef],
    ) -> Result<Self, ViewError> {
        validate_tables(tables)?;
        let base = schema::keyspace_name(config, service, &Namespace::Live)?;
        let session = connect(config, &format!("scylla {} keyspace {base}", config.uri)).await?;
        // Which keyspace is live depends on the promotion pointer (promote.rs).
        let active = promote::active_shadow(&session, config, service).await?;
        let keyspace = match (namespace, active) {
            (Namespace::Live, None) => base,
            (Namespace::Live, Some(promoted)) => {
                schema::keyspace_name(config, service, &Namespace::Shadow(promoted))?
            }
            (Namespace::Shadow(name), Some(promoted)) if *name == promoted => {
                return Err(ViewError::InvalidName {
                    what: "namespace",
                    name: name.clone(),
                    reason: format!(
                        "shadow `{name}` was promoted and is the live copy of {service}; \
                         pick another shadow name"
                    ),
                });
            }
            (Namespace::Shadow(_), _) => schema::keyspace_name(config, service, namespace)?,
        };
        let location = format!("scylla {} keyspace {keyspace}", config.uri);
        schema::migrate(&session, config, &keyspace, tables, &location).await?;
        let serial = match config.serial_consistency {
            SerialConsistencyLevel::Serial => Consistency::Serial,
            SerialConsistencyLevel::LocalSerial => Consistency::LocalSerial,
        };
        let statements =
            statements::prepare_all(&session, &keyspace, tables, serial, &location).await?;
        tracing::debug!(store = %location, %namespace, tables = tables.len(), "opened ScyllaDB view store");
        Ok(Self {
            session,
            statements,
            keyspace,
            location,
            namespace: namespace.clone(),
            tables: tables.to_vec(),
        })
    }

    /// Makes shadow copy `shadow` of `service` the live copy by moving the
    /// active-namespace pointer (see `promote.rs`), after copying the live
    /// positions and pending outbox messages into it. Stores opened before
    /// keep their keyspace: promote only while no process of the service runs.
    pub async fn promote(
        config: &ScyllaConfig,
        service: &str,
        shadow: &str,
        tables: &[TableDef],
    ) -> Result<(), ViewError> {
        validate_tables(tables)?;
        let base = schema::keyspace_name(config, service, &Namespace::Live)?;
        let session = connect(config, &format!("scylla {} keyspace {base}", config.uri)).await?;
        promote::promote(&session, config, service, shadow, tables).await
    }

    /// The keyspace of this store.
    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    fn check_table(&self, table: &str) -> Result<(), ViewError> {
        find_table(&self.tables, table).map(|_| ())
    }
}

async fn connect(config: &ScyllaConfig, location: &str) -> Result<Session, ViewError> {
    let nodes = config.contact_points();
    if nodes.is_empty() {
        return Err(ViewError::InvalidConfig {
            reason: format!("scylla.uri {:?} names no host", config.uri),
        });
    }
    let profile = ExecutionProfile::builder()
        .consistency(match config.consistency {
            ConsistencyLevel::One => Consistency::One,
            ConsistencyLevel::LocalOne => Consistency::LocalOne,
            ConsistencyLevel::Quorum => Consistency::Quorum,
            ConsistencyLevel::LocalQuorum => Consistency::LocalQuorum,
            ConsistencyLevel::EachQuorum => Consistency::EachQuorum,
            ConsistencyLevel::All => Consistency::All,
        })
        .serial_consistency(Some(match config.serial_consistency {
            SerialConsistencyLevel::Serial => SerialConsistency::Serial,
            SerialConsistencyLevel::LocalSerial => SerialConsistency::LocalSerial,
        }))
        .request_timeout(Some(config.request_timeout))
        .build();
    let mut builder = SessionBuilder::new()
        .known_nodes(&nodes)
        .connection_timeout(config.connect_timeout)
        .default_execution_profile_handle(profile.into_handle());
    match (&config.username, &config.password) {
        (Some(user), Some(password)) => builder = builder.user(user, password),
        (None, None) => {}
        _ => {
            return Err(ViewError::InvalidConfig {
                reason: "scylla.username and scylla.password must be set together".into(),
            });
        }
    }
    builder.build().await.map_err(|e| ViewError::Unavailable {
        location: location.to_owned(),
        source: Box::new(e),
    })
}

/// A ScyllaDB apply is written when it returns, so a bulk load is the store
/// itself.
#[async_trait]
impl crate::store::BulkLoad for ScyllaStore {
    async fn finish(&self) -> Result<(), ViewError> {
        Ok(())
    }
}

#[async_trait]
impl ViewStore for ScyllaStore {
    fn describe(&self) -> &str {
        &self.location
    }

    fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    async fn apply(&self, tx: Transaction) -> Result<Outcome, ViewError> {
        self.apply_transaction(tx).await
    }

    async fn get(
        &self,
        table: &str,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Row>, ViewError> {
        self.check_table(table)?;
        self.get_row(table, partition, clustering).await
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
        self.partition_rows(table, partition, order, limit).await
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
        self.scan_rows(table, after, limit).await
    }

    async fn was_processed(&self, event_id: Uuid) -> Result<bool, ViewError> {
        self.is_processed(event_id).await
    }

    async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, ViewError> {
        self.pending_outbox(limit).await
    }

    async fn outbox_ack(&self, seqs: &[i64]) -> Result<(), ViewError> {
        self.ack_outbox(seqs).await
    }

    async fn positions(&self, group: &str) -> Result<Vec<ConsumedPosition>, ViewError> {
        self.group_positions(group).await
    }

    async fn digest(&self, table: &str) -> Result<TableDigest, ViewError> {
        self.check_table(table)?;
        self.table_digest(table).await
    }
}
