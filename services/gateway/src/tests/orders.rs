//! Placing and reading orders: durability before 202, idempotency keys,
//! ownership, upstream failures.

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use tributary_users::Role;

use super::support::{Call, TestGateway, dead_url, order, token};
use crate::{GatewayConfig, UpstreamConfig};

#[tokio::test]
async fn an_accepted_order_is_in_the_outbox_before_the_202() {
    let gw = TestGateway::new().await;
    let (customer, user) = token(Role::Customer);
    let answer = gw
        .send(
            Call::new("POST", "/v1/orders")
                .token(&customer)
                .json(&order(&[("sku-1", 2), ("sku-2", 1)])),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["status"], "PENDING");
    let id = answer.body["id"].as_str().expect("id").to_owned();
    assert_eq!(
        answer.header("location"),
        Some(format!("/v1/orders/{id}").as_str())
    );

    let placed = gw.placed().await;
    assert_eq!(placed.len(), 1);
    let event = &placed[0];
    assert_eq!(event.order_id.to_string(), id);
    assert_eq!(event.customer_id, user);
    assert_eq!(event.envelope.correlation_id, id);
    assert_eq!(event.envelope.producer, "gateway");
    assert_eq!(event.lines.len(), 2);
    assert_eq!(
        (event.lines[0].sku.as_str(), event.lines[0].quantity),
        ("sku-1", 2)
    );
    assert_eq!(event.payment_token, "tok_visa");
    assert_eq!(event.idempotency_key, None);

    // The orders service has not seen it yet: the gateway answers PENDING.
    let answer = gw
        .send(Call::new("GET", format!("/v1/orders/{id}")).token(&customer))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["status"], "PENDING");
    assert_eq!(answer.body["customer_id"], user.to_string());
    // Nobody else sees it.
    let (stranger, _) = token(Role::Customer);
    gw.send(Call::new("GET", format!("/v1/orders/{id}")).token(&stranger))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_repeated_idempotency_key_replays_the_answer_and_places_nothing() {
    let gw = TestGateway::new().await;
    let (customer, _) = token(Role::Customer);
    let body = order(&[("sku-1", 1)]);
    let place = |key: &str, body: &serde_json::Value| {
        Call::new("POST", "/v1/orders")
            .token(&customer)
            .header("idempotency-key", key)
            .json(body)
    };
    let first = gw.send(place("key-1", &body)).await;
    assert_eq!(first.status, StatusCode::ACCEPTED);
    assert_eq!(first.header("idempotent-replayed"), None);
    let hits = gw.inventory_hits.load(Ordering::SeqCst);

    let second = gw.send(place("key-1", &body)).await;
    assert_eq!(second.status, StatusCode::ACCEPTED);
    assert_eq!(second.body, first.body);
    assert_eq!(second.header("location"), first.header("location"));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        gw.inventory_hits.load(Ordering::SeqCst),
        hits,
        "a replay asks nobody"
    );

    let placed = gw.placed().await;
    assert_eq!(placed.len(), 1);
    assert_eq!(placed[0].idempotency_key.as_deref(), Some("key-1"));

    // The same key with another body is refused.
    let answer = gw.send(place("key-1", &order(&[("sku-1", 2)]))).await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.fields(), ["Idempotency-Key"]);

    // Keys are per client: another customer's identical key is a new order.
    let (other, _) = token(Role::Customer);
    let answer = gw
        .send(
            Call::new("POST", "/v1/orders")
                .token(&other)
                .header("idempotency-key", "key-1")
                .json(&body),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED);
    assert_ne!(answer.body["id"], first.body["id"]);
    assert_eq!(gw.placed().await.len(), 2);
}

