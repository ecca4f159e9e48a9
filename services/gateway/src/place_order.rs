//! `POST /v1/orders`: authenticate, validate, honour `Idempotency-Key`,
//! check the SKUs with the inventory, then commit `OrderPlaced` through the
//! gateway's own outbox before answering 202 — an accepted order is durable.
//!
//! With a key, the idempotency record (`Expect::Absent`) is written in the
//! same commit as the event, so of two concurrent requests with one key
//! exactly one commits; the other sees the conflict, reads the winner's
//! record and answers with it. A repeat with the same key and body replays
//! the stored answer and emits nothing; the same key with another body is a
//! 422.

use axum::http::header::LOCATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tributary_contracts::Envelope;
use tributary_contracts::events::{OrderLine as EventLine, OrderPlaced};
use tributary_service::{ApiError, Effects, ServiceContext};
use tributary_views::{Expect, Outcome};
use uuid::Uuid;

use crate::auth::Caller;
use crate::domain::{
    OrderLimits, PlaceOrder, distinct_skus, fingerprint, validate_idempotency_key, validate_order,
};
use crate::state::Gateway;
use crate::upstream::{Service, UpstreamRequest};
use crate::views::{
    ACCEPTED, AcceptedLine, AcceptedOrder, IDEMPOTENCY, IDEMPOTENCY_KEYS, StoredResponse,
    idempotency_partition,
};

/// The request header carrying the client's idempotency key.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on answers replayed from an idempotency record.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The `producer` of the gateway's events.
const PRODUCER: &str = "gateway";
/// Route named in fingerprints.
const ROUTE: &str = "POST /v1/orders";

/// `202` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    pub id: Uuid,
    pub status: String,
}

/// Answer of the inventory's `GET /stock?skus=` (the fields we use).
#[derive(Debug, Deserialize)]
struct StockBatch {
    #[serde(default)]
    unknown: Vec<String>,
}

/// Handles `POST /v1/orders` for an authenticated caller.
pub async fn place_order(
    gateway: &Gateway,
    caller: &Caller,
    headers: &HeaderMap,
    order: PlaceOrder,
) -> Result<Response, ApiError> {
    let key = headers
        .get(&IDEMPOTENCY_KEY)
        .map(|v| validate_idempotency_key(v.as_bytes()))
        .transpose()?;
    let config = gateway.config();
    validate_order(
        &order,
        OrderLimits {
            max_lines: config.max_order_lines,
            max_quantity: config.max_line_quantity,
        },
    )?;
    let ctx = gateway.context();
    let fingerprint = fingerprint(ROUTE, &order);
    let record = match &key {
        Some(key) => {
            let partition = idempotency_partition(caller.user_id, key);
            match IDEMPOTENCY.get(ctx.store(), &partition, "").await? {
                Some(stored) if !expired(gateway, &stored.value) => {
                    return replay(&stored.value, &fingerprint);
                }
                // Expired: the key may be reused; overwrite that version.
                Some(stored) => Some((partition, Expect::Version(stored.version))),
                None => Some((partition, Expect::Absent)),
            }
        }
        None => None,
    };

    check_skus_known(gateway, &order).await?;

    let order_id = Uuid::new_v4();
    let now = ctx.now_ms();
    let location = format!("/v1/orders/{order_id}");
    let body = Accepted {
        id: order_id,
        status: "PENDING".to_owned(),
    };
    let lines: Vec<EventLine> = order
        .lines
        .iter()
        .map(|line| EventLine {
            sku: line.sku.clone(),
            // validate_order bounded it to max_line_quantity (a u32 config
            // value); saturate rather than wrap if that was set absurdly.
            quantity: i32::try_from(line.quantity).unwrap_or(i32::MAX),
        })
        .collect();
    let accepted = AcceptedOrder {
        id: order_id,
        customer_id: caller.user_id,
        lines: lines
            .iter()
            .map(|l| AcceptedLine {
                sku: l.sku.clone(),
                quantity: l.quantity,
            })
            .collect(),
        placed_at: now,
    };
    let event = OrderPlaced {
        envelope: Envelope::originating(PRODUCER, order_id.to_string(), now),
        order_id,
        customer_id: caller.user_id,
        lines,
        payment_token: order.payment.token.trim().to_owned(),
        idempotency_key: key.clone(),
    };
    let mut effects = Effects::none()
        .write(row(ACCEPTED.put(
            &order_id.to_string(),
            "",
            &accepted,
            Expect::Absent,
        ))?)
        .emit(event);
    if let Some((partition, expect)) = &record {
        let stored = StoredResponse {
            fingerprint: fingerprint.clone(),
            status: StatusCode::ACCEPTED.as_u16(),
            body: serde_json::to_value(&body).map_err(|e| ApiError::internal(&e))?,
            location: Some(location.clone()),
            created_at: now,
        };
        effects = effects.write(row(IDEMPOTENCY.put(partition, "", &stored, *expect))?);
    }
    match ctx.commit(None, effects).await? {
        Outcome::Applied => {
            tracing::info!(order_id = %order_id, customer_id = %caller.user_id, "order accepted");
            Ok(accepted_response(
                StatusCode::ACCEPTED,
                &body,
                Some(&location),
            ))
        }
        Outcome::Conflict { table, .. } if table == IDEMPOTENCY_KEYS.name => {
            // A concurrent request with the same key won; answer as it did.
            let Some((partition, _)) = record else {
                return Err(ApiError::conflict(
                    "The order conflicted with another; retry.",
                ));
            };
            load_and_replay(ctx, &partition, &fingerprint).await
        }
        Outcome::Conflict { .. } | Outcome::Duplicate => Err(ApiError::conflict(
            "The order conflicted with another; retry.",
        )),
    }
}

