//! The orders query API, proxied by the gateway (`/v1/orders...`) and used
//! by operators (`/sagas/stuck`).
//!
//! - `GET /orders/{id}`: the order (ARCHITECTURE section 10 shape, extended).
//! - `GET /orders?customer={id}&limit=`: a customer's orders, newest first.
//! - `GET /orders/{id}/timeline`: the saga's events with the latency between steps.
//! - `GET /sagas/stuck?older_than_ms=&limit=`: pending orders older than that,
//!   oldest first, with their last step.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, Query, State, rejection::QueryRejection},
    routing::get,
};
use futures::future::try_join_all;
use serde::{Deserialize, Serialize};
use tributary_contracts::events::CancellationReason;
use tributary_service::{ApiError, ServiceContext, Versioned};
use tributary_views::{ClusteringOrder, ViewError, ViewStore};
use uuid::Uuid;

use crate::{
    OrdersConfig,
    domain::{Line, Order, OrderStatus, Step},
    views::{CUSTOMER_ORDERS, ORDERS, PENDING, TIMELINE, TimelineEntry, pending_buckets},
};

/// Limits of the API, from [`OrdersConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    default_page: usize,
    max_page: usize,
    max_timeline: usize,
    saga_timeout_ms: i64,
}

#[derive(Debug, Clone)]
struct ApiState {
    context: ServiceContext,
    limits: Arc<Limits>,
}

/// The service's routes, over `context`'s store.
pub fn router(context: ServiceContext, config: &OrdersConfig) -> Router {
    let limits = Limits {
        default_page: config.default_page_size.max(1),
        max_page: config.max_page_size.max(1),
        max_timeline: config.max_timeline_entries.max(1),
        saga_timeout_ms: i64::try_from(config.saga_timeout.as_millis()).unwrap_or(i64::MAX),
    };
    Router::new()
        .route("/orders", get(list_orders))
        .route("/orders/{id}", get(get_order))
        .route("/orders/{id}/timeline", get(get_timeline))
        .route("/sagas/stuck", get(stuck_sagas))
        .with_state(ApiState {
            context,
            limits: Arc::new(limits),
        })
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderBody {
    pub id: Uuid,
    pub status: OrderStatus,
    /// Why it was cancelled; null unless CANCELLED.
    pub reason: Option<CancellationReason>,
    /// Human-readable detail of the reason.
    pub detail: Option<String>,
    /// Charged amount once confirmed, else the reservation's price, else null.
    pub total_cents: Option<i64>,
    pub lines: Vec<Line>,
    pub customer_id: Uuid,
    pub placed_at: i64,
    /// Time of the latest saga event.
    pub updated_at: i64,
    /// When the saga reached its terminal state; null while pending.
    pub decided_at: Option<i64>,
    pub last_step: Step,
}

impl From<Order> for OrderBody {
    fn from(order: Order) -> Self {
        OrderBody {
            id: order.id,
            status: order.status,
            reason: order.reason,
            total_cents: order.total_cents(),
            updated_at: order.updated_at(),
            detail: order.detail,
            lines: order.lines,
            customer_id: order.customer_id,
            placed_at: order.placed_at,
            decided_at: order.decided_at,
            last_step: order.last_step,
        }
    }
}

/// `GET /orders?customer=` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderList {
    pub customer_id: Uuid,
    /// Newest first.
    pub orders: Vec<OrderBody>,
}

/// One timeline entry with its timing relative to the saga.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineItem {
    #[serde(flatten)]
    pub entry: TimelineEntry,
    /// Time since the previous entry; null for the first.
    pub latency_ms: Option<i64>,
    /// Time since the first entry.
    pub since_start_ms: i64,
}

/// `GET /orders/{id}/timeline` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    pub order_id: Uuid,
    pub status: OrderStatus,
    pub placed_at: i64,
    pub decided_at: Option<i64>,
    /// Placement to terminal state; null while pending.
    pub duration_ms: Option<i64>,
    /// In event-time order.
    pub entries: Vec<TimelineItem>,
    /// True when the timeline has more entries than returned.
    pub truncated: bool,
}

/// One saga without a terminal state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StuckSaga {
    pub order_id: Uuid,
    pub customer_id: Uuid,
    pub placed_at: i64,
    /// Now minus `placed_at`.
    pub age_ms: i64,
    pub last_step: Step,
}

/// `GET /sagas/stuck` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StuckSagas {
    pub older_than_ms: i64,
    /// The "now" the ages are computed from.
    pub as_of: i64,
    /// Oldest first.
    pub sagas: Vec<StuckSaga>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    customer: Option<String>,
    limit: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StuckQuery {
    older_than_ms: Option<i64>,
    limit: Option<usize>,
}

