//! Bulk loads on SQLite: many `apply` calls per SQLite transaction.
//!
//! A rebuild applies tens of thousands of small transactions, one after
//! another, into a shadow copy no other process writes. Committing each one
//! (and handing each call to the blocking pool) costs far more than the
//! writes themselves. A bulk load instead keeps one connection with one
//! transaction open: each `apply` runs inside a savepoint of it (so a failed
//! check or an error still applies nothing of that transaction), reads on
//! the same connection see every earlier apply, and the transaction commits
//! every [`COMMIT_EVERY`] applies, after [`HOLD_AT_MOST`], and on
//! [`BulkLoad::finish`].
//!
//! The write lock is held while a transaction is open, so other writers of
//! the same file (the live service, if it runs during a rebuild) wait at
//! most about [`HOLD_AT_MOST`] plus one apply.
//!
//! Calls run on the calling task's thread: inside an open transaction they
//! are CPU-bound microseconds on pages in memory (this connection holds the
//! write lock; WAL readers never wait). Only taking the lock at the start of
//! a group (up to `busy_timeout`) and committing can wait, and those two go
//! through `block_in_place` on a multi-threaded runtime.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::runtime::{Handle, RuntimeFlavor};
use uuid::Uuid;

use super::pool::Shared;
use super::{EmbeddedStore, apply, read};
use crate::digest::TableDigest;
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Namespace, Row, RowKey, TableDef};
use crate::store::{BulkLoad, ViewStore};
use crate::transaction::{ConsumedPosition, OutboxEntry, Outcome, Transaction};

/// Applies per SQLite transaction.
pub(crate) const COMMIT_EVERY: usize = 1_000;

/// Longest a transaction stays open (holding the file's write lock).
pub(crate) const HOLD_AT_MOST: Duration = Duration::from_millis(50);

/// When an open transaction commits without being asked to.
#[derive(Debug, Clone, Copy)]
struct Limits {
    commit_every: usize,
    hold_at_most: Duration,
}

/// A bulk load into one namespace of an embedded store.
#[derive(Debug)]
pub(crate) struct EmbeddedBulkLoad {
    /// The store as opened normally: schema, tables and the shared settings.
    store: EmbeddedStore,
    session: Mutex<Session>,
    limits: Limits,
}

#[derive(Debug)]
struct Session {
    conn: Connection,
    /// When the open transaction began; `None` outside one.
    open_since: Option<Instant>,
    applied: usize,
    /// Set when a commit failed: the applies it held are lost, so every
    /// later call fails too rather than build on a gap.
    lost: Option<String>,
}

impl EmbeddedBulkLoad {
    pub(crate) fn new(store: EmbeddedStore) -> Result<Self, ViewError> {
        let limits = Limits {
            commit_every: COMMIT_EVERY,
            hold_at_most: HOLD_AT_MOST,
        };
        Self::with_limits(store, limits)
    }

    fn with_limits(store: EmbeddedStore, limits: Limits) -> Result<Self, ViewError> {
        let shared = store.pool.shared();
        let conn = shared.connect()?;
        tune_for_bulk(&conn).map_err(|e| shared.error(e))?;
        Ok(Self {
            store,
            limits,
            session: Mutex::new(Session {
                conn,
                open_since: None,
                applied: 0,
                lost: None,
            }),
        })
    }

    /// Runs `job` on the session's connection, on this thread (see the
    /// module docs). Jobs that may wait on the file lock or the disk wrap
    /// those steps in [`may_block`].
    fn with_session<T>(
        &self,
        job: impl FnOnce(&mut Session, &Shared) -> Result<T, ViewError>,
    ) -> Result<T, ViewError> {
        let mut session = self.session.lock().unwrap_or_else(PoisonError::into_inner);
        let shared = self.store.pool.shared();
        if let Some(cause) = &session.lost {
            return Err(ViewError::Storage {
                location: shared.location.clone(),
                source: format!(
                    "an earlier commit of this bulk load failed ({cause}), losing the applies \
                     it held"
                )
                .into(),
            });
        }
        job(&mut session, shared)
    }

    /// Runs a read on the session's connection, which sees every apply so
    /// far. WAL readers never wait for a lock.
    fn read<T>(
        &self,
        job: impl FnOnce(&mut Connection, &Shared) -> Result<T, ViewError>,
    ) -> Result<T, ViewError> {
        self.with_session(|session, shared| job(&mut session.conn, shared))
    }

