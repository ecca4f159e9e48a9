//! A small pool of SQLite connections driven from async code.
//!
//! SQLite calls block (disk I/O, waiting for another process's write lock),
//! so every call runs on tokio's blocking thread pool. A semaphore bounds how
//! many connections — and so blocking threads — one store uses; the idle list
//! is a `std::sync::Mutex` that is only ever held to push or pop, never across
//! an `.await` or a query.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::config::Synchronous;
use super::schema::Schema;
use crate::error::ViewError;

/// What every blocking job needs besides its connection.
#[derive(Debug)]
pub(crate) struct Shared {
    pub path: PathBuf,
    /// `sqlite <path>`, used in every error.
    pub location: String,
    pub busy_timeout: Duration,
    pub synchronous: Synchronous,
    pub schema: Schema,
}

impl Shared {
    /// Maps a rusqlite error to the crate's error, keeping the file in the message.
    pub fn error(&self, err: rusqlite::Error) -> ViewError {
        use rusqlite::ErrorCode;
        match &err {
            rusqlite::Error::SqliteFailure(failure, _)
                if matches!(
                    failure.code,
                    ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                ) =>
            {
                ViewError::Busy {
                    location: self.location.clone(),
                    waited: self.busy_timeout,
                }
            }
            rusqlite::Error::SqliteFailure(failure, _)
                if matches!(
                    failure.code,
                    ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase
                ) =>
            {
                ViewError::Corrupted {
                    location: self.location.clone(),
                    detail: err.to_string(),
                }
            }
            rusqlite::Error::SqliteFailure(failure, _)
                if matches!(
                    failure.code,
                    ErrorCode::CannotOpen
                        | ErrorCode::PermissionDenied
                        | ErrorCode::ReadOnly
                        | ErrorCode::SystemIoFailure
                        | ErrorCode::DiskFull
                ) =>
            {
                ViewError::Unavailable {
                    location: self.location.clone(),
                    source: Box::new(err),
                }
            }
            rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..) => ViewError::Corrupted {
                location: self.location.clone(),
                detail: err.to_string(),
            },
            _ => ViewError::Storage {
                location: self.location.clone(),
                source: Box::new(err),
            },
        }
    }

    /// Opens and configures one connection.
    pub(crate) fn connect(&self) -> Result<Connection, ViewError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn =
            Connection::open_with_flags(&self.path, flags).map_err(|e| ViewError::Unavailable {
                location: self.location.clone(),
                source: Box::new(e),
            })?;
        // The busy handler must be in place before anything that takes a lock,
        // including switching the journal mode while another process writes.
        conn.busy_timeout(self.busy_timeout)
            .map_err(|e| self.error(e))?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(|e| self.error(e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(ViewError::Unavailable {
                location: self.location.clone(),
                source: format!(
                    "could not switch to WAL journal mode (got {mode}); is the file on a network filesystem?"
                )
                .into(),
            });
        }
        conn.pragma_update(None, "synchronous", self.synchronous.pragma_value())
            .map_err(|e| self.error(e))?;
        conn.set_prepared_statement_cache_capacity(self.schema.statement_count() + 16);
        Ok(conn)
    }
}

#[derive(Debug)]
struct Inner {
    shared: Shared,
    idle: Mutex<Vec<Connection>>,
    permits: Arc<Semaphore>,
}

/// Cheap to clone; connections close when the last clone and job are gone.
#[derive(Debug, Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

impl Pool {
    pub fn new(shared: Shared, size: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                shared,
                idle: Mutex::new(Vec::with_capacity(size)),
                permits: Arc::new(Semaphore::new(size)),
            }),
        }
    }

    pub fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// Runs `job` with a pooled connection on a blocking thread.
    ///
    /// If the caller's future is dropped, the job still runs to completion
    /// (a started SQLite transaction commits or rolls back on its own).
    pub async fn run<T, F>(&self, job: F) -> Result<T, ViewError>
    where
        F: FnOnce(&mut Connection, &Shared) -> Result<T, ViewError> + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| ViewError::Worker {
                detail: "connection pool closed".into(),
            })?;
        let inner = Arc::clone(&self.inner);
        let handle = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = inner
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let mut conn = match pooled {
                Some(conn) => conn,
                None => inner.shared.connect()?,
            };
            let result = job(&mut conn, &inner.shared);
            // A connection left inside a transaction (only possible after a
            // failed COMMIT/ROLLBACK) is not reused.
            if conn.is_autocommit() {
                inner
                    .idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(conn);
            }
            result
        });
        handle.await.map_err(|e| ViewError::Worker {
            detail: format!(
                "SQLite worker for {} failed: {e}",
                self.inner.shared.location
            ),
        })?
    }
}
