//! The public handlers. Bodies are parsed (and so checked for shape) here,
//! at the edge, then forwarded to the owning service's query or command
//! API; its answers below 500 go back unchanged.

use std::fmt;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use tributary_service::{ApiError, ApiJson};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::{PlaceOrder, validate_sku};
use crate::place_order;
use crate::state::Gateway;
use crate::upstream::{Service, UpstreamRequest, UpstreamResponse};
use crate::views::{ACCEPTED, AcceptedOrder};

/// `POST /v1/users` body.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    pub email: String,
    pub password: String,
    pub name: String,
}

/// `POST /v1/sessions` body.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    pub email: String,
    pub password: String,
}

// Passwords never reach a log line.
impl fmt::Debug for RegisterBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegisterBody")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for LoginBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginBody")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// `PUT /v1/stock/{sku}` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddStockBody {
    pub quantity: i64,
    pub price_cents: i64,
}

/// `GET /v1/orders` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    customer: Option<String>,
    limit: Option<u32>,
}

/// `GET /v1/analytics/windows` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

pub async fn register(
    State(gateway): State<Gateway>,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    forward(
        &gateway,
        Service::Users,
        Method::POST,
        "/users".to_owned(),
        Some(json(&body)?),
    )
    .await
}

pub async fn login(
    State(gateway): State<Gateway>,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    forward(
        &gateway,
        Service::Users,
        Method::POST,
        "/sessions".to_owned(),
        Some(json(&body)?),
    )
    .await
}

pub async fn place_order(
    State(gateway): State<Gateway>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(order): ApiJson<PlaceOrder>,
) -> Result<Response, ApiError> {
    place_order::place_order(&gateway, &caller, &headers, order).await
}

pub async fn get_order(
    State(gateway): State<Gateway>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(id)?;
    match authorize_order(&gateway, &caller, id).await? {
        OrderAccess::Upstream(response) => Ok(response.into_response()),
        OrderAccess::Accepted(order) => Ok(axum::Json(pending_view(&order)).into_response()),
    }
}

pub async fn order_timeline(
    State(gateway): State<Gateway>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = order_id(id)?;
    if let OrderAccess::Upstream(response) = authorize_order(&gateway, &caller, id).await?
        && !response.status.is_success()
    {
        return Ok(response.into_response());
    }
    forward(
        &gateway,
        Service::Orders,
        Method::GET,
        format!("/orders/{id}/timeline"),
        None,
    )
    .await
}

pub async fn list_orders(
    State(gateway): State<Gateway>,
    caller: Caller,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query
        .map_err(|e| ApiError::bad_request(format!("Invalid query string: {}.", e.body_text())))?;
    let customer = match query.customer.as_deref() {
        None => caller.user_id,
        Some(raw) => Uuid::parse_str(raw).map_err(|_| {
            ApiError::unprocessable("`customer` must be a customer id (a UUID).")
                .with_field("customer", "not a UUID")
        })?,
    };
    caller.require_self_or_admin(customer)?;
    let limit = query.limit.map(|l| l.to_string());
    let customer = customer.to_string();
    let path = format!(
        "/orders?{}",
        query_string(&[("customer", Some(&customer)), ("limit", limit.as_ref())])
    );
    forward(&gateway, Service::Orders, Method::GET, path, None).await
}

pub async fn put_stock(
    State(gateway): State<Gateway>,
    caller: Caller,
    sku: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<AddStockBody>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let sku = path_sku(sku).map_err(|detail| {
        ApiError::unprocessable(format!("Invalid SKU: {detail}.")).with_field("sku", detail)
    })?;
    forward(
        &gateway,
        Service::Inventory,
        Method::PUT,
        format!("/stock/{sku}"),
        Some(json(&body)?),
    )
    .await
}

pub async fn get_stock(
    State(gateway): State<Gateway>,
    _caller: Caller,
    sku: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let sku = path_sku(sku).map_err(|_| ApiError::not_found("No such SKU."))?;
    forward(
        &gateway,
        Service::Inventory,
        Method::GET,
        format!("/stock/{sku}"),
        None,
    )
    .await
}