async fn get_order(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<OrderBody>, ApiError> {
    let id = parse_id("order id", &id)?;
    let order = load_order(&state.context, id).await?;
    Ok(Json(order.into()))
}

async fn list_orders(
    State(state): State<ApiState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<OrderList>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let customer = query.customer.ok_or_else(|| {
        ApiError::bad_request("The query parameter `customer` (a customer id) is required.")
    })?;
    let customer_id = parse_id("customer", &customer)?;
    let limit = page_size(query.limit, &state.limits)?;
    let store = state.context.store();
    let references = CUSTOMER_ORDERS
        .partition(
            store,
            &customer_id.to_string(),
            ClusteringOrder::Descending,
            limit,
        )
        .await?;
    let orders = try_join_all(references.iter().map(|r| load_row(store, r.value.order_id))).await?;
    Ok(Json(OrderList {
        customer_id,
        orders: orders
            .into_iter()
            .flatten()
            .map(|row| row.value.into())
            .collect(),
    }))
}

async fn get_timeline(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<Timeline>, ApiError> {
    let id = parse_id("order id", &id)?;
    let order = load_order(&state.context, id).await?;
    let max = state.limits.max_timeline;
    let mut rows = TIMELINE
        .partition(
            state.context.store(),
            &id.to_string(),
            ClusteringOrder::Ascending,
            max.saturating_add(1),
        )
        .await?;
    let truncated = rows.len() > max;
    rows.truncate(max);
    let start = rows
        .first()
        .map_or(order.placed_at, |r| r.value.occurred_at);
    let mut previous: Option<i64> = None;
    let entries = rows
        .into_iter()
        .map(|row| {
            let at = row.value.occurred_at;
            let item = TimelineItem {
                latency_ms: previous.map(|p| at.saturating_sub(p)),
                since_start_ms: at.saturating_sub(start),
                entry: row.value,
            };
            previous = Some(at);
            item
        })
        .collect();
    Ok(Json(Timeline {
        order_id: order.id,
        status: order.status,
        placed_at: order.placed_at,
        decided_at: order.decided_at,
        duration_ms: order.decided_at.map(|d| d.saturating_sub(order.placed_at)),
        entries,
        truncated,
    }))
}

async fn stuck_sagas(
    State(state): State<ApiState>,
    query: Result<Query<StuckQuery>, QueryRejection>,
) -> Result<Json<StuckSagas>, ApiError> {
    let Query(query) = query.map_err(query_error)?;
    let older_than_ms = query.older_than_ms.unwrap_or(state.limits.saga_timeout_ms);
    if older_than_ms < 0 {
        return Err(ApiError::bad_request(
            "`older_than_ms` must not be negative.",
        ));
    }
    let limit = page_size(query.limit, &state.limits)?;
    let store = state.context.store();
    let now = state.context.now_ms();
    let cutoff = now.saturating_sub(older_than_ms);

    // Each bucket is oldest first, so the overall oldest `limit` entries are
    // among the first `limit` of every bucket.
    let buckets = try_join_all(pending_buckets().map(|bucket| async move {
        PENDING
            .partition(store, &bucket, ClusteringOrder::Ascending, limit)
            .await
    }))
    .await?;
    let mut due: Vec<_> = buckets
        .into_iter()
        .flatten()
        .map(|row| row.value)
        .filter(|entry| entry.placed_at <= cutoff)
        .collect();
    due.sort_by_key(|entry| (entry.placed_at, entry.order_id));
    due.truncate(limit);

    let orders = try_join_all(due.iter().map(|entry| load_row(store, entry.order_id))).await?;
    let sagas = orders
        .into_iter()
        .flatten()
        .map(|row| row.value)
        // The index may briefly hold an order that just finished.
        .filter(|order| order.status == OrderStatus::Pending)
        .map(|order| StuckSaga {
            order_id: order.id,
            customer_id: order.customer_id,
            placed_at: order.placed_at,
            age_ms: now.saturating_sub(order.placed_at),
            last_step: order.last_step,
        })
        .collect();
    Ok(Json(StuckSagas {
        older_than_ms,
        as_of: now,
        sagas,
    }))
}

async fn load_row(store: &dyn ViewStore, id: Uuid) -> Result<Option<Versioned<Order>>, ViewError> {
    ORDERS.get(store, &id.to_string(), "").await
}

async fn load_order(context: &ServiceContext, id: Uuid) -> Result<Order, ApiError> {
    ORDERS
        .get(context.store(), &id.to_string(), "")
        .await?
        .map(|row| row.value)
        .ok_or_else(|| ApiError::not_found(format!("No order with id `{id}`.")))
}

/// A malformed request parameter; answered as 400 with the message.
#[derive(Debug)]
struct BadParameter(String);

impl From<BadParameter> for ApiError {
    fn from(BadParameter(detail): BadParameter) -> Self {
        ApiError::bad_request(detail)
    }
}

fn parse_id(what: &str, text: &str) -> Result<Uuid, BadParameter> {
    Uuid::parse_str(text).map_err(|_| BadParameter(format!("The {what} `{text}` is not a UUID.")))
}

fn page_size(limit: Option<usize>, limits: &Limits) -> Result<usize, BadParameter> {
    match limit {
        None => Ok(limits.default_page.min(limits.max_page)),
        Some(n) if (1..=limits.max_page).contains(&n) => Ok(n),
        Some(_) => Err(BadParameter(format!(
            "`limit` must be between 1 and {}.",
            limits.max_page
        ))),
    }
}

fn query_error(rejection: QueryRejection) -> ApiError {
    ApiError::bad_request(format!("Invalid query string: {}", rejection.body_text()))
}
