//! The inventory's HTTP API, called by the gateway (which authenticates and
//! authorizes: `PUT /stock` needs the admin role there).
//!
//! | call | answer |
//! |---|---|
//! | `PUT /stock/{sku}` `{"quantity","price_cents"}` | 200 stock; adds quantity, sets price; emits `StockAdded` |
//! | `GET /stock/{sku}` | 200 stock or 404 |
//! | `GET /stock?skus=a,b` | 200 `{"items":[stock…],"unknown":["b"]}` in request order |
//! | `GET /reservations/{order_id}` | 200 reservation or 404 |
//!
//! stock = `{"sku","available","reserved","price_cents","added","committed"}`.
//! Errors are problem+json: 422 naming the field for invalid input, 409 when
//! concurrent changes kept a stock addition from applying.

use std::sync::Arc;

use axum::{
    Router,
    extract::{Path, Query, State, rejection::PathRejection, rejection::QueryRejection},
    routing::get,
};
use serde::{Deserialize, Serialize};
use tributary_contracts::{Envelope, events::StockAdded};
use tributary_service::{ApiError, ApiJson, Effects, ServiceContext};
use tributary_views::{Expect, Outcome};
use uuid::Uuid;

use crate::{
    SERVICE,
    config::InventoryConfig,
    domain::{Reservation, StockError, StockLevel, StockLimits, validate_sku},
    views::{self, STOCK},
};

#[cfg(test)]
mod tests;

/// Body of `PUT /stock/{sku}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddStock {
    /// Units to add; positive.
    pub quantity: i64,
    /// Unit price from now on, in cents; not negative.
    pub price_cents: i64,
}

/// One SKU's stock as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockView {
    pub sku: String,
    /// Units free to order (held reservations excluded).
    pub available: i64,
    /// Units held by orders in flight.
    pub reserved: i64,
    pub price_cents: i64,
    /// Units ever added.
    pub added: i64,
    /// Units that left with confirmed orders.
    pub committed: i64,
}

impl From<StockLevel> for StockView {
    fn from(s: StockLevel) -> Self {
        StockView {
            sku: s.sku,
            available: s.available,
            reserved: s.reserved,
            price_cents: s.price_cents,
            added: s.added,
            committed: s.committed,
        }
    }
}

/// Answer of `GET /stock?skus=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockBatch {
    /// The known SKUs, in request order (duplicates once).
    pub items: Vec<StockView>,
    /// The requested SKUs that were never stocked.
    pub unknown: Vec<String>,
}

/// Query of `GET /stock`.
#[derive(Debug, Deserialize)]
struct BatchQuery {
    skus: String,
}

#[derive(Clone)]
struct ApiState {
    context: ServiceContext,
    limits: StockLimits,
    max_batch_skus: usize,
    add_attempts: u32,
}

/// The inventory's routes.
pub fn routes(context: ServiceContext, config: &InventoryConfig) -> axum::Router {
    let state = Arc::new(ApiState {
        context,
        limits: config.stock_limits(),
        max_batch_skus: config.batch_sku_limit(),
        add_attempts: config.add_attempts(),
    });
    Router::new()
        .route("/stock", get(batch_stock))
        .route("/stock/{sku}", get(get_stock).put(add_stock))
        .route("/reservations/{order_id}", get(get_reservation))
        .with_state(state)
}

async fn get_stock(
    State(state): State<Arc<ApiState>>,
    sku: Result<Path<String>, PathRejection>,
) -> Result<ApiJson<StockView>, ApiError> {
    let sku = sku_from(sku)?;
    match views::stock(state.context.store(), &sku).await? {
        Some(row) => Ok(ApiJson(row.value.into())),
        None => Err(ApiError::not_found(format!(
            "SKU {sku} has never been stocked."
        ))),
    }
}

