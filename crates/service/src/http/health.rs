//! `/health/live` and `/health/ready`.
//!
//! Liveness answers 200 for as long as the process serves HTTP at all (a
//! restart would not fix anything else). Readiness answers 200 only when the
//! instance can do its work — see [`Readiness`](crate::readiness::Readiness)
//! — and 503 with the failing check otherwise, including while it drains on
//! shutdown.

use axum::{
    Json, Router,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde_json::json;

use crate::readiness::Readiness;

pub(crate) fn health_router(readiness: Readiness) -> Router {
    Router::new()
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .with_state(readiness)
}

async fn live() -> Json<serde_json::Value> {
    Json(json!({ "status": "live" }))
}

async fn ready(State(readiness): State<Readiness>) -> Response {
    let report = readiness.report();
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}
