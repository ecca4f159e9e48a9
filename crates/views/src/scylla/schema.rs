//! Keyspace naming and CQL migrations of the ScyllaDB backend.
//!
//! Layout of keyspace `<prefix>_<service>` (a shadow copy for rebuilds lives in
//! `<prefix>_<service>__s_<name>` with the same tables):
//! - `view_<table>`: `PRIMARY KEY ((pk), ck)`, `ck` ascending — one CQL
//!   partition per view partition, so partition reads are single-replica-set
//!   range reads and a per-partition LWT batch is possible;
//! - `processed_events`: `event_id` primary key, written with `IF NOT EXISTS`;
//! - `outbox`: `PRIMARY KEY ((shard), seq, event_id)` over 16 shards (see
//!   `outbox.rs`);
//! - `positions`: `PRIMARY KEY ((grp), topic, part)`, one partition per group;
//! - `schema_migrations`: applied migration numbers.
//!
//! Every DDL statement is `IF NOT EXISTS`, so replicas starting together and
//! re-runs after a partial failure are harmless; the driver waits for schema
//! agreement after each one.

use std::time::{SystemTime, UNIX_EPOCH};

use ::scylla::client::session::Session;

use super::config::{Replication, ScyllaConfig};
use crate::error::ViewError;
use crate::model::{Namespace, TableDef};
use crate::names::{MAX_KEYSPACE_PREFIX, MAX_SERVICE_NAME, check_identifier};

/// ScyllaDB/Cassandra limit on keyspace and table names.
const MAX_CQL_NAME: usize = 48;

/// The keyspace of a service's namespace.
pub(crate) fn keyspace_name(
    config: &ScyllaConfig,
    service: &str,
    namespace: &Namespace,
) -> Result<String, ViewError> {
    check_identifier(
        "keyspace prefix",
        &config.keyspace_prefix,
        MAX_KEYSPACE_PREFIX,
    )?;
    check_identifier("service", service, MAX_SERVICE_NAME)?;
    namespace.validate()?;
    let name = match namespace {
        Namespace::Live => format!("{}_{service}", config.keyspace_prefix),
        Namespace::Shadow(shadow) => format!("{}_{service}__s_{shadow}", config.keyspace_prefix),
    };
    if name.len() > MAX_CQL_NAME {
        return Err(ViewError::InvalidName {
            what: "keyspace",
            name,
            reason: format!("longer than {MAX_CQL_NAME} characters"),
        });
    }
    Ok(name)
}

/// The `replication = {...}` map literal.
fn replication_literal(replication: &Replication) -> Result<String, ViewError> {
    match replication {
        Replication::Simple { factor } => {
            if *factor == 0 {
                return Err(ViewError::InvalidConfig {
                    reason: "scylla.replication.factor must be at least 1".into(),
                });
            }
            Ok(format!(
                "{{'class': 'SimpleStrategy', 'replication_factor': {factor}}}"
            ))
        }
        Replication::NetworkTopology { datacenters } => {
            if datacenters.is_empty() {
                return Err(ViewError::InvalidConfig {
                    reason: "scylla.replication.datacenters must name at least one datacenter"
                        .into(),
                });
            }
            let mut literal = String::from("{'class': 'NetworkTopologyStrategy'");
            for (dc, factor) in datacenters {
                let safe = !dc.is_empty()
                    && dc
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
                if !safe {
                    return Err(ViewError::InvalidConfig {
                        reason: format!(
                            "datacenter name {dc:?} may only contain letters, digits, '_', '-' and '.'"
                        ),
                    });
                }
                literal.push_str(&format!(", '{dc}': {factor}"));
            }
            literal.push('}');
            Ok(literal)
        }
    }
}

struct Migration {
    version: i32,
    description: &'static str,
    statements: fn(keyspace: &str) -> Vec<String>,
}

/// Never edit an entry once released; append a new one.
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    description: "processed events, outbox and consumer positions",
    statements: |ks| {
        vec![
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.processed_events (\
                 event_id uuid PRIMARY KEY, processed_at_ms bigint)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.outbox (\
                 shard int, seq bigint, event_id uuid, topic text, msg_key text, payload blob, \
                 headers list<frozen<tuple<text, blob>>>, \
                 PRIMARY KEY ((shard), seq, event_id)) \
                 WITH CLUSTERING ORDER BY (seq ASC, event_id ASC)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.positions (\
                 grp text, topic text, part int, next_offset bigint, \
                 PRIMARY KEY ((grp), topic, part))"
            ),
        ]
    },
}];

