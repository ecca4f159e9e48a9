//! Issue 3 item 7 over real HTTP through the whole stack: malformed JSON,
//! missing fields, negative quantities, unknown SKUs, oversized bodies, bad
//! or expired tokens and rate-limit overflow each get the right 4xx with a
//! problem+json body, never a 5xx, and place no order.

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::{Client, RequestBuilder, StatusCode, header};
use serde_json::{Value, json};
use tributary_users::{JwtConfig, Role, TokenIssuer, token::Subject};
use uuid::Uuid;

use crate::platform::{Platform, Start};

const SKU: &str = "e2e-bad-input-sku";
const PASSWORD: &str = "bad-input-password-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_4xx_problem_and_never_a_5xx() {
    // A small rate limit so overflow is cheap to provoke; the burst covers
    // the rest of the test.
    let platform = Platform::start(Start {
        env: vec![
            (
                "TRIBUTARY__GATEWAY__RATE_LIMIT__RATE_PER_SECOND",
                "1".to_owned(),
            ),
            ("TRIBUTARY__GATEWAY__RATE_LIMIT__BURST", "30".to_owned()),
        ],
        ..Start::default()
    })
    .await;
    let gateway = platform.gateway();
    // A fresh connection per request: a server answers an oversized or
    // unauthenticated body early and closes the connection without reading
    // the rest, and a pooled client could send the next case on that
    // closing connection (a broken pipe, not an answer).
    let http = Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("HTTP client");
    let url = |path: &str| format!("{gateway}{path}");

    let admin = login(
        &http,
        &url("/v1/sessions"),
        tributary_users::DEFAULT_ADMIN_EMAIL,
        tributary_users::DEFAULT_ADMIN_PASSWORD,
    )
    .await;
    let stocked = http
        .put(url(&format!("/v1/stock/{SKU}")))
        .bearer_auth(&admin)
        .json(&json!({"quantity": 10, "price_cents": 100}))
        .send()
        .await
        .expect("stocking");
    assert_eq!(stocked.status(), StatusCode::OK);
    let customer = register(&http, &url(""), "bad-input").await;

    let order = |lines: Value| json!({"lines": lines, "payment": {"token": "tok_ok"}});
    let post_order = || http.post(url("/v1/orders")).bearer_auth(&customer);
    let expired = expired_token();
    let oversized = json!({
        "lines": [{"sku": SKU, "quantity": 1}],
        "payment": {"token": "x".repeat(256 * 1024)}
    });
    let cases: Vec<(&str, RequestBuilder, StatusCode)> = vec![
        (
            "malformed JSON",
            post_order()
                .header(header::CONTENT_TYPE, "application/json")
                .body("{\"lines\": ["),
            StatusCode::BAD_REQUEST,
        ),
        (
            "missing field",
            post_order().json(&json!({"lines": [{"sku": SKU, "quantity": 1}]})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "negative quantity",
            post_order().json(&order(json!([{"sku": SKU, "quantity": -2}]))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "unknown SKU",
            post_order().json(&order(json!([{"sku": "e2e-no-such-sku", "quantity": 1}]))),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "oversized body",
            post_order().json(&oversized),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "bad token",
            http.post(url("/v1/orders"))
                .bearer_auth("not.a.token")
                .json(&order(json!([{"sku": SKU, "quantity": 1}]))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "expired token",
            http.post(url("/v1/orders"))
                .bearer_auth(&expired)
                .json(&order(json!([{"sku": SKU, "quantity": 1}]))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "no token",
            http.post(url("/v1/orders"))
                .json(&order(json!([{"sku": SKU, "quantity": 1}]))),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "wrong password",
            http.post(url("/v1/sessions"))
                .json(&json!({"email": "bad-input@e2e.test", "password": "wrong-password-1"})),
            StatusCode::UNAUTHORIZED,
        ),
        (
            "registration without a name",
            http.post(url("/v1/users"))
                .json(&json!({"email": "x@e2e.test", "password": PASSWORD})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "stock administration as a customer",
            http.put(url(&format!("/v1/stock/{SKU}")))
                .bearer_auth(&customer)
                .json(&json!({"quantity": 1, "price_cents": 1})),
            StatusCode::FORBIDDEN,
        ),
        (
            "an order id that is not a UUID",
            http.get(url("/v1/orders/not-a-uuid"))
                .bearer_auth(&customer),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (case, request, expected) in cases {
        let response = request.send().await.expect(case);
        assert_problem(case, response, expected).await;
    }

    // Rate-limit overflow: another customer floods a cheap read.
    let flooder = register(&http, &url(""), "flooder").await;
    let mut limited = 0;
    for _ in 0..60 {
        let response = http
            .get(url(&format!("/v1/stock/{SKU}")))
            .bearer_auth(&flooder)
            .send()
            .await
            .expect("flood request");
        match response.status() {
            StatusCode::OK => {}
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(
                    response.headers().contains_key(header::RETRY_AFTER),
                    "429 without Retry-After"
                );
                assert_problem(
                    "rate-limit overflow",
                    response,
                    StatusCode::TOO_MANY_REQUESTS,
                )
                .await;
                limited += 1;
            }
            other => panic!("flooding answered {other}"),
        }
    }
    assert!(
        limited > 0,
        "60 requests against a burst of 30 were never limited"
    );

    // None of it placed an order.
    let orders: Value = http
        .get(url("/v1/orders"))
        .bearer_auth(&customer)
        .send()
        .await
        .expect("listing orders")
        .json()
        .await
        .expect("order list");
    assert_eq!(orders["orders"], json!([]), "{orders}");
}

/// Asserts the answer is `expected` with an RFC 9457 problem body.
async fn assert_problem(case: &str, response: reqwest::Response, expected: StatusCode) {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().await.unwrap_or_default();
    assert!(
        !status.is_server_error(),
        "{case}: a 5xx ({status}): {body}"
    );
    assert_eq!(status, expected, "{case}: {body}");
    assert!(
        content_type.starts_with("application/problem+json"),
        "{case}: content type {content_type:?}: {body}"
    );
    let problem: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{case}: not JSON ({e}): {body}"));
    assert_eq!(
        problem["status"],
        json!(expected.as_u16()),
        "{case}: {body}"
    );
    assert!(problem["title"].is_string(), "{case}: {body}");
}

async fn login(http: &Client, url: &str, email: &str, password: &str) -> String {
    let session: Value = http
        .post(url)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login")
        .error_for_status()
        .expect("login accepted")
        .json()
        .await
        .expect("session");
    session["token"].as_str().expect("token").to_owned()
}

/// Registers `<name>@e2e.test` and returns its token.
async fn register(http: &Client, base: &str, name: &str) -> String {
    let email = format!("{name}@e2e.test");
    http.post(format!("{base}/v1/users"))
        .json(&json!({"email": email, "password": PASSWORD, "name": name}))
        .send()
        .await
        .expect("register")
        .error_for_status()
        .expect("registration accepted");
    login(http, &format!("{base}/v1/sessions"), &email, PASSWORD).await
}

/// A well-formed token, signed with the local default key, that expired an
/// hour ago.
fn expired_token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let two_hours_ago = i64::try_from(now).expect("time") - 2 * 3600;
    TokenIssuer::new(&JwtConfig::default())
        .expect("issuer")
        .issue(
            &Subject {
                user_id: Uuid::new_v4(),
                email: "expired@e2e.test".to_owned(),
                role: Role::Customer,
            },
            two_hours_ago,
        )
        .expect("token")
        .token
}
