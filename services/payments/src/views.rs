//! The payments view table (ARCHITECTURE section 7) and its typed handle.

use tributary_service::{JsonTable, Versioned};
use tributary_views::{TableDef, ViewError, ViewStore};
use uuid::Uuid;

use crate::domain::Payment;

/// One payment per order: its state machine, the token while pending, the
/// provider's references.
pub const PAYMENTS_BY_ORDER: TableDef = TableDef {
    name: "payments_by_order",
    doc: "partition = order id, clustering = \"\", value = Payment JSON \
          {order_id, customer_id, state, token?, payment_id, amount_cents, provider_reference, \
          refund_reference, reason, voided, created_at, updated_at}",
};

/// Every table of the service.
pub const TABLES: [TableDef; 1] = [PAYMENTS_BY_ORDER];

/// Typed `payments_by_order`.
pub const PAYMENTS: JsonTable<Payment> = JsonTable::new(PAYMENTS_BY_ORDER);

/// Reads the payment of `order_id`.
pub async fn payment(
    view: &dyn ViewStore,
    order_id: Uuid,
) -> Result<Option<Versioned<Payment>>, ViewError> {
    PAYMENTS.get(view, &order_id.to_string(), "").await
}
