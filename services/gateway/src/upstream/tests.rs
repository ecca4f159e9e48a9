//! Upstream pool tests against real HTTP servers on ephemeral ports.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::http::{Method, StatusCode};
use axum::routing::{get, post};
use bytes::Bytes;
use tokio::net::TcpListener;

use super::*;
use crate::config::BreakerConfig;

/// A stub instance counting the requests it got.
struct Stub {
    url: Url,
    hits: Arc<AtomicUsize>,
}

async fn serve(router: Router) -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    Url::parse(&format!("http://{addr}")).expect("url")
}

async fn stub(status: StatusCode, delay: Duration) -> Stub {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let handler = move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            (
                status,
                [(header::CONTENT_TYPE, "application/problem+json")],
                r#"{"status":404,"detail":"from upstream"}"#,
            )
        }
    };
    let router = Router::new()
        .route("/thing", get(handler.clone()))
        .route("/thing", post(handler));
    Stub {
        url: serve(router).await,
        hits,
    }
}

/// An address nothing listens on: connections are refused at once.
async fn dead() -> Url {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    drop(listener);
    Url::parse(&format!("http://{addr}")).expect("url")
}

fn upstreams(orders: Vec<Url>) -> Upstreams {
    Upstreams::new(&UpstreamConfig {
        orders,
        timeout: Duration::from_millis(300),
        breaker: BreakerConfig {
            failure_threshold: 2,
            cooldown: Duration::from_secs(60),
        },
        ..UpstreamConfig::default()
    })
    .expect("client")
}

#[tokio::test]
async fn round_robin_spreads_calls_over_instances() {
    let a = stub(StatusCode::OK, Duration::ZERO).await;
    let b = stub(StatusCode::OK, Duration::ZERO).await;
    let up = upstreams(vec![a.url.clone(), b.url.clone()]);
    for _ in 0..10 {
        let response = up
            .call(Service::Orders, UpstreamRequest::get("/thing"))
            .await
            .expect("ok");
        assert_eq!(response.status, StatusCode::OK);
    }
    assert_eq!(a.hits.load(Ordering::SeqCst), 5);
    assert_eq!(b.hits.load(Ordering::SeqCst), 5);
}

#[tokio::test]
async fn client_errors_pass_through_unchanged() {
    let a = stub(StatusCode::NOT_FOUND, Duration::ZERO).await;
    let up = upstreams(vec![a.url.clone()]);
    let response = up
        .call(Service::Orders, UpstreamRequest::get("/thing"))
        .await
        .expect("a 404 is an answer");
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(
        response.content_type.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/problem+json")
    );
    assert_eq!(
        &response.body[..],
        br#"{"status":404,"detail":"from upstream"}"#
    );
    assert_eq!(up.breaker_states(Service::Orders), [BreakerState::Closed]);
}

#[tokio::test]
async fn gets_fail_over_and_the_breaker_takes_a_dead_instance_out() {
    let alive = stub(StatusCode::OK, Duration::ZERO).await;
    let up = upstreams(vec![dead().await, alive.url.clone()]);
    for _ in 0..6 {
        up.call(Service::Orders, UpstreamRequest::get("/thing"))
            .await
            .expect("the live instance answers");
    }
    assert_eq!(alive.hits.load(Ordering::SeqCst), 6);
    assert_eq!(
        up.breaker_states(Service::Orders),
        [BreakerState::Open, BreakerState::Closed]
    );
}

#[tokio::test]
async fn refused_connections_let_even_posts_move_on() {
    let alive = stub(StatusCode::OK, Duration::ZERO).await;
    let up = upstreams(vec![dead().await, alive.url.clone()]);
    for _ in 0..2 {
        let request = UpstreamRequest::json(Method::POST, "/thing", Bytes::from_static(b"{}"));
        up.call(Service::Orders, request)
            .await
            .expect("sent to the live one");
    }
    assert_eq!(alive.hits.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn server_errors_retry_gets_but_not_posts() {
    let a = stub(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let b = stub(StatusCode::INTERNAL_SERVER_ERROR, Duration::ZERO).await;
    let up = upstreams(vec![a.url.clone(), b.url.clone()]);
    let error = up
        .call(Service::Orders, UpstreamRequest::get("/thing"))
        .await
        .expect_err("both fail");
    assert_eq!(
        error,
        UpstreamError::ServerError {
            service: Service::Orders,
            status: 500
        }
    );
    assert_eq!(
        a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst),
        2
    );

    let request = UpstreamRequest::json(Method::POST, "/thing", Bytes::from_static(b"{}"));
    up.call(Service::Orders, request).await.expect_err("fails");
    assert_eq!(
        a.hits.load(Ordering::SeqCst) + b.hits.load(Ordering::SeqCst),
        3,
        "a POST that reached an instance is never re-sent"
    );
    let problem = tributary_service::ApiError::from(error);
    assert_eq!(problem.status(), StatusCode::BAD_GATEWAY);
    assert!(!problem.detail().contains("127.0.0.1"));
}

#[tokio::test]
async fn slow_instances_time_out_as_504() {
    let slow = stub(StatusCode::OK, Duration::from_secs(5)).await;
    let up = upstreams(vec![slow.url.clone()]);
    let error = up
        .call(Service::Orders, UpstreamRequest::get("/thing"))
        .await
        .expect_err("too slow");
    assert_eq!(error, UpstreamError::Timeout(Service::Orders));
    assert_eq!(
        tributary_service::ApiError::from(error).status(),
        StatusCode::GATEWAY_TIMEOUT
    );
}

#[tokio::test]
async fn all_instances_down_is_503() {
    let up = upstreams(vec![dead().await, dead().await]);
    for _ in 0..3 {
        let error = up
            .call(Service::Orders, UpstreamRequest::get("/thing"))
            .await
            .expect_err("down");
        assert!(
            matches!(error, UpstreamError::Unavailable { .. }),
            "{error:?}"
        );
        assert_eq!(
            tributary_service::ApiError::from(error).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    // Both breakers are open now: no connection is even attempted.
    assert_eq!(
        up.breaker_states(Service::Orders),
        [BreakerState::Open, BreakerState::Open]
    );
    let none = upstreams(Vec::new());
    assert_eq!(
        none.call(Service::Orders, UpstreamRequest::get("/thing"))
            .await
            .expect_err("none"),
        UpstreamError::NoInstances(Service::Orders)
    );
}
