//! The inventory's decisions, free of I/O: stock arithmetic, the
//! all-or-nothing reservation of an order, and the reservation state machine
//! that makes every saga transition idempotent and order-tolerant.

mod reservation;
mod reserve;
mod stock;

#[cfg(test)]
mod proptests;

pub use reservation::{
    Ignored, Reservation, ReservationLine, ReservationState, Step, commit_stock,
    on_order_cancelled, on_order_confirmed, on_order_placed, on_payment_declined, release_stock,
};
pub use reserve::{Demand, RejectReason, ReserveDecision, aggregate_lines, decide_reservation};
pub use stock::{MAX_SKU_LEN, StockLevel, StockLimits, validate_sku};

/// A stock change that is refused.
///
/// The first four are bad administrative input (HTTP 422, naming
/// [`StockError::field`]); [`StockError::Insufficient`] is an ordinary
/// business outcome; [`StockError::Inconsistent`] means stored data breaks an
/// invariant and needs an operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    #[error("quantity must be between 1 and {max}, got {got}")]
    InvalidQuantity { got: i64, max: i64 },
    #[error("price_cents must be between 0 and {max}, got {got}")]
    InvalidPrice { got: i64, max: i64 },
    #[error(
        "sku {sku:?} is invalid: use 1 to {MAX_SKU_LEN} ASCII letters, digits, '-', '_' or '.'"
    )]
    InvalidSku { sku: String },
    #[error("{sku} has {on_hand} units on hand; at most {max} are allowed")]
    TooMuchStock { sku: String, on_hand: i64, max: i64 },
    #[error("{sku}: requested {requested} units, {available} available")]
    Insufficient {
        sku: String,
        requested: i64,
        available: i64,
    },
    #[error("stock of {sku} is inconsistent: {detail}")]
    Inconsistent { sku: String, detail: String },
}

impl StockError {
    /// The request field at fault, for validation errors.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            StockError::InvalidQuantity { .. } | StockError::TooMuchStock { .. } => {
                Some("quantity")
            }
            StockError::InvalidPrice { .. } => Some("price_cents"),
            StockError::InvalidSku { .. } => Some("sku"),
            StockError::Insufficient { .. } | StockError::Inconsistent { .. } => None,
        }
    }
}
