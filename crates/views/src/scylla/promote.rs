//! The active-namespace pointer: how a shadow copy becomes live on ScyllaDB.
//!
//! ScyllaDB cannot rename keyspaces or tables, and copying a whole view is
//! neither quick nor atomic. So the service's base keyspace
//! `<prefix>_<service>` holds one pointer row, `active_namespace` (`id = 0`):
//! absent means the base keyspace is live; `shadow = 'x'` means keyspace
//! `<prefix>_<service>__s_x` is. [`ScyllaStore::open`](super::ScyllaStore::open)
//! reads it for [`Namespace::Live`](crate::Namespace::Live), and promotion is a
//! single-row write of that pointer — atomic on its own, so every store opened
//! afterwards sees the new copy and none sees a mix. Stores already open keep
//! the keyspace they opened, which is why promotion is only done while no
//! process of the service runs (the caller checks its consumer group).
//!
//! Before the pointer moves, the live copy's consumer positions and pending
//! outbox messages are copied into the shadow (its own are emptied first): a
//! rebuild reads up to the live positions and never fills its outbox, and
//! messages not yet relayed must still be published. The previous keyspace is
//! left in place (a rollback is one more pointer write; drop it by hand with
//! `DROP KEYSPACE` once no longer wanted).

use std::collections::HashSet;

use ::scylla::{
    client::session::Session, deserialize::row::DeserializeRow, serialize::row::SerializeRow,
};
use futures::StreamExt;
use uuid::Uuid;

use super::config::ScyllaConfig;
use super::error::{execution_error, shape_error};
use super::schema::{keyspace_name, migrate};
use crate::error::{BoxError, ViewError};
use crate::model::{Namespace, TableDef};

/// Headers column as stored (an empty list reads back as null).
type Headers = Option<Vec<(String, Vec<u8>)>>;

/// Creates the base keyspace and the pointer table if missing and returns the
/// promoted shadow name, if any.
pub(crate) async fn active_shadow(
    session: &Session,
    config: &ScyllaConfig,
    service: &str,
) -> Result<Option<String>, ViewError> {
    let base = keyspace_name(config, service, &Namespace::Live)?;
    let location = format!("scylla {} keyspace {base}", config.uri);
    migrate(session, config, &base, &[], &location).await?;
    session
        .query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS {base}.active_namespace (id int PRIMARY KEY, shadow text)"
            ),
            (),
        )
        .await
        .map_err(|e| execution_error(&location, e))?;
    session
        .await_schema_agreement()
        .await
        .map_err(|e| ViewError::Migration {
            location: location.clone(),
            source: Box::new(e),
        })?;
    let rows = session
        .query_unpaged(
            format!("SELECT shadow FROM {base}.active_namespace WHERE id = 0"),
            (),
        )
        .await
        .map_err(|e| execution_error(&location, e))?
        .into_rows_result()
        .map_err(|e| shape_error(&location, e))?;
    let active = rows
        .maybe_first_row::<(Option<String>,)>()
        .map_err(|e| shape_error(&location, e))?
        .and_then(|(shadow,)| shadow)
        .filter(|s| !s.is_empty());
    Ok(active)
}

