//! The gateway's own tables. It reads no other service's data: these only
//! hold what the gateway itself decided.

use serde::{Deserialize, Serialize};
use tributary_service::JsonTable;
use tributary_views::TableDef;
use uuid::Uuid;

/// The stored answer of every POST that carried an `Idempotency-Key`.
pub const IDEMPOTENCY_KEYS: TableDef = TableDef {
    name: "idempotency_keys",
    doc: "partition = <user id>/<Idempotency-Key>, clustering = \"\", value = StoredResponse JSON",
};

/// Orders the gateway accepted, so that `GET /v1/orders/{id}` can answer
/// PENDING (read-your-writes) before the orders service has consumed the
/// `OrderPlaced`.
pub const ORDERS_ACCEPTED: TableDef = TableDef {
    name: "orders_accepted",
    doc: "partition = order id, clustering = \"\", value = AcceptedOrder JSON",
};

/// Every table, for opening the store.
pub const TABLES: [TableDef; 2] = [IDEMPOTENCY_KEYS, ORDERS_ACCEPTED];

pub const IDEMPOTENCY: JsonTable<StoredResponse> = JsonTable::new(IDEMPOTENCY_KEYS);
pub const ACCEPTED: JsonTable<AcceptedOrder> = JsonTable::new(ORDERS_ACCEPTED);

/// The answer given to the first request with a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// SHA-256 (hex) of the request it answered; a repeat must match.
    pub fingerprint: String,
    pub status: u16,
    pub body: serde_json::Value,
    /// The `Location` header, when the answer had one.
    pub location: Option<String>,
    /// Unix ms.
    pub created_at: i64,
}

/// An order as the gateway accepted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedOrder {
    pub id: Uuid,
    pub customer_id: Uuid,
    pub lines: Vec<AcceptedLine>,
    /// Unix ms.
    pub placed_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcceptedLine {
    pub sku: String,
    pub quantity: i32,
}

/// The partition key of an idempotency record: keys are per client.
pub fn idempotency_partition(user: Uuid, key: &str) -> String {
    format!("{user}/{key}")
}