async fn batch_stock(
    State(state): State<Arc<ApiState>>,
    query: Result<Query<BatchQuery>, QueryRejection>,
) -> Result<ApiJson<StockBatch>, ApiError> {
    let Query(query) = query.map_err(|_| {
        ApiError::unprocessable("Pass the SKUs as `?skus=a,b`.")
            .with_field("skus", "required, comma-separated")
    })?;
    let mut skus: Vec<&str> = Vec::new();
    for sku in query
        .skus
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !skus.contains(&sku) {
            skus.push(sku);
        }
    }
    if skus.is_empty() || skus.len() > state.max_batch_skus {
        let detail = format!("between 1 and {} distinct SKUs", state.max_batch_skus);
        return Err(
            ApiError::unprocessable(format!("Ask for {detail}.")).with_field("skus", detail)
        );
    }
    if let Some(error) = skus.iter().find_map(|sku| validate_sku(sku).err()) {
        return Err(
            ApiError::unprocessable(format!("{error}.")).with_field("skus", error.to_string())
        );
    }
    let rows = views::stock_of(state.context.store(), &skus).await?;
    let mut batch = StockBatch {
        items: Vec::with_capacity(rows.len()),
        unknown: Vec::new(),
    };
    for sku in skus {
        match rows.get(sku) {
            Some(row) => batch.items.push(row.value.clone().into()),
            None => batch.unknown.push(sku.to_owned()),
        }
    }
    Ok(ApiJson(batch))
}

/// Adds stock under optimistic concurrency: read, decide, commit with the
/// version read; on a conflict (another admin or a reservation changed the
/// row) read again, a bounded number of times.
async fn add_stock(
    State(state): State<Arc<ApiState>>,
    sku: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<AddStock>,
) -> Result<ApiJson<StockView>, ApiError> {
    let sku = sku_from(sku)?;
    let quantity = i32::try_from(body.quantity).map_err(|_| {
        validation(StockError::InvalidQuantity {
            got: body.quantity,
            max: state.limits.max_add_quantity,
        })
    })?;
    let context = &state.context;
    for _ in 0..state.add_attempts {
        let current = views::stock(context.store(), &sku).await?;
        let (level, expect) = match current {
            Some(row) => (row.value, Expect::Version(row.version)),
            None => (StockLevel::empty(&sku), Expect::Absent),
        };
        let next = level
            .add(body.quantity, body.price_cents, &state.limits)
            .map_err(validation)?;
        let write = STOCK
            .put(&sku, "", &next, expect)
            .map_err(|e| ApiError::internal(&e))?;
        let event = StockAdded {
            envelope: Envelope::originating(SERVICE, sku.clone(), context.now_ms()),
            sku: sku.clone(),
            quantity,
            price_cents: body.price_cents,
        };
        match context
            .commit(None, Effects::none().write(write).emit(event))
            .await?
        {
            Outcome::Applied => {
                tracing::info!(sku = %sku, quantity, price_cents = body.price_cents, "stock added");
                return Ok(ApiJson(next.into()));
            }
            // No event id, so never a duplicate; treat it like a conflict.
            Outcome::Conflict { .. } | Outcome::Duplicate => continue,
        }
    }
    Err(ApiError::conflict(format!(
        "The stock of {sku} kept changing concurrently; retry the request."
    )))
}

async fn get_reservation(
    State(state): State<Arc<ApiState>>,
    order_id: Result<Path<String>, PathRejection>,
) -> Result<ApiJson<Reservation>, ApiError> {
    let Ok(Path(raw)) = order_id else {
        return Err(ApiError::bad_request(
            "The order id in the path cannot be read.",
        ));
    };
    let order_id = Uuid::parse_str(&raw).map_err(|_| {
        ApiError::unprocessable("The order id must be a UUID.").with_field("order_id", "not a UUID")
    })?;
    match views::reservation(state.context.store(), order_id).await? {
        Some(row) => Ok(ApiJson(row.value)),
        None => Err(ApiError::not_found(format!(
            "Order {order_id} has no reservation."
        ))),
    }
}

/// Why the SKU in a path is unusable.
#[derive(Debug)]
enum PathSkuError {
    /// Not valid percent-encoded UTF-8.
    Unreadable,
    Invalid(StockError),
}

impl From<PathSkuError> for ApiError {
    fn from(error: PathSkuError) -> Self {
        match error {
            PathSkuError::Unreadable => {
                ApiError::bad_request("The SKU in the path cannot be read.")
            }
            PathSkuError::Invalid(e) => validation(e),
        }
    }
}

fn sku_from(sku: Result<Path<String>, PathRejection>) -> Result<String, PathSkuError> {
    let Ok(Path(sku)) = sku else {
        return Err(PathSkuError::Unreadable);
    };
    validate_sku(&sku).map_err(PathSkuError::Invalid)?;
    Ok(sku)
}

/// A refused stock change: 422 naming the field for bad input; a stored row
/// that breaks an invariant is an internal fault (logged, not leaked).
fn validation(error: StockError) -> ApiError {
    match error.field() {
        Some(field) => {
            ApiError::unprocessable(format!("{error}.")).with_field(field, error.to_string())
        }
        None => ApiError::internal(&error),
    }
}
