//! `[inventory]` configuration: bounds on stock administration and orders.

use serde::{Deserialize, Serialize};

use crate::domain::StockLimits;

/// Business settings of the inventory service.
///
/// ```toml
/// [inventory]
/// max_add_quantity = 1000000
/// max_order_skus = 100
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InventoryConfig {
    /// Largest quantity one `PUT /stock/{sku}` may add (at most 2^31 - 1,
    /// the range of `StockAdded.quantity`).
    pub max_add_quantity: i64,
    /// Highest unit price stock administration may set, in cents.
    pub max_price_cents: i64,
    /// Most units one SKU may have on hand (available + reserved); an
    /// addition beyond it is refused with 422.
    pub max_units_on_hand: i64,
    /// Most distinct SKUs one order may reserve; larger orders are rejected
    /// with reason `too_many_lines`.
    pub max_order_skus: usize,
    /// Most SKUs one `GET /stock?skus=` may ask for.
    pub max_batch_skus: usize,
    /// How many times `PUT /stock/{sku}` re-reads the row and tries again
    /// when another writer changed it in between, before answering 409.
    pub add_stock_attempts: u32,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            max_add_quantity: 1_000_000,
            max_price_cents: 100_000_000,
            max_units_on_hand: 1_000_000_000,
            max_order_skus: 100,
            max_batch_skus: 100,
            add_stock_attempts: 8,
        }
    }
}

impl InventoryConfig {
    /// The stock bounds, with `max_add_quantity` capped to the contract's
    /// 32-bit range so every accepted addition can be emitted.
    pub fn stock_limits(&self) -> StockLimits {
        StockLimits {
            max_add_quantity: self.max_add_quantity.clamp(1, i64::from(i32::MAX)),
            max_price_cents: self.max_price_cents.max(0),
            max_on_hand: self.max_units_on_hand.max(1),
        }
    }

    /// `max_order_skus`, at least 1.
    pub fn order_sku_limit(&self) -> usize {
        self.max_order_skus.max(1)
    }

    /// `max_batch_skus`, at least 1.
    pub fn batch_sku_limit(&self) -> usize {
        self.max_batch_skus.max(1)
    }

    /// `add_stock_attempts`, at least 1.
    pub fn add_attempts(&self) -> u32 {
        self.add_stock_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_partial_documents_and_rejects_unknown_fields() {
        let config: InventoryConfig =
            serde_json::from_str(r#"{"max_order_skus": 3}"#).expect("valid");
        assert_eq!(config.max_order_skus, 3);
        assert_eq!(
            config.max_batch_skus,
            InventoryConfig::default().max_batch_skus
        );
        assert!(serde_json::from_str::<InventoryConfig>(r#"{"max_orders": 3}"#).is_err());
    }

    #[test]
    fn limits_are_clamped_to_workable_ranges() {
        let config = InventoryConfig {
            max_add_quantity: i64::MAX,
            max_order_skus: 0,
            add_stock_attempts: 0,
            ..InventoryConfig::default()
        };
        assert_eq!(config.stock_limits().max_add_quantity, i64::from(i32::MAX));
        assert_eq!(config.order_sku_limit(), 1);
        assert_eq!(config.add_attempts(), 1);
    }
}