/// Copies positions and pending outbox messages from the live keyspace into
/// shadow `shadow`, then points the service at it.
pub(crate) async fn promote(
    session: &Session,
    config: &ScyllaConfig,
    service: &str,
    shadow: &str,
    tables: &[TableDef],
) -> Result<(), ViewError> {
    let shadow_ns = Namespace::shadow(shadow)?;
    let base = keyspace_name(config, service, &Namespace::Live)?;
    let target = keyspace_name(config, service, &shadow_ns)?;
    let location = format!("scylla {} keyspace {target}", config.uri);
    let no_such = |detail: String| ViewError::NoSuchShadow {
        location: location.clone(),
        shadow: shadow.to_owned(),
        detail,
    };
    let active = active_shadow(session, config, service).await?;
    if active.as_deref() == Some(shadow) {
        return Err(no_such("it is already the live copy".into()));
    }
    let live = match &active {
        Some(name) => keyspace_name(config, service, &Namespace::Shadow(name.clone()))?,
        None => base.clone(),
    };

    let existing = table_names(session, &target, &location).await?;
    let mut needed: Vec<String> = tables.iter().map(|t| format!("view_{}", t.name)).collect();
    needed.extend(["processed_events", "outbox", "positions"].map(String::from));
    if existing.is_empty() {
        return Err(no_such("no such shadow copy".into()));
    }
    if let Some(missing) = needed.iter().find(|t| !existing.contains(t.as_str())) {
        return Err(no_such(format!("its table {target}.{missing} is missing")));
    }

    for table in ["positions", "outbox"] {
        session
            .query_unpaged(format!("TRUNCATE {target}.{table}"), ())
            .await
            .map_err(|e| execution_error(&location, e))?;
    }
    copy_positions(session, &live, &target, &location).await?;
    copy_outbox(session, &live, &target, &location).await?;
    // The commit point: one row, atomic.
    let point = session
        .prepare(format!(
            "INSERT INTO {base}.active_namespace (id, shadow) VALUES (0, ?)"
        ))
        .await
        .map_err(|e| shape_error(&location, e))?;
    session
        .execute_unpaged(&point, (shadow,))
        .await
        .map_err(|e| execution_error(&location, e))?;
    tracing::info!(service, from = %live, to = %target, "promoted a shadow copy to live");
    Ok(())
}

/// Tables of `keyspace` (empty when the keyspace does not exist).
async fn table_names(
    session: &Session,
    keyspace: &str,
    location: &str,
) -> Result<HashSet<String>, ViewError> {
    let query = session
        .prepare("SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?")
        .await
        .map_err(|e| shape_error(location, e))?;
    let rows = session
        .execute_unpaged(&query, (keyspace,))
        .await
        .map_err(|e| execution_error(location, e))?
        .into_rows_result()
        .map_err(|e| shape_error(location, e))?;
    rows.rows::<(String,)>()
        .map_err(|e| shape_error(location, e))?
        .map(|row| row.map(|(t,)| t).map_err(|e| shape_error(location, e)))
        .collect()
}

async fn copy_positions(
    session: &Session,
    from: &str,
    to: &str,
    location: &str,
) -> Result<(), ViewError> {
    copy_rows::<(String, String, i32, i64)>(
        session,
        (from, to),
        "positions",
        "grp, topic, part, next_offset",
        location,
    )
    .await
}

async fn copy_outbox(
    session: &Session,
    from: &str,
    to: &str,
    location: &str,
) -> Result<(), ViewError> {
    copy_rows::<(i32, i64, Uuid, String, String, Vec<u8>, Headers)>(
        session,
        (from, to),
        "outbox",
        "shard, seq, event_id, topic, msg_key, payload, headers",
        location,
    )
    .await
}

/// Copies every row of `table` from keyspace `from` to keyspace `to`,
/// reading `columns` as `R` and writing them back unchanged.
async fn copy_rows<R>(
    session: &Session,
    (from, to): (&str, &str),
    table: &str,
    columns: &str,
    location: &str,
) -> Result<(), ViewError>
where
    R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata> + SerializeRow,
{
    let markers = vec!["?"; columns.split(',').count()].join(", ");
    let insert = session
        .prepare(format!(
            "INSERT INTO {to}.{table} ({columns}) VALUES ({markers})"
        ))
        .await
        .map_err(|e| shape_error(location, e))?;
    let storage = |e: BoxError| ViewError::Storage {
        location: location.to_owned(),
        source: e,
    };
    let mut rows = session
        .query_iter(format!("SELECT {columns} FROM {from}.{table}"), ())
        .await
        .map_err(|e| storage(Box::new(e)))?
        .rows_stream::<R>()
        .map_err(|e| shape_error(location, e))?;
    while let Some(row) = rows.next().await {
        let row = row.map_err(|e| storage(Box::new(e)))?;
        session
            .execute_unpaged(&insert, row)
            .await
            .map_err(|e| execution_error(location, e))?;
    }
    Ok(())
}
