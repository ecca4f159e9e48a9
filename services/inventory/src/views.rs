//! The inventory's view tables (ARCHITECTURE section 7) and typed handles on them.

use std::collections::BTreeMap;

use tributary_service::{JsonTable, Versioned};
use tributary_views::{TableDef, ViewError, ViewStore};
use uuid::Uuid;

use crate::domain::{Reservation, StockLevel};

/// Stock per SKU: one row per SKU, read by every reservation and by `GET /stock`.
pub const STOCK_BY_SKU: TableDef = TableDef {
    name: "stock_by_sku",
    doc: "partition = sku, clustering = \"\", value = StockLevel JSON \
          {sku, available, reserved, price_cents, added, committed}",
};

/// One reservation per order: its state machine and held lines.
pub const RESERVATIONS_BY_ORDER: TableDef = TableDef {
    name: "reservations_by_order",
    doc: "partition = order id, clustering = \"\", value = Reservation JSON \
          {order_id, customer_id, state, lines, total_cents, reason, created_at, updated_at}",
};

/// Every table of the service.
pub const TABLES: [TableDef; 2] = [STOCK_BY_SKU, RESERVATIONS_BY_ORDER];

/// Typed `stock_by_sku`.
pub const STOCK: JsonTable<StockLevel> = JsonTable::new(STOCK_BY_SKU);

/// Typed `reservations_by_order`.
pub const RESERVATIONS: JsonTable<Reservation> = JsonTable::new(RESERVATIONS_BY_ORDER);

/// Reads the stock row of `sku`.
pub async fn stock(
    view: &dyn ViewStore,
    sku: &str,
) -> Result<Option<Versioned<StockLevel>>, ViewError> {
    STOCK.get(view, sku, "").await
}

/// Reads the stock rows of `skus` (absent SKUs are left out), in SKU order.
pub async fn stock_of(
    view: &dyn ViewStore,
    skus: &[&str],
) -> Result<BTreeMap<String, Versioned<StockLevel>>, ViewError> {
    let mut rows = BTreeMap::new();
    for &sku in skus {
        if let Some(row) = stock(view, sku).await? {
            rows.insert(sku.to_owned(), row);
        }
    }
    Ok(rows)
}

/// Reads the reservation of `order_id`.
pub async fn reservation(
    view: &dyn ViewStore,
    order_id: Uuid,
) -> Result<Option<Versioned<Reservation>>, ViewError> {
    RESERVATIONS.get(view, &order_id.to_string(), "").await
}