pub async fn analytics_windows(
    State(gateway): State<Gateway>,
    caller: Caller,
    query: Result<Query<RangeQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    let Query(query) = query
        .map_err(|e| ApiError::bad_request(format!("Invalid query string: {}.", e.body_text())))?;
    let path = format!(
        "/analytics/windows?{}",
        query_string(&[("from", query.from.as_ref()), ("to", query.to.as_ref())])
    );
    forward(&gateway, Service::Analytics, Method::GET, path, None).await
}

pub async fn analytics_summary(
    State(gateway): State<Gateway>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.require_admin()?;
    forward(
        &gateway,
        Service::Analytics,
        Method::GET,
        "/analytics/summary".to_owned(),
        None,
    )
    .await
}

/// Sends a request and passes the answer through.
async fn forward(
    gateway: &Gateway,
    service: Service,
    method: Method,
    path: String,
    body: Option<Bytes>,
) -> Result<Response, ApiError> {
    let request = match body {
        Some(body) => UpstreamRequest::json(method, path, body),
        None => UpstreamRequest {
            method,
            path_and_query: path,
            body: None,
        },
    };
    Ok(gateway
        .upstreams()
        .call(service, request)
        .await?
        .into_response())
}

/// Who may see an order and where its data comes from.
enum OrderAccess {
    /// The orders service knows it.
    Upstream(UpstreamResponse),
    /// Only the gateway knows it yet (accepted, not yet consumed).
    Accepted(AcceptedOrder),
}

/// The customer field of the orders service's answer.
#[derive(Deserialize)]
struct OrderOwner {
    customer_id: Uuid,
}

/// Finds the order and checks the caller may see it. Somebody else's order
/// is "not found", not "forbidden": its existence is nobody else's business.
async fn authorize_order(
    gateway: &Gateway,
    caller: &Caller,
    id: Uuid,
) -> Result<OrderAccess, ApiError> {
    let not_found = || ApiError::not_found(format!("No order `{id}`."));
    let response = gateway
        .upstreams()
        .call(
            Service::Orders,
            UpstreamRequest::get(format!("/orders/{id}")),
        )
        .await?;
    if response.status.is_success() {
        let owner: OrderOwner = response.json(Service::Orders)?;
        return if owner.customer_id == caller.user_id || caller.is_admin() {
            Ok(OrderAccess::Upstream(response))
        } else {
            Err(not_found())
        };
    }
    if response.status == StatusCode::NOT_FOUND {
        let accepted = ACCEPTED
            .get(gateway.context().store(), &id.to_string(), "")
            .await?;
        return match accepted {
            Some(row) if row.value.customer_id == caller.user_id || caller.is_admin() => {
                Ok(OrderAccess::Accepted(row.value))
            }
            _ => Err(not_found()),
        };
    }
    Ok(OrderAccess::Upstream(response))
}

/// The order as far as the gateway knows it: accepted, saga not started.
fn pending_view(order: &AcceptedOrder) -> serde_json::Value {
    serde_json::json!({
        "id": order.id,
        "status": "PENDING",
        "reason": null,
        "detail": null,
        "total_cents": null,
        "lines": order.lines,
        "customer_id": order.customer_id,
        "placed_at": order.placed_at,
        "updated_at": order.placed_at,
        "decided_at": null,
    })
}

fn order_id(id: Result<Path<String>, PathRejection>) -> Result<Uuid, ApiError> {
    let Path(raw) = id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    Uuid::parse_str(&raw).map_err(|_| ApiError::not_found(format!("No order `{raw}`.")))
}

fn path_sku(sku: Result<Path<String>, PathRejection>) -> Result<String, String> {
    let Path(sku) = sku.map_err(|e| e.body_text())?;
    validate_sku(&sku)?;
    Ok(sku)
}

/// A percent-encoded query string of the pairs that have a value. (The
/// serializer is not `Send`, so it must not live across an `.await`.)
fn query_string(pairs: &[(&str, Option<&String>)]) -> String {
    let mut serializer = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        if let Some(value) = value {
            serializer.append_pair(name, value);
        }
    }
    serializer.finish()
}

fn json<T: Serialize>(body: &T) -> Result<Bytes, ApiError> {
    serde_json::to_vec(body)
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(&e))
}