/// Asks the inventory which SKUs exist; any unknown one is a 422 naming
/// the line.
async fn check_skus_known(gateway: &Gateway, order: &PlaceOrder) -> Result<(), ApiError> {
    let skus = distinct_skus(order);
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("skus", &skus.join(","))
        .finish();
    let response = gateway
        .upstreams()
        .call(
            Service::Inventory,
            UpstreamRequest::get(format!("/stock?{query}")),
        )
        .await?;
    if !response.status.is_success() {
        // The inventory refused our question (it validates SKUs as we do):
        // its problem says why.
        return Err(ApiError::new(
            response.status,
            "The inventory could not check the order's SKUs.",
        ));
    }
    let batch: StockBatch = response.json(Service::Inventory)?;
    if batch.unknown.is_empty() {
        return Ok(());
    }
    let errors = order
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| batch.unknown.contains(&line.sku))
        .map(|(i, line)| {
            tributary_service::FieldError::new(
                format!("lines[{i}].sku"),
                format!("unknown SKU `{}`", line.sku),
            )
        });
    Err(ApiError::unprocessable(format!(
        "Unknown SKU: {}.",
        batch
            .unknown
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .with_errors(errors))
}

fn expired(gateway: &Gateway, stored: &StoredResponse) -> bool {
    let ttl = i64::try_from(gateway.config().idempotency_ttl.as_millis()).unwrap_or(i64::MAX);
    gateway.context().now_ms().saturating_sub(stored.created_at) > ttl
}

async fn load_and_replay(
    ctx: &ServiceContext,
    partition: &str,
    fingerprint: &str,
) -> Result<Response, ApiError> {
    match IDEMPOTENCY.get(ctx.store(), partition, "").await? {
        Some(stored) => replay(&stored.value, fingerprint),
        None => Err(ApiError::conflict(
            "A concurrent request with the same Idempotency-Key is in progress; retry.",
        )),
    }
}

fn replay(stored: &StoredResponse, fingerprint: &str) -> Result<Response, ApiError> {
    if stored.fingerprint != fingerprint {
        return Err(ApiError::unprocessable(
            "This Idempotency-Key was used for a different request; use a new key for a new order.",
        )
        .with_field("Idempotency-Key", "reused with a different body"));
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = accepted_response(status, &stored.body, stored.location.as_deref());
    response
        .headers_mut()
        .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    Ok(response)
}

fn accepted_response<T: Serialize>(
    status: StatusCode,
    body: &T,
    location: Option<&str>,
) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(value) = location.and_then(|l| HeaderValue::from_str(l).ok()) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

fn row<T>(write: Result<T, serde_json::Error>) -> Result<T, ApiError> {
    write.map_err(|e| ApiError::internal(&e))
}