#[tokio::test]
async fn concurrent_duplicates_place_exactly_one_order() {
    let gw = TestGateway::new().await;
    let (customer, _) = token(Role::Customer);
    let body = order(&[("sku-2", 3)]);
    let calls = (0..8).map(|_| {
        gw.send(
            Call::new("POST", "/v1/orders")
                .token(&customer)
                .header("idempotency-key", "race")
                .json(&body),
        )
    });
    let answers = futures::future::join_all(calls).await;
    let first_id = &answers[0].body["id"];
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
        assert_eq!(&answer.body["id"], first_id);
    }
    assert_eq!(gw.placed().await.len(), 1);
}

#[tokio::test]
async fn orders_are_visible_to_their_customer_and_admins_only() {
    let gw = TestGateway::new().await;
    let owner = super::support::token_for(
        gw.known_order_owner,
        Role::Customer,
        super::support::now_secs(),
    );
    let (stranger, _) = token(Role::Customer);
    let (admin, _) = token(Role::Admin);
    let path = format!("/v1/orders/{}", gw.known_order);

    let answer = gw.send(Call::new("GET", &path).token(&owner)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["status"], "CONFIRMED");
    assert_eq!(
        gw.send(Call::new("GET", &path).token(&admin)).await.status,
        StatusCode::OK
    );
    gw.send(Call::new("GET", &path).token(&stranger))
        .await
        .assert_problem(StatusCode::NOT_FOUND);

    let timeline = format!("{path}/timeline");
    assert_eq!(
        gw.send(Call::new("GET", &timeline).token(&owner))
            .await
            .status,
        StatusCode::OK
    );
    gw.send(Call::new("GET", &timeline).token(&stranger))
        .await
        .assert_problem(StatusCode::NOT_FOUND);

    // Listing: yourself by default, others only as admin.
    let answer = gw.send(Call::new("GET", "/v1/orders").token(&owner)).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["customer_id"], gw.known_order_owner.to_string());
    let others = format!("/v1/orders?customer={}&limit=5", gw.known_order_owner);
    assert_eq!(
        gw.send(Call::new("GET", &others).token(&admin))
            .await
            .status,
        StatusCode::OK
    );
    gw.send(Call::new("GET", &others).token(&stranger))
        .await
        .assert_problem(StatusCode::FORBIDDEN);

    // Unknown orders are the orders service's 404, passed through.
    let answer = gw
        .send(Call::new("GET", format!("/v1/orders/{}", uuid::Uuid::new_v4())).token(&admin))
        .await;
    answer.assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn stock_administration_goes_to_the_inventory() {
    let gw = TestGateway::new().await;
    let (admin, _) = token(Role::Admin);
    let answer = gw
        .send(
            Call::new("PUT", "/v1/stock/sku-9")
                .token(&admin)
                .json(&serde_json::json!({"quantity": 7, "price_cents": 250})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body["available"], 7);
    let answer = gw
        .send(
            Call::new("PUT", "/v1/stock/sku-9")
                .token(&admin)
                .json(&serde_json::json!({"quantity": "7"})),
        )
        .await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    let answer = gw
        .send(Call::new("GET", "/v1/stock/sku-1").token(&admin))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["sku"], "sku-1");
    gw.send(Call::new("GET", "/v1/stock/sku-404").token(&admin))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_down_inventory_is_503_and_nothing_is_placed() {
    let gw = TestGateway::with_config(GatewayConfig {
        upstreams: UpstreamConfig {
            inventory: vec![dead_url().await, dead_url().await],
            ..UpstreamConfig::default()
        },
        ..GatewayConfig::default()
    })
    .await;
    let (customer, _) = token(Role::Customer);
    let answer = gw
        .send(
            Call::new("POST", "/v1/orders")
                .token(&customer)
                .json(&order(&[("sku-1", 1)])),
        )
        .await;
    answer.assert_problem(StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.header("retry-after").is_some());
    assert!(
        !answer.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1")
    );
    assert!(gw.placed().await.is_empty());
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let gw = TestGateway::new().await;
    let answer = gw.send(Call::new("GET", "/openapi.json")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["openapi"], "3.1.0");
    assert!(answer.body["paths"]["/v1/orders"]["post"].is_object());
}
