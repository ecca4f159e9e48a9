//! Promoting a shadow copy to the live one in the embedded backend.
//!
//! A shadow lives in the same SQLite file as the live copy (tables prefixed
//! `shadow_<name>__`), so the switch is one `BEGIN IMMEDIATE` transaction of
//! `DROP TABLE` + `ALTER TABLE … RENAME`: SQLite DDL is transactional, so
//! every reader sees either the old live tables or the rebuilt ones, never a
//! mix, and a failure half-way rolls everything back. Connections that other
//! processes hold open re-prepare their cached statements on the next call
//! (SQLite notices the schema change), so they read the new tables.
//!
//! What moves: the declared view tables and the processed-event records.
//! What stays: the live outbox (messages not yet relayed must still be
//! published; a shadow's outbox is never filled) and the live consumer
//! positions (the rebuild read up to exactly those positions).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::pool::Shared;
use crate::error::ViewError;
use crate::model::TableDef;

/// Replaces the live view tables and processed events with shadow `name`'s.
pub(crate) fn promote(
    conn: &mut Connection,
    shared: &Shared,
    name: &str,
    tables: &[TableDef],
) -> Result<(), ViewError> {
    let err = |e: rusqlite::Error| shared.error(e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    let label = format!("shadow:{name}");
    let known: Option<i64> = tx
        .query_row(
            "SELECT 1 FROM tributary_migrations WHERE namespace = ?1 LIMIT 1",
            params![label],
            |row| row.get(0),
        )
        .optional()
        .map_err(err)?;
    let prefix = format!("shadow_{name}__");
    let mut moved: Vec<String> = tables.iter().map(|t| format!("view_{}", t.name)).collect();
    moved.push("processed_events".to_owned());
    for table in &moved {
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                params![format!("{prefix}{table}")],
                |row| row.get(0),
            )
            .optional()
            .map_err(err)?;
        if known.is_none() || exists.is_none() {
            return Err(ViewError::NoSuchShadow {
                location: shared.location.clone(),
                shadow: name.to_owned(),
                detail: if known.is_none() {
                    "no such shadow copy".to_owned()
                } else {
                    format!("its table {prefix}{table} is missing")
                },
            });
        }
    }
    for table in &moved {
        tx.execute_batch(&format!(
            "DROP TABLE IF EXISTS {table}; ALTER TABLE {prefix}{table} RENAME TO {table};"
        ))
        .map_err(err)?;
    }
    tx.execute_batch(&format!(
        "DROP TABLE IF EXISTS {prefix}outbox; DROP TABLE IF EXISTS {prefix}positions;"
    ))
    .map_err(err)?;
    tx.execute(
        "DELETE FROM tributary_migrations WHERE namespace = ?1",
        params![label],
    )
    .map_err(err)?;
    tx.commit().map_err(err)
}
