//! The payments' HTTP API (reached through the gateway).
//!
//! | call | answer |
//! |---|---|
//! | `GET /payments/{order_id}` | 200 payment or 404 |
//!
//! payment = `{"order_id","customer_id","state","payment_id","amount_cents",
//! "provider_reference","refund_reference","reason","created_at","updated_at"}`;
//! the payment token is never shown.

use axum::{
    Router,
    extract::{Path, State, rejection::PathRejection},
    routing::get,
};
use serde::{Deserialize, Serialize};
use tributary_service::{ApiError, ApiJson, ServiceContext};
use uuid::Uuid;

use crate::{
    domain::{Payment, PaymentState},
    views,
};

#[cfg(test)]
mod tests;

/// An order's payment as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentView {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    /// PENDING, AUTHORIZED, DECLINED, REFUNDED or CANCELLED.
    pub state: PaymentState,
    pub payment_id: Option<Uuid>,
    pub amount_cents: Option<i64>,
    pub provider_reference: Option<String>,
    pub refund_reference: Option<String>,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl From<Payment> for PaymentView {
    fn from(p: Payment) -> Self {
        PaymentView {
            order_id: p.order_id,
            customer_id: p.customer_id,
            state: p.state,
            payment_id: p.payment_id,
            amount_cents: p.amount_cents,
            provider_reference: p.provider_reference,
            refund_reference: p.refund_reference,
            reason: p.reason,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// The payments' routes.
pub fn routes(context: ServiceContext) -> Router {
    Router::new()
        .route("/payments/{order_id}", get(get_payment))
        .with_state(context)
}

async fn get_payment(
    State(context): State<ServiceContext>,
    order_id: Result<Path<String>, PathRejection>,
) -> Result<ApiJson<PaymentView>, ApiError> {
    let Ok(Path(raw)) = order_id else {
        return Err(ApiError::bad_request(
            "The order id in the path cannot be read.",
        ));
    };
    let order_id = Uuid::parse_str(&raw).map_err(|_| {
        ApiError::unprocessable("The order id must be a UUID.").with_field("order_id", "not a UUID")
    })?;
    match views::payment(context.store(), order_id).await? {
        Some(row) => Ok(ApiJson(row.value.into())),
        None => Err(ApiError::not_found(format!(
            "Order {order_id} has no payment."
        ))),
    }
}
