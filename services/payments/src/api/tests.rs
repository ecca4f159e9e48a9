//! The route through `tower::ServiceExt::oneshot`, on a real embedded store.

use axum::http::StatusCode;
use serde_json::Value;
use tributary_service::{
    Effects,
    testing::{content_type, get_json},
};
use tributary_views::Expect;

use super::*;
use crate::{
    testing::{TestStore, test_store},
    views::PAYMENTS,
};

async fn get(t: &TestStore, uri: &str) -> (StatusCode, Option<String>, Value) {
    let (status, headers, body) = get_json(routes(t.context.clone()), uri).await;
    (status, content_type(&headers).map(str::to_owned), body)
}

async fn store_payment(t: &TestStore, payment: &Payment) {
    let write = PAYMENTS
        .put(&payment.order_id.to_string(), "", payment, Expect::Any)
        .expect("encodes");
    t.context
        .commit(None, Effects::none().write(write))
        .await
        .expect("commit");
}

#[tokio::test]
async fn shows_a_payment_without_its_token() {
    let t = test_store().await;
    let order_id = Uuid::from_u128(1);
    let pending = Payment::pending(order_id, Uuid::from_u128(2), "tok_secret", 10);
    store_payment(&t, &pending).await;
    let (status, _, body) = get(&t, &format!("/payments/{order_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["state"], "PENDING");
    assert!(!body.to_string().contains("tok_secret"), "{body}");

    store_payment(&t, &pending.authorized(500, "ref-1", 11)).await;
    let (_, _, body) = get(&t, &format!("/payments/{order_id}")).await;
    assert_eq!(body["state"], "AUTHORIZED");
    assert_eq!(body["amount_cents"], 500);
    assert_eq!(body["provider_reference"], "ref-1");
    assert_eq!(
        body["payment_id"],
        crate::domain::payment_id(order_id).to_string()
    );
}

#[tokio::test]
async fn unknown_and_malformed_order_ids_are_problems() {
    let t = test_store().await;
    let (status, content_type, body) = get(&t, &format!("/payments/{}", Uuid::from_u128(5))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], 404);
    let (status, _, body) = get(&t, "/payments/not-a-uuid").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"][0]["field"], "order_id");
}
