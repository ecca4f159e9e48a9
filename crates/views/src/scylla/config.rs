use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// Settings of the ScyllaDB backend.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScyllaConfig {
    /// Contact points: comma-separated `host:port`, optionally prefixed with
    /// `scylla://` (the `SCYLLA_URI` form), e.g. `scylla://10.0.0.1:9042,10.0.0.2:9042`.
    pub uri: String,
    /// Keyspaces are named `<keyspace_prefix>_<service>`
    /// (`[a-z][a-z0-9_]*`, at most 12 characters).
    pub keyspace_prefix: String,
    /// Replication of the keyspaces this backend creates (existing keyspaces
    /// are left alone).
    pub replication: Replication,
    /// Consistency of ordinary reads and writes.
    pub consistency: ConsistencyLevel,
    /// Consistency of the Paxos phase of lightweight transactions and of the
    /// processed-event check.
    pub serial_consistency: SerialConsistencyLevel,
    /// Timeout of one request (humane duration, e.g. "5s").
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Timeout of establishing a connection to a node.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// User name for password authentication (set with `password`).
    pub username: Option<String>,
    /// Password for password authentication; prefer an environment override
    /// to a file.
    pub password: Option<String>,
    /// When set, adds `AND tablets = {'enabled': <value>}` to `CREATE KEYSPACE`.
    /// Set `false` on ScyllaDB versions whose tablet keyspaces do not support
    /// lightweight transactions; leave unset for Cassandra or older ScyllaDB.
    pub tablets: Option<bool>,
}

impl Default for ScyllaConfig {
    fn default() -> Self {
        Self {
            uri: "127.0.0.1:9042".into(),
            keyspace_prefix: "tributary".into(),
            replication: Replication::default(),
            consistency: ConsistencyLevel::LocalQuorum,
            serial_consistency: SerialConsistencyLevel::LocalSerial,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(5),
            username: None,
            password: None,
            tablets: None,
        }
    }
}

impl ScyllaConfig {
    /// The contact points in `uri`.
    pub fn contact_points(&self) -> Vec<String> {
        let trimmed = self.uri.trim();
        let hosts = trimmed
            .strip_prefix("scylla://")
            .or_else(|| trimmed.strip_prefix("cql://"))
            .unwrap_or(trimmed);
        hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(|h| h.trim_end_matches('/').to_owned())
            .collect()
    }
}

/// Keyspace replication strategy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Replication {
    /// `SimpleStrategy` with one replication factor (single datacenter, dev).
    Simple {
        /// Number of replicas.
        factor: u32,
    },
    /// `NetworkTopologyStrategy` with a replication factor per datacenter
    /// (production).
    NetworkTopology {
        /// Datacenter name -> number of replicas.
        datacenters: BTreeMap<String, u32>,
    },
}

impl Default for Replication {
    fn default() -> Self {
        Replication::Simple { factor: 1 }
    }
}

/// Consistency levels offered for ordinary requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsistencyLevel {
    One,
    LocalOne,
    Quorum,
    LocalQuorum,
    EachQuorum,
    All,
}

/// Consistency levels of the Paxos phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SerialConsistencyLevel {
    Serial,
    LocalSerial,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_points_accept_uri_forms() {
        let mut config = ScyllaConfig {
            uri: "scylla://a:9042, b:9042/".into(),
            ..ScyllaConfig::default()
        };
        assert_eq!(config.contact_points(), vec!["a:9042", "b:9042"]);
        config.uri = "127.0.0.1:9042".into();
        assert_eq!(config.contact_points(), vec!["127.0.0.1:9042"]);
        config.uri = " , ".into();
        assert!(config.contact_points().is_empty());
    }
}
