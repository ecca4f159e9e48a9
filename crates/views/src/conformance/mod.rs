//! The behaviour every [`ViewStore`] backend must show, as reusable async test
//! cases.
//!
//! Each case takes a [`StoreFactory`], opens fresh stores under random
//! service names (so cases never share data and may run in parallel), and
//! panics with a message naming the broken rule — call them from `#[test]`
//! functions. `tests/conformance.rs` runs every case against the embedded
//! backend always and against ScyllaDB when `SCYLLA_URI` is set; a new
//! backend only needs a factory:
//!
//! ```no_run
//! # async fn demo() {
//! use tributary_views::{ViewsConfig, conformance};
//! let config = ViewsConfig::embedded(std::env::temp_dir().join("views-conformance"));
//! conformance::run_all(&config).await;
//! # }
//! ```
//!
//! Cases check the contract both backends share. Where the embedded backend
//! promises more (cross-partition all-or-nothing), its own tests check that.

mod lifecycle;
mod outbox;
mod promotion;
mod rows;
mod transactions;

use std::sync::Arc;

use async_trait::async_trait;
use uuid::Uuid;

pub use self::lifecycle::{
    digest_is_order_independent_and_content_sensitive, reopen_keeps_data,
    shadow_namespace_is_isolated_and_comparable,
};
pub use self::outbox::{outbox_keeps_order_and_acks, positions_upsert_per_group_and_partition};
pub use self::promotion::promote_replaces_live_with_shadow;
pub use self::rows::{
    expectations_and_versions, put_get_and_partition_order, rejects_invalid_input,
    scan_pages_cover_every_row_once,
};
pub use self::transactions::{
    concurrent_decisions_have_one_winner, concurrent_increments_lose_no_update,
    conflict_applies_nothing, duplicate_event_applies_nothing,
};
use crate::config::ViewsConfig;
use crate::error::ViewError;
use crate::model::{Namespace, TableDef};
use crate::store::{ViewStore, open_store_in, promote_shadow};
use crate::transaction::OutboxMessage;

/// Opens stores for the cases. Opening the same service and namespace twice
/// must give two independent instances over the same data (as two replicas
/// would have).
#[async_trait]
pub trait StoreFactory: Send + Sync {
    async fn open(
        &self,
        service: &str,
        namespace: &Namespace,
        tables: &[TableDef],
    ) -> Result<Arc<dyn ViewStore>, ViewError>;

    /// Promotes shadow `shadow` of `service` to live
    /// ([`promote_shadow`](crate::promote_shadow)).
    async fn promote(
        &self,
        service: &str,
        shadow: &str,
        tables: &[TableDef],
    ) -> Result<(), ViewError>;
}

/// A configuration is a factory: it opens stores with [`open_store_in`].
#[async_trait]
impl StoreFactory for ViewsConfig {
    async fn open(
        &self,
        service: &str,
        namespace: &Namespace,
        tables: &[TableDef],
    ) -> Result<Arc<dyn ViewStore>, ViewError> {
        open_store_in(self, service, namespace, tables).await
    }

    async fn promote(
        &self,
        service: &str,
        shadow: &str,
        tables: &[TableDef],
    ) -> Result<(), ViewError> {
        promote_shadow(self, service, shadow, tables).await
    }
}

/// Names of every case, in the order [`run_all`] runs them.
pub const CASES: &[&str] = &[
    "put_get_and_partition_order",
    "expectations_and_versions",
    "scan_pages_cover_every_row_once",
    "rejects_invalid_input",
    "conflict_applies_nothing",
    "duplicate_event_applies_nothing",
    "concurrent_decisions_have_one_winner",
    "concurrent_increments_lose_no_update",
    "outbox_keeps_order_and_acks",
    "positions_upsert_per_group_and_partition",
    "digest_is_order_independent_and_content_sensitive",
    "reopen_keeps_data",
    "shadow_namespace_is_isolated_and_comparable",
    "promote_replaces_live_with_shadow",
];

/// Runs every case in turn.
pub async fn run_all(factory: &dyn StoreFactory) {
    put_get_and_partition_order(factory).await;
    expectations_and_versions(factory).await;
    scan_pages_cover_every_row_once(factory).await;
    rejects_invalid_input(factory).await;
    conflict_applies_nothing(factory).await;
    duplicate_event_applies_nothing(factory).await;
    concurrent_decisions_have_one_winner(factory).await;
    concurrent_increments_lose_no_update(factory).await;
    outbox_keeps_order_and_acks(factory).await;
    positions_upsert_per_group_and_partition(factory).await;
    digest_is_order_independent_and_content_sensitive(factory).await;
    reopen_keeps_data(factory).await;
    shadow_namespace_is_isolated_and_comparable(factory).await;
    promote_replaces_live_with_shadow(factory).await;
}

/// A wide table: many clustering rows per partition.
pub const ITEMS: TableDef = TableDef {
    name: "items",
    doc: "conformance: partition = owner, clustering = item",
};

/// A second table, to check tables stay apart.
pub const STOCK: TableDef = TableDef {
    name: "stock",
    doc: "conformance: partition = sku, clustering = \"\" or reservation/<order>",
};

/// The tables every case opens.
pub const TABLES: &[TableDef] = &[ITEMS, STOCK];

/// A fresh service name (valid everywhere, unique per call).
pub fn unique_service() -> String {
    let id = Uuid::new_v4().simple().to_string();
    format!("c_{}", &id[..12])
}

/// Opens a store of a fresh service, panicking with the backend's error.
async fn fresh(factory: &dyn StoreFactory) -> (String, Arc<dyn ViewStore>) {
    let service = unique_service();
    let store = open(factory, &service, &Namespace::Live, TABLES).await;
    (service, store)
}

async fn open(
    factory: &dyn StoreFactory,
    service: &str,
    namespace: &Namespace,
    tables: &[TableDef],
) -> Arc<dyn ViewStore> {
    match factory.open(service, namespace, tables).await {
        Ok(store) => store,
        Err(e) => panic!("opening store for {service} ({namespace}) failed: {e}"),
    }
}

/// An outbox message with a fresh event id.
fn message(topic: &str, key: &str, payload: &str) -> OutboxMessage {
    OutboxMessage {
        topic: topic.to_owned(),
        key: key.to_owned(),
        payload: payload.as_bytes().to_vec(),
        headers: vec![
            ("ce_type".to_owned(), b"io.tributary.test".to_vec()),
            ("bin".to_owned(), vec![0, 1, 255]),
        ],
        event_id: Uuid::new_v4(),
    }
}
