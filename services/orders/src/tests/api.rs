use axum::http::StatusCode;
use serde_json::Value;
use tributary_service::testing::{as_served, content_type, get_json};
use uuid::Uuid;

use super::support::TestView;
use crate::{OrdersConfig, api, test_support::Saga};

const NOW: i64 = 1_700_000_000_000;

async fn get(view: &TestView, uri: &str) -> (StatusCode, Option<String>, Value) {
    let routes = api::router(view.base.context.clone(), &OrdersConfig::default());
    let (status, headers, body) = get_json(as_served(routes), uri).await;
    (status, content_type(&headers).map(str::to_owned), body)
}

#[tokio::test]
async fn an_order_has_the_documented_shape() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);
    view.consume(saga.placed()).await.expect("placed");
    let (status, _, body) = get(&view, &format!("/orders/{}", saga.order_id)).await;
    assert_eq!(status, StatusCode::OK);
    for key in [
        "id",
        "status",
        "reason",
        "total_cents",
        "lines",
        "customer_id",
        "placed_at",
        "updated_at",
    ] {
        assert!(body.get(key).is_some(), "missing `{key}` in {body}");
    }
    assert_eq!(body["id"], saga.order_id.to_string());
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["reason"], Value::Null);
    assert_eq!(body["total_cents"], Value::Null);
    assert_eq!(body["lines"][0]["sku"], "sku-a");
    assert_eq!(body["lines"][0]["quantity"], 2);

    view.consume(saga.reserved()).await.expect("reserved");
    view.consume(saga.declined()).await.expect("declined");
    let (_, _, body) = get(&view, &format!("/orders/{}", saga.order_id)).await;
    assert_eq!(body["status"], "CANCELLED");
    assert_eq!(body["reason"], "PAYMENT_DECLINED");
    assert_eq!(body["detail"], "card declined");
    assert_eq!(body["total_cents"], 1000);
    assert_eq!(body["updated_at"], saga.declined().envelope.occurred_at);
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_problems() {
    let view = TestView::open(NOW).await;
    let (status, content_type, body) = get(&view, &format!("/orders/{}", Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert_eq!(body["status"], 404);

    let (status, content_type, body) = get(&view, "/orders/not-a-uuid").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    assert!(
        body["detail"]
            .as_str()
            .expect("detail")
            .contains("not-a-uuid")
    );

    let (status, _, _) = get(&view, "/orders/not-a-uuid/timeline").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _, _) = get(&view, &format!("/orders/{}/timeline", Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_customers_orders_are_newest_first() {
    let view = TestView::open(NOW).await;
    let customer = Uuid::new_v4();
    let sagas: Vec<Saga> = (0..3)
        .map(|i| Saga::for_customer(customer, NOW - 10_000 + i * 1_000))
        .collect();
    for saga in &sagas {
        view.consume(saga.placed()).await.expect("placed");
    }
    view.consume(Saga::new(NOW).placed())
        .await
        .expect("someone else's");

    let (status, _, body) = get(&view, &format!("/orders?customer={customer}")).await;
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<&str> = body["orders"]
        .as_array()
        .expect("orders")
        .iter()
        .map(|o| o["id"].as_str().expect("id"))
        .collect();
    let expected: Vec<String> = sagas.iter().rev().map(|s| s.order_id.to_string()).collect();
    assert_eq!(ids, expected);

    let (_, _, body) = get(&view, &format!("/orders?customer={customer}&limit=2")).await;
    assert_eq!(body["orders"].as_array().expect("orders").len(), 2);
    assert_eq!(body["orders"][0]["id"], sagas[2].order_id.to_string());

    for bad in [
        "/orders".to_owned(),
        "/orders?customer=nope".to_owned(),
        format!("/orders?customer={customer}&limit=0"),
        format!("/orders?customer={customer}&limit=100000"),
        format!("/orders?customer={customer}&limit=x"),
        format!("/orders?customer={customer}&colour=red"),
    ] {
        let (status, content_type, _) = get(&view, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{bad}"
        );
    }

    let (status, _, body) = get(&view, &format!("/orders?customer={}", Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["orders"], Value::Array(vec![]));
}

#[tokio::test]
async fn the_timeline_shows_latency_between_steps() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW - 1_000);
    view.consume(saga.placed()).await.expect("placed");
    view.consume(saga.reserved()).await.expect("reserved");
    view.consume(saga.authorized()).await.expect("authorized");

    let (status, _, body) = get(&view, &format!("/orders/{}/timeline", saga.order_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "CONFIRMED");
    let entries = body["entries"].as_array().expect("entries");
    let types: Vec<&str> = entries
        .iter()
        .map(|e| e["event_type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        ["order.placed", "stock.reserved", "payment.authorized"]
    );
    assert_eq!(entries[0]["latency_ms"], Value::Null);
    assert_eq!(entries[1]["latency_ms"], 5);
    assert_eq!(entries[2]["latency_ms"], 5);
    assert_eq!(entries[2]["since_start_ms"], 10);
    assert_eq!(entries[1]["producer"], "inventory");
    assert_eq!(
        entries[1]["event_id"],
        saga.reserved().envelope.event_id.to_string()
    );
    assert!(
        entries[1]["detail"]
            .as_str()
            .expect("detail")
            .contains("1000 cents")
    );
    assert_eq!(body["duration_ms"], NOW - saga.placed_at);
    assert_eq!(body["truncated"], false);
}

#[tokio::test]
async fn stuck_sagas_are_pending_and_old_enough() {
    let view = TestView::open(NOW).await;
    let ancient = Saga::new(NOW - 120_000);
    let old = Saga::new(NOW - 60_000);
    let fresh = Saga::new(NOW - 1_000);
    let finished = Saga::new(NOW - 90_000);
    for saga in [&ancient, &old, &fresh, &finished] {
        view.consume(saga.placed()).await.expect("placed");
    }
    view.consume(old.reserved()).await.expect("reserved");
    view.consume(finished.rejected()).await.expect("rejected");

    let (status, _, body) = get(&view, "/sagas/stuck?older_than_ms=30000").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["older_than_ms"], 30_000);
    assert_eq!(body["as_of"], NOW);
    let sagas = body["sagas"].as_array().expect("sagas");
    let ids: Vec<&str> = sagas
        .iter()
        .map(|s| s["order_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [ancient.order_id.to_string(), old.order_id.to_string()]
    );
    assert_eq!(sagas[0]["age_ms"], 120_000);
    assert_eq!(sagas[1]["last_step"]["event_type"], "stock.reserved");

    let (_, _, body) = get(&view, "/sagas/stuck?older_than_ms=0&limit=1").await;
    assert_eq!(body["sagas"].as_array().expect("sagas").len(), 1);
    // Defaults to the saga timeout (30 s).
    let (_, _, body) = get(&view, "/sagas/stuck").await;
    assert_eq!(body["sagas"].as_array().expect("sagas").len(), 2);

    for bad in [
        "/sagas/stuck?older_than_ms=-1",
        "/sagas/stuck?older_than_ms=soon",
    ] {
        let (status, _, _) = get(&view, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[tokio::test]
async fn the_definition_declares_the_service() {
    let definition = crate::definition(OrdersConfig::default());
    assert_eq!(definition.name, "orders");
    assert_eq!(definition.group_id(), "tributary.orders");
    assert_eq!(definition.consumes, ["orders", "inventory", "payments"]);
    assert_eq!(definition.tables.len(), 4);
    assert!(definition.projector.is_some());
    assert!(definition.routes.is_some());
    assert_eq!(definition.tasks.len(), 1);
    let quiet = crate::definition(OrdersConfig {
        sweeper_enabled: false,
        ..OrdersConfig::default()
    });
    assert!(quiet.tasks.is_empty());
}
