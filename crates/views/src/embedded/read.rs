//! Reads and outbox/position bookkeeping on SQLite. Each function runs on a
//! blocking thread with a pooled connection (see `pool.rs`).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use uuid::Uuid;

use super::headers;
use super::pool::Shared;
use crate::digest::{DigestBuilder, TableDigest};
use crate::error::ViewError;
use crate::model::{ClusteringOrder, Row, RowKey};
use crate::transaction::{ConsumedPosition, OutboxEntry, OutboxMessage};

/// SQLite limits are i64; callers pass usize.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

pub(crate) fn get(
    conn: &mut Connection,
    shared: &Shared,
    table: &str,
    partition: &str,
    clustering: &str,
) -> Result<Option<Row>, ViewError> {
    let sql = shared.schema.table(table)?;
    conn.prepare_cached(&sql.get)
        .map_err(|e| shared.error(e))?
        .query_row(params![partition, clustering], |row| {
            Ok(Row {
                partition: partition.to_owned(),
                clustering: clustering.to_owned(),
                value: row.get(0)?,
                version: row.get(1)?,
            })
        })
        .optional()
        .map_err(|e| shared.error(e))
}

pub(crate) fn partition(
    conn: &mut Connection,
    shared: &Shared,
    table: &str,
    partition: &str,
    order: ClusteringOrder,
    limit: usize,
) -> Result<Vec<Row>, ViewError> {
    let sql = shared.schema.table(table)?;
    let text = match order {
        ClusteringOrder::Ascending => &sql.partition_asc,
        ClusteringOrder::Descending => &sql.partition_desc,
    };
    let mut statement = conn.prepare_cached(text).map_err(|e| shared.error(e))?;
    let rows = statement
        .query_map(params![partition, sql_limit(limit)], |row| {
            Ok(Row {
                partition: partition.to_owned(),
                clustering: row.get(0)?,
                value: row.get(1)?,
                version: row.get(2)?,
            })
        })
        .map_err(|e| shared.error(e))?;
    rows.collect::<Result<Vec<_>, _>>()
        .map_err(|e| shared.error(e))
}

pub(crate) fn scan(
    conn: &mut Connection,
    shared: &Shared,
    table: &str,
    after: Option<&RowKey>,
    limit: usize,
) -> Result<Vec<Row>, ViewError> {
    let sql = shared.schema.table(table)?;
    let to_row = |row: &rusqlite::Row<'_>| {
        Ok(Row {
            partition: row.get(0)?,
            clustering: row.get(1)?,
            value: row.get(2)?,
            version: row.get(3)?,
        })
    };
    let result = match after {
        None => conn.prepare_cached(&sql.scan_first).and_then(|mut s| {
            s.query_map(params![sql_limit(limit)], to_row)?
                .collect::<Result<Vec<_>, _>>()
        }),
        Some(key) => conn.prepare_cached(&sql.scan_after).and_then(|mut s| {
            s.query_map(
                params![key.partition, key.clustering, sql_limit(limit)],
                to_row,
            )?
            .collect::<Result<Vec<_>, _>>()
        }),
    };
    result.map_err(|e| shared.error(e))
}

pub(crate) fn was_processed(
    conn: &mut Connection,
    shared: &Shared,
    event_id: Uuid,
) -> Result<bool, ViewError> {
    conn.prepare_cached(&shared.schema.processed_exists)
        .and_then(|mut s| s.exists(params![event_id.as_bytes().as_slice()]))
        .map_err(|e| shared.error(e))
}

pub(crate) fn outbox_pending(
    conn: &mut Connection,
    shared: &Shared,
    limit: usize,
) -> Result<Vec<OutboxEntry>, ViewError> {
    type RawEntry = (i64, String, String, Vec<u8>, Vec<u8>, Vec<u8>);
    let raw: Vec<RawEntry> = conn
        .prepare_cached(&shared.schema.outbox_pending)
        .and_then(|mut s| {
            s.query_map(params![sql_limit(limit)], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| shared.error(e))?;
    raw.into_iter()
        .map(|(seq, topic, key, payload, header_bytes, event_id)| {
            let corrupted = |detail: String| ViewError::Corrupted {
                location: format!("{} outbox seq {seq}", shared.location),
                detail,
            };
            let headers = headers::decode(&header_bytes).map_err(corrupted)?;
            let event_id =
                Uuid::from_slice(&event_id).map_err(|e| corrupted(format!("event id: {e}")))?;
            Ok(OutboxEntry {
                seq,
                message: OutboxMessage {
                    topic,
                    key,
                    payload,
                    headers,
                    event_id,
                },
            })
        })
        .collect()
}

pub(crate) fn outbox_ack(
    conn: &mut Connection,
    shared: &Shared,
    seqs: &[i64],
) -> Result<(), ViewError> {
    let err = |e| shared.error(e);
    let db = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    {
        let mut delete = db
            .prepare_cached(&shared.schema.outbox_delete)
            .map_err(err)?;
        for seq in seqs {
            delete.execute(params![seq]).map_err(err)?;
        }
    }
    db.commit().map_err(err)
}

pub(crate) fn positions(
    conn: &mut Connection,
    shared: &Shared,
    group: &str,
) -> Result<Vec<ConsumedPosition>, ViewError> {
    conn.prepare_cached(&shared.schema.positions_of_group)
        .and_then(|mut s| {
            s.query_map(params![group], |row| {
                Ok(ConsumedPosition {
                    group: group.to_owned(),
                    topic: row.get(0)?,
                    partition: row.get(1)?,
                    offset: row.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()
        })
        .map_err(|e| shared.error(e))
}

/// Streams the whole table inside one read transaction, so the digest is of a
/// single consistent snapshot even while other processes write (WAL readers
/// see the database as of their first read).
pub(crate) fn digest(
    conn: &mut Connection,
    shared: &Shared,
    table: &str,
) -> Result<TableDigest, ViewError> {
    let sql = shared.schema.table(table)?;
    let err = |e| shared.error(e);
    let db = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(err)?;
    let mut builder = DigestBuilder::new();
    {
        let mut statement = db.prepare_cached(&sql.all_rows).map_err(err)?;
        let mut rows = statement.query([]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let partition: String = row.get(0).map_err(err)?;
            let clustering: String = row.get(1).map_err(err)?;
            let value: Vec<u8> = row.get(2).map_err(err)?;
            builder.add(&partition, &clustering, &value);
        }
    }
    db.commit().map_err(err)?;
    Ok(builder.finish())
}