/// Creates the keyspace, applies pending migrations and creates view tables.
pub(crate) async fn migrate(
    session: &Session,
    config: &ScyllaConfig,
    keyspace: &str,
    tables: &[TableDef],
    location: &str,
) -> Result<(), ViewError> {
    let failed = |e: ::scylla::errors::ExecutionError| migration_error(location, e);
    let mut create_keyspace = format!(
        "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {}",
        replication_literal(&config.replication)?
    );
    if let Some(enabled) = config.tablets {
        create_keyspace.push_str(&format!(" AND tablets = {{'enabled': {enabled}}}"));
    }
    session
        .query_unpaged(create_keyspace, ())
        .await
        .map_err(failed)?;
    session
        .query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations (\
                 version int PRIMARY KEY, description text, applied_at_ms bigint)"
            ),
            (),
        )
        .await
        .map_err(failed)?;

    let applied = session
        .query_unpaged(
            format!("SELECT version FROM {keyspace}.schema_migrations"),
            (),
        )
        .await
        .map_err(failed)?
        .into_rows_result()
        .map_err(|e| migration_error(location, e))?;
    let current = applied
        .rows::<(i32,)>()
        .map_err(|e| migration_error(location, e))?
        .map(|row| row.map(|(v,)| v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| migration_error(location, e))?
        .into_iter()
        .max()
        .unwrap_or(0);
    let latest = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(ViewError::Migration {
            location: location.to_owned(),
            source: format!(
                "keyspace {keyspace} is at schema version {current}, newer than this build's \
                 {latest}; upgrade tributary"
            )
            .into(),
        });
    }
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        for statement in (migration.statements)(keyspace) {
            session.query_unpaged(statement, ()).await.map_err(failed)?;
        }
        session
            .query_unpaged(
                format!(
                    "INSERT INTO {keyspace}.schema_migrations (version, description, applied_at_ms) \
                     VALUES (?, ?, ?)"
                ),
                (migration.version, migration.description, now_ms()),
            )
            .await
            .map_err(failed)?;
    }
    for table in tables {
        session
            .query_unpaged(
                format!(
                    "CREATE TABLE IF NOT EXISTS {keyspace}.view_{} (\
                     pk text, ck text, value blob, version bigint, PRIMARY KEY ((pk), ck)) \
                     WITH CLUSTERING ORDER BY (ck ASC)",
                    table.name
                ),
                (),
            )
            .await
            .map_err(failed)?;
    }
    session
        .await_schema_agreement()
        .await
        .map_err(|e| migration_error(location, e))?;
    Ok(())
}

fn migration_error(location: &str, e: impl std::error::Error + Send + Sync + 'static) -> ViewError {
    ViewError::Migration {
        location: location.to_owned(),
        source: Box::new(e),
    }
}

/// Wall-clock milliseconds for bookkeeping columns.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Wall-clock microseconds, the default write timestamp.
pub(crate) fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn keyspace_names() {
        let config = ScyllaConfig::default();
        assert_eq!(
            keyspace_name(&config, "orders", &Namespace::Live).expect("valid"),
            "tributary_orders"
        );
        assert_eq!(
            keyspace_name(&config, "orders", &Namespace::Shadow("r1".into())).expect("valid"),
            "tributary_orders__s_r1"
        );
        assert!(keyspace_name(&config, "Orders", &Namespace::Live).is_err());
    }

    #[test]
    fn replication_literals() {
        assert_eq!(
            replication_literal(&Replication::Simple { factor: 3 }).expect("valid"),
            "{'class': 'SimpleStrategy', 'replication_factor': 3}"
        );
        let dcs = BTreeMap::from([("dc1".to_owned(), 3), ("dc2".to_owned(), 2)]);
        assert_eq!(
            replication_literal(&Replication::NetworkTopology { datacenters: dcs }).expect("valid"),
            "{'class': 'NetworkTopologyStrategy', 'dc1': 3, 'dc2': 2}"
        );
        let bad = BTreeMap::from([("dc'1".to_owned(), 3)]);
        assert!(replication_literal(&Replication::NetworkTopology { datacenters: bad }).is_err());
        assert!(replication_literal(&Replication::Simple { factor: 0 }).is_err());
    }
}
