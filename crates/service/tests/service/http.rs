//! The HTTP surface every service shares, exercised in-process with
//! `oneshot`: problem+json for every client fault, no internals in 5xx
//! answers, request ids, metrics by matched route.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
    response::Response,
    routing::{get, post},
};
use serde::Deserialize;
use serde_json::Value;
use tower::ServiceExt as _;
use tributary_service::{
    ApiError, ApiJson,
    http::{PROBLEM_JSON, REQUEST_ID_HEADER, api_router},
};
use tributary_telemetry::Metrics;

const LIMIT: usize = 1024;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct Thing {
    name: String,
    quantity: u32,
}

fn app(metrics: &Metrics) -> Router {
    let routes = Router::new()
        .route(
            "/things/{id}",
            post(|ApiJson(thing): ApiJson<Thing>| async move {
                ApiJson(serde_json::json!({ "name": thing.name, "quantity": thing.quantity }))
            }),
        )
        .route(
            "/boom",
            get(|| async {
                Err::<(), _>(ApiError::internal(&std::io::Error::other(
                    "password=hunter2 at db.internal:5432",
                )))
            }),
        );
    api_router(routes, metrics.clone(), LIMIT)
}

async fn send(router: Router, request: Request<Body>) -> (Response, Value) {
    let response = router.oneshot(request).await.expect("router answers");
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (Response::from_parts(parts, Body::empty()), json)
}

fn post_json(path: &str, content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post(path);
    if let Some(ct) = content_type {
        builder = builder.header(header::CONTENT_TYPE, ct);
    }
    builder.body(body.into()).expect("request")
}

/// Asserts the RFC 9457 shape and returns the body.
fn assert_problem(response: &Response, body: &Value, status: StatusCode) {
    assert_eq!(response.status(), status, "{body}");
    assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["type"], "about:blank", "{body}");
    assert_eq!(
        body["title"],
        status.canonical_reason().expect("standard status"),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    let request_id = response.headers()[&REQUEST_ID_HEADER]
        .to_str()
        .expect("ascii");
    assert_eq!(body["request_id"], request_id, "{body}");
}

#[tokio::test]
async fn valid_json_is_accepted() {
    let metrics = Metrics::new();
    let (response, body) = send(
        app(&metrics),
        post_json(
            "/things/1",
            Some("application/json; charset=utf-8"),
            r#"{"name":"a","quantity":2}"#,
        ),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_eq!(body["quantity"], 2);
}

#[tokio::test]
async fn malformed_json_is_400() {
    let metrics = Metrics::new();
    let (response, body) = send(
        app(&metrics),
        post_json("/things/1", Some("application/json"), r#"{"name":"a","#),
    )
    .await;
    assert_problem(&response, &body, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_422_naming_the_field() {
    let metrics = Metrics::new();
    let (response, body) = send(
        app(&metrics),
        post_json("/things/1", Some("application/json"), r#"{"name":"a"}"#),
    )
    .await;
    assert_problem(&response, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "quantity", "{body}");

    let (response, body) = send(
        app(&metrics),
        post_json(
            "/things/1",
            Some("application/json"),
            r#"{"name":"a","quantity":-3}"#,
        ),
    )
    .await;
    assert_problem(&response, &body, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "quantity", "{body}");
}

#[tokio::test]
async fn missing_or_wrong_content_type_is_415() {
    let metrics = Metrics::new();
    for content_type in [None, Some("text/plain")] {
        let (response, body) = send(
            app(&metrics),
            post_json("/things/1", content_type, r#"{"name":"a","quantity":1}"#),
        )
        .await;
        assert_problem(&response, &body, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let metrics = Metrics::new();
    let big = format!(r#"{{"name":"{}","quantity":1}}"#, "x".repeat(LIMIT));
    let (response, body) = send(
        app(&metrics),
        post_json("/things/1", Some("application/json"), big),
    )
    .await;
    assert_problem(&response, &body, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let metrics = Metrics::new();
    let (response, body) = send(
        app(&metrics),
        Request::get("/nowhere")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_problem(&response, &body, StatusCode::NOT_FOUND);

    let (response, body) = send(
        app(&metrics),
        Request::delete("/things/1")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_problem(&response, &body, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn internal_errors_are_500_without_internals() {
    let metrics = Metrics::new();
    let (response, body) = send(
        app(&metrics),
        Request::get("/boom")
            .header(REQUEST_ID_HEADER, "req-42")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_problem(&response, &body, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(body["request_id"], "req-42");
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("db.internal"),
        "{text}"
    );
}

#[tokio::test]
async fn requests_are_counted_by_matched_route() {
    let metrics = Metrics::new();
    for id in ["1", "2", "3"] {
        let _ = send(
            app(&metrics),
            post_json(
                &format!("/things/{id}"),
                Some("application/json"),
                r#"{"name":"a","quantity":1}"#,
            ),
        )
        .await;
    }
    let _ = send(
        app(&metrics),
        Request::get("/nowhere/7")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    let text = metrics.render();
    assert!(
        text.contains(
            r#"tributary_http_requests_total{method="POST",route="/things/{id}",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"tributary_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(!text.contains("/things/1"), "{text}");
}
