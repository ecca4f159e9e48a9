//! The analytics view: its tables, row types and keys.
//!
//! Window rows are **sharded by source partition**: every `(topic,
//! partition)` keeps its own row per window, and readers merge the shards
//! (every aggregate, the duration sketch included, merges by addition).
//! Each event of the whole platform touches the current window, so a single
//! row per window would make every partition of every topic race for it and
//! turn most projections into optimistic-concurrency conflicts; with shards,
//! a row has exactly one writer — the partition's consumer — and
//! `Expect::Version` only fires when two replicas briefly own the same
//! partition during a rebalance.

use serde::{Deserialize, Serialize};
use tributary_service::JsonTable;
use tributary_views::TableDef;

use crate::domain::{Aggregates, PartitionClock};

/// Partition key of the single-partition tables (`watermarks`,
/// `totals_by_source`): one read returns every source partition.
pub const ALL: &str = "all";

/// Upper bound on source partitions read in one go (5 topics of 12
/// partitions in the default setup).
pub const MAX_SOURCES: usize = 10_000;

pub const WINDOWS_BY_MINUTE: TableDef = TableDef {
    name: "windows_by_minute",
    doc: "partition = first window start (unix ms) of a bucket of 60 windows, \
          clustering = <window start ms, 15 digits>/<topic>/<partition, 5 digits>, \
          value = WindowShard: one source partition's counts for one window; \
          a range of windows is one partition read per bucket",
};

pub const ORDER_STARTED_AT: TableDef = TableDef {
    name: "order_started_at",
    doc: "partition = order id, clustering = \"\", value = OrderStart: the \
          placement time of a saga still running, deleted when it ends",
};

pub const WATERMARKS: TableDef = TableDef {
    name: "watermarks",
    doc: "partition = \"all\", clustering = <topic>/<partition, 5 digits>, \
          value = PartitionClock: per source partition max event time, last \
          activity and published global watermark",
};

pub const TOTALS_BY_SOURCE: TableDef = TableDef {
    name: "totals_by_source",
    doc: "partition = \"all\", clustering = <topic>/<partition, 5 digits>, \
          value = SourceTotals: all-time counts of one source partition",
};

/// Every table of the service.
pub const TABLES: [TableDef; 4] = [
    WINDOWS_BY_MINUTE,
    ORDER_STARTED_AT,
    WATERMARKS,
    TOTALS_BY_SOURCE,
];

pub const WINDOWS: JsonTable<WindowShard> = JsonTable::new(WINDOWS_BY_MINUTE);
pub const STARTS: JsonTable<OrderStart> = JsonTable::new(ORDER_STARTED_AT);
pub const CLOCKS: JsonTable<PartitionClock> = JsonTable::new(WATERMARKS);
pub const TOTALS: JsonTable<SourceTotals> = JsonTable::new(TOTALS_BY_SOURCE);

/// One source partition's counts for one window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowShard {
    pub window_start_ms: i64,
    pub topic: String,
    pub partition: i32,
    pub aggregates: Aggregates,
}

/// When a running saga started (event time of its OrderPlaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStart {
    pub placed_at_ms: i64,
}

/// One source partition's all-time counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceTotals {
    pub topic: String,
    pub partition: i32,
    /// Every applied event, plus late ones in `late_events`.
    pub aggregates: Aggregates,
    /// Events whose event time could not be windowed (out of range, or too
    /// far in the future of this service's clock).
    pub refused_events: u64,
}

/// Clustering key of a source partition's rows in the `all` tables.
pub fn source_key(topic: &str, partition: i32) -> String {
    format!("{topic}/{partition:05}")
}

/// Partition key of the bucket starting at `bucket_start_ms`.
pub fn bucket_key(bucket_start_ms: i64) -> String {
    bucket_start_ms.to_string()
}

/// Clustering key of one shard; sorts by window start, then source.
pub fn shard_key(window_start_ms: i64, topic: &str, partition: i32) -> String {
    format!("{window_start_ms:015}/{}", source_key(topic, partition))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_chronologically() {
        assert!(shard_key(60_000, "users", 0) < shard_key(120_000, "orders", 0));
        assert!(shard_key(9_999_999, "a", 0) < shard_key(10_000_000, "a", 0));
        assert_eq!(
            shard_key(60_000, "orders", 3),
            "000000000060000/orders/00003"
        );
        assert_eq!(source_key("orders", 11), "orders/00011");
    }

    #[test]
    fn table_definitions_are_valid() {
        for table in TABLES {
            table.validate().expect("valid table name");
        }
    }
}
