use std::time::Duration;

use serde::Deserialize;

/// Settings of the embedded (SQLite) backend.
///
/// Durability: the file runs in WAL mode. With `synchronous = "normal"` (the
/// default) a committed transaction survives a crash or `kill -9` of any
/// process, because the WAL is in the operating system's page cache; only a
/// power loss or kernel crash can lose the last commits. `"full"` syncs the
/// WAL on every commit and survives power loss too, at several times the
/// commit latency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedConfig {
    /// How long a writer waits for another process's write transaction before
    /// giving up with `ViewError::Busy` (humane duration, e.g. "5s").
    #[serde(with = "humantime_serde")]
    pub busy_timeout: Duration,
    /// SQLite `synchronous` level: `normal` (survives process crashes) or
    /// `full` (also survives power loss).
    pub synchronous: Synchronous,
    /// Connections per store instance, and so the number of blocking threads it
    /// may occupy at once (1-64). Reads run in parallel; writes serialize on the
    /// file lock anyway.
    pub pool_size: usize,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_secs(5),
            synchronous: Synchronous::Normal,
            pool_size: 4,
        }
    }
}

/// SQLite `PRAGMA synchronous` levels offered (OFF is not: it can corrupt the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Synchronous {
    #[default]
    Normal,
    Full,
}

impl Synchronous {
    pub(crate) fn pragma_value(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}
