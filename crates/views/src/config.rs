//! `[views]` configuration: which backend, and where it keeps its data.

use std::path::PathBuf;

use serde::Deserialize;

pub use crate::embedded::{EmbeddedConfig, Synchronous};
pub use crate::scylla::{ConsistencyLevel, Replication, ScyllaConfig, SerialConsistencyLevel};

/// Where every service keeps its materialized view.
///
/// ```toml
/// [views]
/// backend = "embedded"          # or "scylla"
/// data_dir = "/var/lib/tributary"
///
/// [views.scylla]
/// uri = "scylla-0.scylla:9042,scylla-1.scylla:9042"
/// replication = { strategy = "network_topology", datacenters = { dc1 = 3 } }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsConfig {
    /// Which backend stores the views: `embedded` (SQLite files, the default,
    /// for one machine) or `scylla` (a ScyllaDB cluster, for production).
    pub backend: Backend,
    /// Data directory; the embedded backend keeps one file per service at
    /// `<data_dir>/views/<service>.sqlite`.
    pub data_dir: PathBuf,
    /// Embedded (SQLite) backend settings.
    pub embedded: EmbeddedConfig,
    /// ScyllaDB backend settings.
    pub scylla: ScyllaConfig,
}

impl Default for ViewsConfig {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            data_dir: PathBuf::from("data"),
            embedded: EmbeddedConfig::default(),
            scylla: ScyllaConfig::default(),
        }
    }
}

impl ViewsConfig {
    /// An embedded-backend configuration rooted at `data_dir` (tests, `up`).
    pub fn embedded(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            ..Self::default()
        }
    }

    /// A ScyllaDB configuration for `uri` with defaults otherwise.
    pub fn scylla(uri: impl Into<String>) -> Self {
        Self {
            backend: Backend::Scylla,
            scylla: ScyllaConfig {
                uri: uri.into(),
                ..ScyllaConfig::default()
            },
            ..Self::default()
        }
    }
}

/// The view store backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// SQLite files under the data directory, shared by local processes.
    #[default]
    Embedded,
    /// A ScyllaDB cluster, one keyspace per service.
    Scylla,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn parses_a_full_document() {
        let config: ViewsConfig = toml::from_str(
            r#"
            backend = "scylla"
            data_dir = "/var/lib/tributary"
            [embedded]
            busy_timeout = "2s"
            synchronous = "full"
            pool_size = 2
            [scylla]
            uri = "scylla://a:9042,b:9042"
            keyspace_prefix = "trib"
            consistency = "quorum"
            serial_consistency = "serial"
            request_timeout = "3s"
            replication = { strategy = "network_topology", datacenters = { dc1 = 3, dc2 = 2 } }
            "#,
        )
        .expect("valid config");
        assert_eq!(config.backend, Backend::Scylla);
        assert_eq!(config.embedded.busy_timeout, Duration::from_secs(2));
        assert_eq!(config.embedded.synchronous, Synchronous::Full);
        assert_eq!(config.scylla.keyspace_prefix, "trib");
        assert_eq!(config.scylla.consistency, ConsistencyLevel::Quorum);
        assert!(matches!(
            config.scylla.replication,
            Replication::NetworkTopology { ref datacenters } if datacenters.len() == 2
        ));
    }

    #[test]
    fn defaults_to_embedded_and_rejects_unknown_fields() {
        let config: ViewsConfig = toml::from_str("").expect("empty is fine");
        assert_eq!(config, ViewsConfig::default());
        assert_eq!(config.backend, Backend::Embedded);
        assert!(toml::from_str::<ViewsConfig>("bakend = \"scylla\"").is_err());
        assert!(toml::from_str::<ViewsConfig>("[scylla]\nurl = \"x\"").is_err());
        assert!(
            toml::from_str::<ViewsConfig>(
                "[scylla]\nreplication = { strategy = \"simple\", factor = 1, extra = 2 }"
            )
            .is_err()
        );
    }
}
