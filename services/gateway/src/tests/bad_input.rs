//! Issue 3 item 7: every kind of bad input gets the right 4xx with a
//! problem+json body, never a 5xx, and places no order.

use axum::http::StatusCode;
use serde_json::json;
use tributary_users::{JwtConfig, Role};
use uuid::Uuid;

use super::support::{BODY_LIMIT, Call, TestGateway, issuer, now_secs, order, token, token_for};
use crate::{GatewayConfig, RateLimitConfig};

#[tokio::test]
async fn the_bad_order_table() {
    let gw = TestGateway::new().await;
    let (customer, _) = token(Role::Customer);
    let post = || Call::new("POST", "/v1/orders").token(&customer);

    let many_lines: Vec<(&str, i64)> = (0..51).map(|_| ("sku-1", 1)).collect();
    let oversized = format!(
        r#"{{"lines":[{{"sku":"sku-1","quantity":1}}],"payment":{{"token":"{}"}}}}"#,
        "x".repeat(BODY_LIMIT)
    );
    #[allow(clippy::type_complexity)]
    let table: Vec<(&str, Call, StatusCode, Option<&str>)> = vec![
        ("malformed JSON", post().raw("{\"lines\": [", Some("application/json")), StatusCode::BAD_REQUEST, None),
        ("not JSON at all", post().raw("lines=1", Some("application/json")), StatusCode::BAD_REQUEST, None),
        ("empty body", post().raw("", Some("application/json")), StatusCode::BAD_REQUEST, None),
        ("wrong content type", post().raw(order(&[("sku-1", 1)]).to_string(), Some("text/plain")), StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
        ("no content type", post().raw(order(&[("sku-1", 1)]).to_string(), None), StatusCode::UNSUPPORTED_MEDIA_TYPE, None),
        ("missing payment", post().json(&json!({"lines": [{"sku": "sku-1", "quantity": 1}]})), StatusCode::UNPROCESSABLE_ENTITY, Some("payment")),
        ("missing quantity", post().json(&json!({"lines": [{"sku": "sku-1"}], "payment": {"token": "t"}})), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].quantity")),
        ("wrong type", post().json(&json!({"lines": [{"sku": "sku-1", "quantity": "two"}], "payment": {"token": "t"}})), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].quantity")),
        ("unknown field", post().json(&json!({"lines": [{"sku": "sku-1", "quantity": 1}], "payment": {"token": "t"}, "coupon": "x"})), StatusCode::UNPROCESSABLE_ENTITY, Some("coupon")),
        ("negative quantity", post().json(&order(&[("sku-1", 1), ("sku-2", -2)])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[1].quantity")),
        ("zero quantity", post().json(&order(&[("sku-1", 0)])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].quantity")),
        ("huge quantity", post().json(&order(&[("sku-1", 1001)])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].quantity")),
        ("quantity beyond i64", post().raw(r#"{"lines":[{"sku":"sku-1","quantity":99999999999999999999}],"payment":{"token":"t"}}"#, Some("application/json")), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].quantity")),
        ("no lines", post().json(&order(&[])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines")),
        ("too many lines", post().json(&order(&many_lines)), StatusCode::UNPROCESSABLE_ENTITY, Some("lines")),
        ("malformed SKU", post().json(&order(&[("no spaces", 1)])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[0].sku")),
        ("unknown SKU", post().json(&order(&[("sku-1", 1), ("sku-404", 2)])), StatusCode::UNPROCESSABLE_ENTITY, Some("lines[1].sku")),
        ("oversized body", post().raw(oversized, Some("application/json")), StatusCode::PAYLOAD_TOO_LARGE, None),
        ("bad Idempotency-Key", post().json(&order(&[("sku-1", 1)])).header("idempotency-key", "has space"), StatusCode::BAD_REQUEST, Some("Idempotency-Key")),
    ];
    for (case, call, status, field) in table {
        let answer = gw.send(call).await;
        assert_eq!(answer.status, status, "{case}: {}", answer.body);
        answer.assert_problem(status);
        assert!(answer.header("x-request-id").is_some(), "{case}");
        if let Some(field) = field {
            assert!(
                answer.fields().iter().any(|f| f == field),
                "{case}: expected field {field} in {}",
                answer.body
            );
        }
    }
    assert!(
        gw.placed().await.is_empty(),
        "no bad request placed an order"
    );
}

#[tokio::test]
async fn bad_and_expired_tokens_are_401_with_a_bearer_challenge() {
    let gw = TestGateway::new().await;
    let user = Uuid::new_v4();
    let expired = token_for(user, Role::Customer, now_secs() - 2 * 3600);
    let foreign = issuer(&JwtConfig {
        secret: "another-secret-that-is-long-enough-to-sign".into(),
        ..JwtConfig::default()
    })
    .issue(
        &tributary_users::token::Subject {
            user_id: user,
            email: "x@example.com".into(),
            role: Role::Admin,
        },
        now_secs(),
    )
    .expect("issue")
    .token;
    let wrong_audience = issuer(&JwtConfig {
        audience: "somebody-else".into(),
        ..JwtConfig::default()
    })
    .issue(
        &tributary_users::token::Subject {
            user_id: user,
            email: "x@example.com".into(),
            role: Role::Customer,
        },
        now_secs(),
    )
    .expect("issue")
    .token;
    let unsigned = {
        let valid = token_for(user, Role::Admin, now_secs());
        let claims = valid.split('.').nth(1).expect("claims").to_owned();
        // {"alg":"none","typ":"JWT"}
        format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{claims}.")
    };
    let body = order(&[("sku-1", 1)]);
    for (case, token) in [
        ("missing", None),
        ("garbage", Some("not.a.token")),
        ("expired", Some(expired.as_str())),
        ("signed with another secret", Some(foreign.as_str())),
        ("for another audience", Some(wrong_audience.as_str())),
        ("alg none", Some(unsigned.as_str())),
    ] {
        let mut call = Call::new("POST", "/v1/orders").json(&body);
        if let Some(token) = token {
            call = call.token(token);
        }
        let answer = gw.send(call).await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
        assert!(
            answer
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "{case}: {:?}",
            answer.headers
        );
        // The same for reads.
        let answer = gw
            .send(
                Call::new("GET", format!("/v1/orders/{}", gw.known_order))
                    .token(token.unwrap_or("")),
            )
            .await;
        answer.assert_problem(StatusCode::UNAUTHORIZED);
    }
    let answer = gw
        .send(Call::new("GET", "/v1/stock/sku-1").header("authorization", "Basic dXNlcjpwYXNz"))
        .await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    assert!(gw.placed().await.is_empty());
}

#[tokio::test]
async fn wrong_roles_are_403() {
    let gw = TestGateway::new().await;
    let (customer, _) = token(Role::Customer);
    let answer = gw
        .send(
            Call::new("PUT", "/v1/stock/sku-1")
                .token(&customer)
                .json(&json!({"quantity": 5, "price_cents": 100})),
        )
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    let answer = gw
        .send(Call::new("GET", format!("/v1/orders?customer={}", Uuid::new_v4())).token(&customer))
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN);
    let answer = gw
        .send(Call::new("GET", "/v1/analytics/summary").token(&customer))
        .await;
    answer.assert_problem(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn rate_limit_overflow_is_429_with_retry_after() {
    let gw = TestGateway::with_config(GatewayConfig {
        rate_limit: RateLimitConfig {
            rate_per_second: 0.5,
            burst: 3,
            ..RateLimitConfig::default()
        },
        ..GatewayConfig::default()
    })
    .await;
    let (customer, _) = token(Role::Customer);
    for _ in 0..3 {
        let answer = gw
            .send(Call::new("GET", "/v1/stock/sku-1").token(&customer))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let answer = gw
        .send(Call::new("GET", "/v1/stock/sku-1").token(&customer))
        .await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = answer
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    // Another user, and an anonymous client, have their own buckets.
    let (other, _) = token(Role::Customer);
    let answer = gw
        .send(Call::new("GET", "/v1/stock/sku-1").token(&other))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    for _ in 0..3 {
        let answer = gw.send(Call::new("GET", "/openapi.json")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let answer = gw.send(Call::new("GET", "/openapi.json")).await;
    answer.assert_problem(StatusCode::TOO_MANY_REQUESTS);
    let answer = gw
        .send(Call::new("GET", "/openapi.json").peer(([10, 0, 0, 9], 5555).into()))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "a different address");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let gw = TestGateway::new().await;
    gw.send(Call::new("GET", "/v1/nothing-here"))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    gw.send(Call::new("DELETE", "/v1/orders"))
        .await
        .assert_problem(StatusCode::METHOD_NOT_ALLOWED);
    let (customer, _) = token(Role::Customer);
    gw.send(Call::new("GET", "/v1/orders/not-a-uuid").token(&customer))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    gw.send(Call::new("GET", "/v1/stock/bad%20sku").token(&customer))
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    gw.send(Call::new("GET", "/v1/orders?customer=nope").token(&customer))
        .await
        .assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    gw.send(Call::new("GET", "/v1/orders?limit=many").token(&customer))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn registration_and_login_bodies_are_checked_at_the_edge() {
    let gw = TestGateway::new().await;
    let answer = gw
        .send(Call::new("POST", "/v1/users").json(&json!({"email": "a@b.co", "name": "Ada"})))
        .await;
    answer.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer.fields(), ["password"]);
    gw.send(Call::new("POST", "/v1/sessions").raw("{", Some("application/json")))
        .await
        .assert_problem(StatusCode::BAD_REQUEST);
    // Upstream client errors pass through unchanged.
    let answer = gw
        .send(Call::new("POST", "/v1/users").json(
            &json!({"email": "taken@example.com", "password": "correct horse", "name": "Ada"}),
        ))
        .await;
    answer.assert_problem(StatusCode::CONFLICT);
    assert_eq!(answer.body["title"], "stub");
    let answer = gw
        .send(
            Call::new("POST", "/v1/sessions")
                .json(&json!({"email": "a@b.co", "password": "nope nope"})),
        )
        .await;
    answer.assert_problem(StatusCode::UNAUTHORIZED);
    let answer = gw
        .send(
            Call::new("POST", "/v1/users")
                .header("x-request-id", "req-42")
                .json(&json!({"email": "new@example.com", "password": "correct horse", "name": "Ada"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["email"], "new@example.com");
    // The request id is echoed and travels to the upstream.
    assert_eq!(answer.header("x-request-id"), Some("req-42"));
    assert_eq!(answer.body["seen_request_id"], "req-42");
}
