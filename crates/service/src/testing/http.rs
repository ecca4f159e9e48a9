//! Driving an [`axum::Router`] through `oneshot`, without a listener, and
//! reading its answer as JSON.

use axum::{
    Router,
    body::Body,
    http::{HeaderMap, Request, StatusCode, header},
    response::Response,
};
use serde_json::Value;
use tower::ServiceExt as _;
use tributary_telemetry::Metrics;

use crate::defaults;

/// The largest answer body the helpers read; far above what any route
/// returns, so hitting it means a runaway answer.
pub const BODY_LIMIT: usize = 4 << 20;

/// Sends `request` to `router` and reads the whole answer: its status,
/// headers and body as JSON (`Value::Null` for an empty body).
///
/// Panics when a non-empty body is not JSON: every route of a service
/// answers JSON or problem+json, so anything else is a failure.
pub async fn send(router: Router, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
    let response = router
        .oneshot(request)
        .await
        .expect("routers are infallible");
    read_response(response).await
}

/// `GET uri` with an empty body.
pub async fn get_json(router: Router, uri: &str) -> (StatusCode, HeaderMap, Value) {
    let request = Request::get(uri)
        .body(Body::empty())
        .expect("valid request");
    send(router, request).await
}

/// `POST uri` with `body` as `application/json`.
pub async fn post_json(router: Router, uri: &str, body: &Value) -> (StatusCode, HeaderMap, Value) {
    let request = Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid request");
    send(router, request).await
}

/// Reads an answer completely, as [`send`] does.
pub async fn read_response(response: Response) -> (StatusCode, HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT)
        .await
        .expect("body within the limit");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "{status}: body is not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })
    };
    (status, headers, body)
}

/// The `Content-Type` of an answer, if it has a readable one.
pub fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}

/// Whether an answer is an RFC 9457 problem.
pub fn is_problem(headers: &HeaderMap) -> bool {
    content_type(headers) == Some("application/problem+json")
}

/// `routes` wrapped the way the runtime serves them (problem+json for
/// unknown routes and methods, the default body limit), so tests see what
/// a client would.
pub fn as_served(routes: Router) -> Router {
    crate::http::api_router(routes, Metrics::new(), defaults::HTTP_BODY_LIMIT)
}
