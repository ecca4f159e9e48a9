//! HTTP scaffolding shared by every service: problem+json errors, the JSON
//! extractor, request ids, health and readiness, HTTP metrics, the 404/405
//! fallbacks and the body limit.

mod extract;
mod health;
mod metrics;
pub(crate) mod problem;
mod request_id;

use axum::{Router, extract::DefaultBodyLimit, http::Uri, middleware};
pub use extract::{ApiJson, decode};
pub use problem::{ApiError, FieldError, PROBLEM_JSON};
pub use request_id::{REQUEST_ID_HEADER, current_request_id};
use tributary_telemetry::{Metrics, metrics_router};

use crate::readiness::Readiness;

/// The whole HTTP surface of a service: its own routes plus `/health/*` and
/// `/metrics`, wrapped by [`api_router`].
pub(crate) fn service_router(
    routes: Option<Router>,
    readiness: Readiness,
    metrics: Metrics,
    body_limit: usize,
) -> Router {
    let routes = routes
        .unwrap_or_default()
        .merge(health::health_router(readiness))
        .merge(metrics_router(metrics.clone()));
    api_router(routes, metrics, body_limit)
}

/// `routes` with the behaviour every Tributary API shares: problem+json
/// 404 and 405 answers, a body limit of `body_limit` bytes (413
/// problem+json through [`ApiJson`]), HTTP metrics by matched route into
/// `metrics`, and request ids. The application applies it to every service;
/// services use it in tests to exercise their routes exactly as served.
pub fn api_router(routes: Router, metrics: Metrics, body_limit: usize) -> Router {
    routes
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Applies to the `Bytes`-based extractors (ApiJson), which turn an
        // overrun into a 413 problem+json.
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(metrics, metrics::track_http))
        .layer(middleware::from_fn(request_id::assign_request_id))
}

async fn not_found(uri: Uri) -> ApiError {
    ApiError::not_found(format!("No resource at `{}`.", uri.path()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed("This resource does not support the request method.")
}
