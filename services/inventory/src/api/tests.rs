//! The routes through `tower::ServiceExt::oneshot`, on a real embedded store.

use axum::{
    body::Body,
    http::{HeaderMap, Method, Request, StatusCode, header},
};
use serde_json::{Value, json};
use tower::ServiceExt;
use tributary_contracts::events::ReservedLine;
use tributary_service::Effects;
use tributary_views::Expect;
use uuid::Uuid;

use super::*;
use tributary_service::testing::{is_problem, send};

use crate::{
    testing::{TestStore, test_store},
    views::RESERVATIONS,
};

fn config() -> InventoryConfig {
    InventoryConfig {
        max_add_quantity: 1_000,
        max_batch_skus: 3,
        ..InventoryConfig::default()
    }
}

async fn call(
    t: &TestStore,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value, HeaderMap) {
    let mut request = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(body) => {
            request = request.header(header::CONTENT_TYPE, "application/json");
            Body::from(body.to_string())
        }
        None => Body::empty(),
    };
    let router = routes(t.context.clone(), &config());
    let (status, headers, value) = send(router, request.body(body).expect("request")).await;
    (status, value, headers)
}

async fn put(t: &TestStore, sku: &str, quantity: i64, price: i64) -> (StatusCode, Value) {
    let (status, body, _) = call(
        t,
        Method::PUT,
        &format!("/stock/{sku}"),
        Some(json!({"quantity": quantity, "price_cents": price})),
    )
    .await;
    (status, body)
}

#[tokio::test]
async fn put_adds_quantity_sets_price_and_emits_stock_added() {
    let t = test_store().await;
    let (status, body) = put(&t, "sku-1", 10, 250).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"sku": "sku-1", "available": 10, "reserved": 0, "price_cents": 250, "added": 10, "committed": 0})
    );
    let (status, body) = put(&t, "sku-1", 5, 300).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (body["available"].clone(), body["price_cents"].clone()),
        (json!(15), json!(300))
    );

    let outbox = t.store().outbox_pending(10).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
    assert!(
        outbox
            .iter()
            .all(|e| e.message.topic == "inventory" && e.message.key == "sku-1")
    );

    let (status, body, _) = call(&t, Method::GET, "/stock/sku-1", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["available"], 15);
}

#[tokio::test]
async fn invalid_additions_are_422_naming_the_field() {
    let t = test_store().await;
    let cases = [
        (
            "/stock/sku-1",
            json!({"quantity": 0, "price_cents": 1}),
            "quantity",
        ),
        (
            "/stock/sku-1",
            json!({"quantity": -5, "price_cents": 1}),
            "quantity",
        ),
        (
            "/stock/sku-1",
            json!({"quantity": 1_001, "price_cents": 1}),
            "quantity",
        ),
        (
            "/stock/sku-1",
            json!({"quantity": 9_999_999_999_i64, "price_cents": 1}),
            "quantity",
        ),
        (
            "/stock/sku-1",
            json!({"quantity": 1, "price_cents": -1}),
            "price_cents",
        ),
        ("/stock/sku-1", json!({"quantity": 1}), "price_cents"),
        (
            "/stock/sku-1",
            json!({"quantity": "many", "price_cents": 1}),
            "quantity",
        ),
        (
            "/stock/bad%20sku",
            json!({"quantity": 1, "price_cents": 1}),
            "sku",
        ),
    ];
    for (uri, body, field) in cases {
        let (status, problem, response) = call(&t, Method::PUT, uri, Some(body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri} {body}");
        assert!(is_problem(&response), "{uri} {body}");
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{uri} {body}: {problem}"
        );
    }
    assert!(
        t.store()
            .outbox_pending(10)
            .await
            .expect("outbox")
            .is_empty()
    );
}

#[tokio::test]
async fn malformed_bodies_are_4xx_problems() {
    let t = test_store().await;
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/stock/sku-1")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .expect("request");
    let response = routes(t.context.clone(), &config())
        .oneshot(request)
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unknown_stock_is_404() {
    let t = test_store().await;
    let (status, problem, response) = call(&t, Method::GET, "/stock/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(is_problem(&response));
    assert_eq!(problem["status"], 404);
    let (status, _, _) = call(&t, Method::GET, "/stock/a%20b", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn batch_lists_known_and_unknown_skus_in_request_order() {
    let t = test_store().await;
    put(&t, "b", 2, 20).await;
    put(&t, "a", 1, 10).await;
    let (status, body, _) = call(&t, Method::GET, "/stock?skus=b,zzz,a,b", None).await;
    assert_eq!(status, StatusCode::OK);
    let skus: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["sku"].as_str().expect("sku"))
        .collect();
    assert_eq!(skus, ["b", "a"]);
    assert_eq!(body["unknown"], json!(["zzz"]));
    assert_eq!(body["items"][0]["price_cents"], 20);

    for uri in [
        "/stock",
        "/stock?skus=",
        "/stock?skus=a,b,c,d",
        "/stock?skus=a,b%20c",
    ] {
        let (status, problem, _) = call(&t, Method::GET, uri, None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri}");
        assert_eq!(problem["errors"][0]["field"], "skus", "{uri}");
    }
}

#[tokio::test]
async fn reservations_are_readable_by_order_id() {
    let t = test_store().await;
    let order_id = Uuid::from_u128(42);
    let lines = [ReservedLine {
        sku: "a".into(),
        quantity: 2,
        unit_price_cents: 5,
    }];
    let row = Reservation::held(order_id, Uuid::from_u128(1), &lines, 10, 7);
    let write = RESERVATIONS
        .put(&order_id.to_string(), "", &row, Expect::Absent)
        .expect("encodes");
    t.context
        .commit(None, Effects::none().write(write))
        .await
        .expect("commit");

    let (status, body, _) = call(&t, Method::GET, &format!("/reservations/{order_id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "HELD");
    assert_eq!(body["total_cents"], 10);
    assert_eq!(body["lines"][0]["quantity"], 2);

    let (status, _, _) = call(
        &t,
        Method::GET,
        &format!("/reservations/{}", Uuid::from_u128(43)),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, problem, _) = call(&t, Method::GET, "/reservations/not-a-uuid", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"][0]["field"], "order_id");
}

#[tokio::test]
async fn concurrent_additions_all_apply() {
    let t = std::sync::Arc::new(test_store().await);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let t = t.clone();
        tasks.spawn(async move { put(&t, "hot", 1, 1).await.0 });
    }
    while let Some(status) = tasks.join_next().await {
        // With 8 attempts each, 6 writers always get through.
        assert_eq!(status.expect("task"), StatusCode::OK);
    }
    let (_, body, _) = call(&t, Method::GET, "/stock/hot", None).await;
    assert_eq!(body["available"], 6);
    assert_eq!(body["added"], 6);
}

#[tokio::test]
async fn additions_beyond_the_on_hand_bound_are_refused() {
    let t = test_store().await;
    let config = InventoryConfig {
        max_units_on_hand: 5,
        ..config()
    };
    let request = |q: i64| {
        Request::builder()
            .method(Method::PUT)
            .uri("/stock/x")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"quantity": q, "price_cents": 1}).to_string(),
            ))
            .expect("request")
    };
    let ok = routes(t.context.clone(), &config)
        .oneshot(request(5))
        .await
        .expect("infallible");
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = routes(t.context.clone(), &config)
        .oneshot(request(1))
        .await
        .expect("infallible");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
