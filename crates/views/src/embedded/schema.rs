//! Physical layout of the embedded store and its migrations.
//!
//! One SQLite file per service holds, per namespace (`prefix` = "" for the
//! live copy, `shadow_<name>__` for a rebuild copy):
//! - `<prefix>view_<table>`: one `WITHOUT ROWID` table per declared view table,
//!   clustered on `(pk, ck)` exactly like a ScyllaDB partition;
//! - `<prefix>processed_events`: event ids already applied;
//! - `<prefix>outbox`: messages to publish, `seq` from `AUTOINCREMENT` so a
//!   sequence number is never reused even after the newest row is acked;
//! - `<prefix>positions`: consumer positions per group/topic/partition.
//!
//! `tributary_migrations` records which numbered migrations each namespace
//! has applied. Migrations and table creation run inside `BEGIN IMMEDIATE`,
//! so replicas starting at the same time apply them once.
//!
//! All SQL is built once per store and run through rusqlite's prepared
//! statement cache, so `apply` re-parses nothing.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::pool::Shared;
use crate::error::ViewError;
use crate::model::{Namespace, TableDef};

/// Statements for one view table.
#[derive(Debug)]
pub(crate) struct TableSql {
    pub get: String,
    pub version: String,
    pub upsert: String,
    pub delete: String,
    pub partition_asc: String,
    pub partition_desc: String,
    pub scan_first: String,
    pub scan_after: String,
    pub all_rows: String,
}

/// Every statement of one namespace.
#[derive(Debug)]
pub(crate) struct Schema {
    prefix: String,
    /// Label stored in `tributary_migrations` ("live", "shadow:<name>").
    namespace_label: String,
    tables: HashMap<&'static str, TableSql>,
    pub processed_exists: String,
    pub processed_insert: String,
    pub outbox_insert: String,
    pub outbox_pending: String,
    pub outbox_delete: String,
    pub position_upsert: String,
    pub positions_of_group: String,
}

impl Schema {
    pub fn new(namespace: &Namespace, tables: &[TableDef]) -> Self {
        let (prefix, namespace_label) = match namespace {
            Namespace::Live => (String::new(), "live".to_owned()),
            Namespace::Shadow(name) => (format!("shadow_{name}__"), format!("shadow:{name}")),
        };
        let p = &prefix;
        let tables = tables
            .iter()
            .map(|def| {
                let t = format!("{p}view_{}", def.name);
                let sql = TableSql {
                    get: format!("SELECT value, version FROM {t} WHERE pk = ?1 AND ck = ?2"),
                    version: format!("SELECT version FROM {t} WHERE pk = ?1 AND ck = ?2"),
                    upsert: format!(
                        "INSERT INTO {t} (pk, ck, value, version) VALUES (?1, ?2, ?3, ?4) \
                         ON CONFLICT (pk, ck) DO UPDATE SET value = excluded.value, version = excluded.version"
                    ),
                    delete: format!("DELETE FROM {t} WHERE pk = ?1 AND ck = ?2"),
                    partition_asc: format!(
                        "SELECT ck, value, version FROM {t} WHERE pk = ?1 ORDER BY ck ASC LIMIT ?2"
                    ),
                    partition_desc: format!(
                        "SELECT ck, value, version FROM {t} WHERE pk = ?1 ORDER BY ck DESC LIMIT ?2"
                    ),
                    scan_first: format!(
                        "SELECT pk, ck, value, version FROM {t} ORDER BY pk, ck LIMIT ?1"
                    ),
                    scan_after: format!(
                        "SELECT pk, ck, value, version FROM {t} WHERE (pk, ck) > (?1, ?2) \
                         ORDER BY pk, ck LIMIT ?3"
                    ),
                    all_rows: format!("SELECT pk, ck, value FROM {t}"),
                };
                (def.name, sql)
            })
            .collect();
        Self {
            processed_exists: format!("SELECT 1 FROM {p}processed_events WHERE event_id = ?1"),
            processed_insert: format!(
                "INSERT INTO {p}processed_events (event_id, processed_at_ms) VALUES (?1, ?2)"
            ),
            outbox_insert: format!(
                "INSERT INTO {p}outbox (topic, msg_key, payload, headers, event_id, created_at_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ),
            outbox_pending: format!(
                "SELECT seq, topic, msg_key, payload, headers, event_id FROM {p}outbox \
                 ORDER BY seq LIMIT ?1"
            ),
            outbox_delete: format!("DELETE FROM {p}outbox WHERE seq = ?1"),
            position_upsert: format!(
                "INSERT INTO {p}positions (grp, topic, part, next_offset) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (grp, topic, part) DO UPDATE SET next_offset = excluded.next_offset"
            ),
            positions_of_group: format!(
                "SELECT topic, part, next_offset FROM {p}positions WHERE grp = ?1 ORDER BY topic, part"
            ),
            prefix,
            namespace_label,
            tables,
        }
    }

    /// The statements of a declared table.
    pub fn table(&self, name: &str) -> Result<&TableSql, ViewError> {
        self.tables
            .get(name)
            .ok_or_else(|| ViewError::UnknownTable {
                table: name.to_owned(),
            })
    }

    /// Upper bound of distinct statements, to size the statement cache.
    pub fn statement_count(&self) -> usize {
        self.tables.len() * 9 + 7
    }

    fn create_view_table(&self, name: &str) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {}view_{name} (\
             pk TEXT NOT NULL, ck TEXT NOT NULL, value BLOB NOT NULL, version INTEGER NOT NULL, \
             PRIMARY KEY (pk, ck)) WITHOUT ROWID",
            self.prefix
        )
    }
}

