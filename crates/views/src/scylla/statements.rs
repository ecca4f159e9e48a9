//! Every CQL statement of a store, prepared once at open.
//!
//! Unconditional statements are marked idempotent so the driver may retry and
//! speculate them; they carry no `USING TIMESTAMP` themselves because they run
//! inside a batch (or alone) whose timestamp `apply.rs` sets explicitly, which
//! is what makes a retry write identical cells. Conditional (LWT) statements
//! are not idempotent: a retried Paxos round can report "not applied" for a
//! write that the first attempt applied.

use std::collections::HashMap;

use ::scylla::client::session::Session;
use ::scylla::statement::Consistency;
use ::scylla::statement::prepared::PreparedStatement;
use futures::future::try_join_all;

use crate::error::ViewError;
use crate::model::TableDef;

/// Statements of one view table.
#[derive(Debug)]
pub(crate) struct TableStatements {
    pub get: PreparedStatement,
    pub version: PreparedStatement,
    /// Linearizable read of the version, to name the row of a failed LWT batch.
    pub version_serial: PreparedStatement,
    pub put: PreparedStatement,
    pub delete: PreparedStatement,
    pub insert_if_absent: PreparedStatement,
    pub update_if_version: PreparedStatement,
    pub delete_if_version: PreparedStatement,
    pub partition_asc: PreparedStatement,
    pub partition_desc: PreparedStatement,
    pub scan_first: PreparedStatement,
    pub scan_partition_rest: PreparedStatement,
    pub scan_after_token: PreparedStatement,
    pub all_rows: PreparedStatement,
}

/// Statements of the whole keyspace.
#[derive(Debug)]
pub(crate) struct Statements {
    pub tables: HashMap<&'static str, TableStatements>,
    /// A plain quorum read: the commit point's Paxos commit writes at the
    /// same consistency, so every completed commit is seen without the cost
    /// of a Paxos read on every event.
    pub processed_check: PreparedStatement,
    pub processed_commit: PreparedStatement,
    pub outbox_insert: PreparedStatement,
    pub outbox_shard_page: PreparedStatement,
    pub outbox_seq_group: PreparedStatement,
    pub outbox_delete: PreparedStatement,
    pub position_upsert: PreparedStatement,
    pub positions_of_group: PreparedStatement,
}

impl Statements {
    pub fn table(&self, name: &str) -> Result<&TableStatements, ViewError> {
        self.tables
            .get(name)
            .ok_or_else(|| ViewError::UnknownTable {
                table: name.to_owned(),
            })
    }
}

/// Prepares one statement.
async fn prepare(
    session: &Session,
    location: &str,
    cql: String,
    idempotent: bool,
    consistency: Option<Consistency>,
) -> Result<PreparedStatement, ViewError> {
    let mut statement = session.prepare(cql).await.map_err(|e| ViewError::Storage {
        location: location.to_owned(),
        source: Box::new(e),
    })?;
    statement.set_is_idempotent(idempotent);
    if let Some(consistency) = consistency {
        statement.set_consistency(consistency);
    }
    Ok(statement)
}

pub(crate) async fn prepare_all(
    session: &Session,
    keyspace: &str,
    tables: &[TableDef],
    serial: Consistency,
    location: &str,
) -> Result<Statements, ViewError> {
    let ks = keyspace;
    let p = |cql: String, idempotent: bool| prepare(session, location, cql, idempotent, None);
    let table_statements = try_join_all(tables.iter().map(|def| async move {
        let t = format!("{ks}.view_{}", def.name);
        let statements = TableStatements {
            get: p(
                format!("SELECT value, version FROM {t} WHERE pk = ? AND ck = ?"),
                true,
            )
            .await?,
            version: p(
                format!("SELECT version FROM {t} WHERE pk = ? AND ck = ?"),
                true,
            )
            .await?,
            version_serial: prepare(
                session,
                location,
                format!("SELECT version FROM {t} WHERE pk = ? AND ck = ?"),
                true,
                Some(serial),
            )
            .await?,
            put: p(
                format!("UPDATE {t} SET value = ?, version = ? WHERE pk = ? AND ck = ?"),
                true,
            )
            .await?,
            delete: p(format!("DELETE FROM {t} WHERE pk = ? AND ck = ?"), true).await?,
            insert_if_absent: p(
                format!(
                    "INSERT INTO {t} (pk, ck, value, version) VALUES (?, ?, ?, 1) IF NOT EXISTS"
                ),
                false,
            )
            .await?,
            update_if_version: p(
                format!(
                    "UPDATE {t} SET value = ?, version = ? WHERE pk = ? AND ck = ? IF version = ?"
                ),
                false,
            )
            .await?,
            delete_if_version: p(
                format!("DELETE FROM {t} WHERE pk = ? AND ck = ? IF version = ?"),
                false,
            )
            .await?,
            partition_asc: p(
                format!("SELECT ck, value, version FROM {t} WHERE pk = ? ORDER BY ck ASC LIMIT ?"),
                true,
            )
            .await?,
            partition_desc: p(
                format!("SELECT ck, value, version FROM {t} WHERE pk = ? ORDER BY ck DESC LIMIT ?"),
                true,
            )
            .await?,
            scan_first: p(
                format!("SELECT pk, ck, value, version FROM {t} LIMIT ?"),
                true,
            )
            .await?,
            scan_partition_rest: p(
                format!("SELECT pk, ck, value, version FROM {t} WHERE pk = ? AND ck > ? LIMIT ?"),
                true,
            )
            .await?,
            scan_after_token: p(
                format!(
                    "SELECT pk, ck, value, version FROM {t} WHERE token(pk) > token(?) LIMIT ?"
                ),
                true,
            )
            .await?,
            all_rows: p(format!("SELECT pk, ck, value FROM {t}"), true).await?,
        };
        Ok::<_, ViewError>((def.name, statements))
    }))
    .await?;

    Ok(Statements {
        tables: table_statements.into_iter().collect(),
        processed_check: p(
            format!("SELECT event_id FROM {ks}.processed_events WHERE event_id = ?"),
            true,
        )
        .await?,
        processed_commit: p(
            format!(
                "INSERT INTO {ks}.processed_events (event_id, processed_at_ms) VALUES (?, ?) \
                 IF NOT EXISTS"
            ),
            false,
        )
        .await?,
        outbox_insert: p(
            format!(
                "INSERT INTO {ks}.outbox (shard, seq, event_id, topic, msg_key, payload, headers) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)"
            ),
            true,
        )
        .await?,
        outbox_shard_page: p(
            format!(
                "SELECT seq, event_id, topic, msg_key, payload, headers FROM {ks}.outbox \
                 WHERE shard = ? LIMIT ?"
            ),
            true,
        )
        .await?,
        outbox_seq_group: p(
            format!(
                "SELECT seq, event_id, topic, msg_key, payload, headers FROM {ks}.outbox \
                 WHERE shard = ? AND seq = ?"
            ),
            true,
        )
        .await?,
        outbox_delete: p(
            format!("DELETE FROM {ks}.outbox WHERE shard = ? AND seq = ?"),
            true,
        )
        .await?,
        position_upsert: p(
            format!(
                "INSERT INTO {ks}.positions (grp, topic, part, next_offset) VALUES (?, ?, ?, ?)"
            ),
            true,
        )
        .await?,
        positions_of_group: p(
            format!("SELECT topic, part, next_offset FROM {ks}.positions WHERE grp = ?"),
            true,
        )
        .await?,
    })
}
