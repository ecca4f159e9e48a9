//! `apply` on SQLite: one `BEGIN IMMEDIATE` transaction.
//!
//! `IMMEDIATE` takes the file's write lock before the first read, so the
//! processed-event check and every expectation are evaluated under the same
//! lock that protects the writes: replicas in other processes serialize here
//! (waiting up to the busy timeout), and a failed check rolls back everything.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::headers;
use super::pool::Shared;
use super::schema::now_ms;
use crate::error::ViewError;
use crate::transaction::{Outcome, Transaction, Write};

pub(crate) fn apply(
    conn: &mut Connection,
    shared: &Shared,
    tx: &Transaction,
) -> Result<Outcome, ViewError> {
    // Dropping `db` without commit rolls back: an error applies nothing.
    let db = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| shared.error(e))?;
    let outcome = apply_within(&db, shared, tx)?;
    if outcome == Outcome::Applied {
        db.commit().map_err(|e| shared.error(e))?;
    }
    Ok(outcome)
}

/// Checks and writes `tx` inside a transaction or savepoint the caller
/// opened. Writes are made as their expectations pass, so the caller
/// commits only on [`Outcome::Applied`] and rolls back on any other outcome
/// or an error.
pub(crate) fn apply_within(
    db: &Connection,
    shared: &Shared,
    tx: &Transaction,
) -> Result<Outcome, ViewError> {
    let err = |e| shared.error(e);
    let schema = &shared.schema;
    if let Some(event_id) = tx.event_id {
        let seen = db
            .prepare_cached(&schema.processed_exists)
            .map_err(err)?
            .exists(params![event_id.as_bytes().as_slice()])
            .map_err(err)?;
        if seen {
            return Ok(Outcome::Duplicate);
        }
    }

    for write in &tx.writes {
        let sql = schema.table(write.table())?;
        let current: Option<i64> = db
            .prepare_cached(&sql.version)
            .map_err(err)?
            .query_row(params![write.partition(), write.clustering()], |row| {
                row.get(0)
            })
            .optional()
            .map_err(err)?;
        if !write.expect().is_met_by(current) {
            return Ok(write.conflict());
        }
        match write {
            Write::Put {
                partition,
                clustering,
                value,
                ..
            } => {
                let next = current.unwrap_or(0).saturating_add(1);
                db.prepare_cached(&sql.upsert)
                    .map_err(err)?
                    .execute(params![partition, clustering, value, next])
                    .map_err(err)?;
            }
            Write::Delete {
                partition,
                clustering,
                ..
            } => {
                if current.is_some() {
                    db.prepare_cached(&sql.delete)
                        .map_err(err)?
                        .execute(params![partition, clustering])
                        .map_err(err)?;
                }
            }
        }
    }

    let now = now_ms();
    if !tx.outbox.is_empty() {
        let mut insert = db.prepare_cached(&schema.outbox_insert).map_err(err)?;
        for message in &tx.outbox {
            insert
                .execute(params![
                    message.topic,
                    message.key,
                    message.payload,
                    headers::encode(&message.headers),
                    message.event_id.as_bytes().as_slice(),
                    now
                ])
                .map_err(err)?;
        }
    }

    if let Some(position) = &tx.position {
        db.prepare_cached(&schema.position_upsert)
            .map_err(err)?
            .execute(params![
                position.group,
                position.topic,
                position.partition,
                position.offset
            ])
            .map_err(err)?;
    }

    if let Some(event_id) = tx.event_id {
        db.prepare_cached(&schema.processed_insert)
            .map_err(err)?
            .execute(params![event_id.as_bytes().as_slice(), now])
            .map_err(err)?;
    }

    Ok(Outcome::Applied)
}