/// A numbered, append-only schema change of one namespace.
struct Migration {
    version: i64,
    description: &'static str,
    statements: fn(prefix: &str) -> Vec<String>,
}

/// Never edit an entry once released; append a new one.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "processed events, outbox and consumer positions",
    statements: |p| {
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {p}processed_events (\
                 event_id BLOB NOT NULL PRIMARY KEY, processed_at_ms INTEGER NOT NULL) WITHOUT ROWID"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {p}outbox (\
                 seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, msg_key TEXT NOT NULL, \
                 payload BLOB NOT NULL, headers BLOB NOT NULL, event_id BLOB NOT NULL, \
                 created_at_ms INTEGER NOT NULL)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {p}positions (\
                 grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL, \
                 next_offset INTEGER NOT NULL, PRIMARY KEY (grp, topic, part)) WITHOUT ROWID"
            ),
        ]
    },
}];

const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS tributary_migrations (\
     namespace TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL, \
     applied_at_ms INTEGER NOT NULL, PRIMARY KEY (namespace, version)) WITHOUT ROWID";

/// Brings the namespace's schema up to date and creates missing view tables.
pub(crate) fn migrate(
    conn: &mut Connection,
    shared: &Shared,
    tables: &[TableDef],
) -> Result<(), ViewError> {
    let schema = &shared.schema;
    let failed = |e: rusqlite::Error| match shared.error(e) {
        busy @ ViewError::Busy { .. } => busy,
        other => ViewError::Migration {
            location: shared.location.clone(),
            source: Box::new(other),
        },
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    tx.execute(MIGRATIONS_TABLE, []).map_err(failed)?;
    let current: i64 = tx
        .query_row(
            "SELECT MAX(version) FROM tributary_migrations WHERE namespace = ?1",
            params![schema.namespace_label],
            |row| row.get::<_, Option<i64>>(0),
        )
        .optional()
        .map_err(failed)?
        .flatten()
        .unwrap_or(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(ViewError::Migration {
            location: shared.location.clone(),
            source: format!(
                "namespace {} is at schema version {current}, newer than this build's {latest}; \
                 upgrade tributary",
                schema.namespace_label
            )
            .into(),
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in (migration.statements)(&schema.prefix) {
            tx.execute(&statement, []).map_err(failed)?;
        }
        tx.execute(
            "INSERT INTO tributary_migrations (namespace, version, description, applied_at_ms) \
             VALUES (?1, ?2, ?3, ?4)",
            params![
                schema.namespace_label,
                migration.version,
                migration.description,
                now_ms()
            ],
        )
        .map_err(failed)?;
    }
    for table in tables {
        tx.execute(&schema.create_view_table(table.name), [])
            .map_err(failed)?;
    }
    tx.commit().map_err(failed)
}

/// Wall-clock milliseconds for bookkeeping columns (never used for ordering).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