    /// Commits, then runs `job`, for calls that open a transaction of their own.
    fn committed<T>(
        &self,
        job: impl FnOnce(&mut Connection, &Shared) -> Result<T, ViewError>,
    ) -> Result<T, ViewError> {
        self.with_session(|session, shared| {
            session.commit(shared)?;
            may_block(|| job(&mut session.conn, shared))
        })
    }
}

/// Settings of the bulk load's own connection, for large transactions of
/// small savepoints (the file's other connections keep the defaults):
/// - savepoint journals in memory: each apply's savepoint copies the pages
///   it changes into a sub-journal, by default a temporary file;
/// - a 64 MiB page cache: with SQLite's default 2 MiB, a transaction of a
///   thousand applies spills dirty pages to the WAL before it commits, and
///   rereads them.
fn tune_for_bulk(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", BULK_CACHE_KIB.to_string())
}

/// `PRAGMA cache_size` of the bulk load's connection (negative: KiB).
const BULK_CACHE_KIB: i64 = -65_536;

/// Runs `f`, which may wait for another process's write lock (up to the busy
/// timeout) or for the disk, through `block_in_place` on a multi-threaded
/// runtime so the worker's other tasks move elsewhere meanwhile. Once per
/// group of applies, not per call: `block_in_place` itself hands the worker
/// over to another thread, which costs about as much as a blocking-pool hop.
fn may_block<T>(f: impl FnOnce() -> T) -> T {
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Session {
    fn begin(&mut self, shared: &Shared) -> Result<(), ViewError> {
        if self.open_since.is_none() {
            may_block(|| self.conn.execute_batch("BEGIN IMMEDIATE"))
                .map_err(|e| shared.error(e))?;
            self.open_since = Some(Instant::now());
        }
        Ok(())
    }

    fn commit(&mut self, shared: &Shared) -> Result<(), ViewError> {
        if self.open_since.take().is_some() {
            self.applied = 0;
            if let Err(e) = may_block(|| self.conn.execute_batch("COMMIT")) {
                // What was not committed is lost: say so now and on every
                // later call.
                let _ = self.conn.execute_batch("ROLLBACK");
                let error = shared.error(e);
                self.lost = Some(error.to_string());
                return Err(error);
            }
        }
        Ok(())
    }

    fn apply(
        &mut self,
        shared: &Shared,
        limits: Limits,
        tx: &Transaction,
    ) -> Result<Outcome, ViewError> {
        self.begin(shared)?;
        let outcome = {
            // Dropped without commit, a savepoint rolls back to where it began.
            let savepoint = self.conn.savepoint().map_err(|e| shared.error(e))?;
            let outcome = apply::apply_within(&savepoint, shared, tx)?;
            if outcome == Outcome::Applied {
                savepoint.commit().map_err(|e| shared.error(e))?;
            }
            outcome
        };
        if outcome == Outcome::Applied {
            self.applied += 1;
        }
        let held = self.open_since.map_or(Duration::ZERO, |t| t.elapsed());
        if self.applied >= limits.commit_every || held >= limits.hold_at_most {
            self.commit(shared)?;
        }
        Ok(outcome)
    }
}

#[async_trait]
impl BulkLoad for EmbeddedBulkLoad {
    async fn finish(&self) -> Result<(), ViewError> {
        self.with_session(|session, shared| session.commit(shared))
    }
}

#[async_trait]
impl ViewStore for EmbeddedBulkLoad {
    fn describe(&self) -> &str {
        self.store.describe()
    }

    fn namespace(&self) -> &Namespace {
        self.store.namespace()
    }

    fn tables(&self) -> &[TableDef] {
        self.store.tables()
    }

    async fn apply(&self, tx: Transaction) -> Result<Outcome, ViewError> {
        tx.validate(self.store.tables())?;
        let limits = self.limits;
        self.with_session(|session, shared| session.apply(shared, limits, &tx))
    }

    async fn get(
        &self,
        table: &str,
        partition: &str,
        clustering: &str,
    ) -> Result<Option<Row>, ViewError> {
        self.store.check_table(table)?;
        self.read(|conn, shared| read::get(conn, shared, table, partition, clustering))
    }

    async fn partition(
        &self,
        table: &str,
        partition: &str,
        order: ClusteringOrder,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        self.store.check_table(table)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(|conn, shared| read::partition(conn, shared, table, partition, order, limit))
    }

    async fn scan(
        &self,
        table: &str,
        after: Option<&RowKey>,
        limit: usize,
    ) -> Result<Vec<Row>, ViewError> {
        self.store.check_table(table)?;
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(|conn, shared| read::scan(conn, shared, table, after, limit))
    }

    async fn was_processed(&self, event_id: Uuid) -> Result<bool, ViewError> {
        self.read(|conn, shared| read::was_processed(conn, shared, event_id))
    }

    async fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxEntry>, ViewError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.read(|conn, shared| read::outbox_pending(conn, shared, limit))
    }

    async fn outbox_ack(&self, seqs: &[i64]) -> Result<(), ViewError> {
        if seqs.is_empty() {
            return Ok(());
        }
        self.committed(|conn, shared| read::outbox_ack(conn, shared, seqs))
    }

    async fn positions(&self, group: &str) -> Result<Vec<ConsumedPosition>, ViewError> {
        self.read(|conn, shared| read::positions(conn, shared, group))
    }

    async fn digest(&self, table: &str) -> Result<TableDigest, ViewError> {
        self.store.check_table(table)?;
        self.committed(|conn, shared| read::digest(conn, shared, table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClusteringOrder;
    use crate::transaction::Expect;

    const ITEMS: TableDef = TableDef {
        name: "items",
        doc: "test: partition = owner, clustering = item",
    };

    fn put(item: usize) -> Transaction {
        Transaction::for_event(Uuid::new_v4()).put(
            &ITEMS,
            "owner",
            format!("{item:03}"),
            item.to_string().into_bytes(),
            Expect::Absent,
        )
    }

    async fn rows(store: &dyn ViewStore) -> usize {
        store
            .partition(ITEMS.name, "owner", ClusteringOrder::Ascending, 1_000)
            .await
            .expect("partition")
            .len()
    }

    /// A loader that commits every three applies, and never for time.
    async fn loader_and_reader(dir: &std::path::Path) -> (EmbeddedBulkLoad, EmbeddedStore) {
        let config = crate::EmbeddedConfig::default();
        let shadow = Namespace::shadow("bulk").expect("namespace");
        let open = || EmbeddedStore::open(dir, &config, "svc", &shadow, &[ITEMS]);
        let limits = Limits {
            commit_every: 3,
            hold_at_most: Duration::from_secs(3_600),
        };
        let loader =
            EmbeddedBulkLoad::with_limits(open().await.expect("store"), limits).expect("bulk load");
        (loader, open().await.expect("second store"))
    }

    #[tokio::test]
    async fn applies_commit_in_groups_and_on_finish() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (loader, other) = loader_and_reader(dir.path()).await;
        for item in 0..2 {
            loader.apply(put(item)).await.expect("apply");
        }
        assert_eq!(rows(&loader).await, 2, "the loader reads its own applies");
        assert_eq!(rows(&other).await, 0, "nothing committed yet");
        loader.apply(put(2)).await.expect("apply");
        assert_eq!(rows(&other).await, 3, "the third apply commits the group");
        loader.apply(put(3)).await.expect("apply");
        assert_eq!(rows(&other).await, 3);
        loader.finish().await.expect("finish");
        assert_eq!(rows(&other).await, 4);
    }

    #[tokio::test]
    async fn a_conflict_neither_counts_nor_commits() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (loader, other) = loader_and_reader(dir.path()).await;
        loader.apply(put(0)).await.expect("apply");
        loader.apply(put(1)).await.expect("apply");
        let outcome = loader.apply(put(1)).await.expect("apply");
        assert!(matches!(outcome, Outcome::Conflict { .. }), "{outcome:?}");
        assert_eq!(
            rows(&other).await,
            0,
            "two applies are not a group of three"
        );
    }

    #[tokio::test]
    async fn dropped_without_finish_it_keeps_only_what_it_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (loader, other) = loader_and_reader(dir.path()).await;
        for item in 0..5 {
            loader.apply(put(item)).await.expect("apply");
        }
        drop(loader);
        assert_eq!(rows(&other).await, 3);
    }
}
