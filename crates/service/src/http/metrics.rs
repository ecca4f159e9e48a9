//! HTTP request metrics labelled by the matched route template (never the
//! raw path, whose ids would make label values unbounded).

use axum::{
    extract::{MatchedPath, Request, State},
    http::Method,
    middleware::Next,
    response::Response,
};
use tokio::time::Instant;
use tributary_telemetry::{
    Metrics,
    labels::{HttpLabels, HttpRouteLabels},
};

/// Route label of requests no route matched (404s from the fallback).
pub(crate) const UNMATCHED_ROUTE: &str = "unmatched";

/// Middleware: counts the request and observes its latency.
pub(crate) async fn track_http(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = method_label(request.method()).to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    metrics
        .http_request_duration()
        .get_or_create(&HttpRouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    metrics
        .http_requests()
        .get_or_create(&HttpLabels {
            method,
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Standard methods by name; anything else (extension methods a client
/// can invent freely) as `OTHER`, to keep the label bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}
