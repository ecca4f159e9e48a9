//! `ServiceContext::commit` without a broker: request-caused effects land in
//! the store atomically with the outbox, idempotently per event id.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use tower::ServiceExt as _;
use tributary_bus::headers::names;
use tributary_contracts::events::AnyEvent;
use tributary_service::{Effects, ServiceContext, http::api_router};
use tributary_telemetry::Metrics;
use tributary_views::{Expect, Outcome, ViewsConfig, open_store};
use uuid::Uuid;

use crate::helpers::{COUNTS, COUNTS_DEF, Count, counting_service, user};

async fn context(dir: &tempfile::TempDir) -> ServiceContext {
    let store = open_store(&ViewsConfig::embedded(dir.path()), "commits", &[COUNTS_DEF])
        .await
        .expect("store opens");
    ServiceContext::standalone("commits", store)
}

#[tokio::test]
async fn a_commit_is_atomic_with_the_outbox_and_idempotent_per_event_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(&dir).await;
    let registered = user("Ada");
    let write = COUNTS
        .put("all", "", &Count { count: 1 }, Expect::Absent)
        .expect("write");
    let effects = Effects::none()
        .write(write)
        .emit(AnyEvent::UserRegistered(registered.clone()));
    let request = Uuid::new_v4();

    assert_eq!(
        ctx.commit(Some(request), effects.clone())
            .await
            .expect("commit"),
        Outcome::Applied
    );
    assert_eq!(
        ctx.commit(Some(request), effects.clone())
            .await
            .expect("commit"),
        Outcome::Duplicate
    );
    // Without an id the same effects are a new command; its expectation
    // now fails and nothing is applied.
    assert!(matches!(
        ctx.commit(None, effects).await.expect("commit"),
        Outcome::Conflict {
            table: "counts",
            ..
        }
    ));

    let pending = ctx.store().outbox_pending(10).await.expect("outbox");
    assert_eq!(pending.len(), 1, "{pending:?}");
    let message = &pending[0].message;
    assert_eq!(message.topic, "users");
    assert_eq!(message.key, registered.user_id.to_string());
    assert_eq!(message.event_id, registered.envelope.event_id);
    let header = |name: &str| {
        message
            .headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    };
    assert_eq!(
        header(names::CE_ID),
        Some(registered.envelope.event_id.to_string())
    );
    assert_eq!(
        header(names::CE_TYPE).as_deref(),
        Some("io.tributary.user.registered")
    );
    assert_eq!(
        header(names::CONTENT_TYPE).as_deref(),
        Some("application/avro")
    );
    assert_eq!(message.payload[0], 0, "Confluent magic byte");
    assert_eq!(
        COUNTS
            .get(ctx.store(), "all", "")
            .await
            .expect("read")
            .map(|r| r.value),
        Some(Count { count: 1 })
    );
}

/// A service's routes, served through the shared router, commit through
/// the context: the second identical command is recognised.
#[tokio::test]
async fn command_routes_commit_idempotently() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = context(&dir).await;
    let routes = counting_service("commits", std::time::Duration::ZERO)
        .routes
        .expect("the test service has routes")(ctx.clone());
    let router = api_router(routes, Metrics::new(), 4096);
    let post = || {
        Request::post("/users")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"email":"ada@example.com","name":"Ada"}"#))
            .expect("request")
    };
    let first = router.clone().oneshot(post()).await.expect("answer");
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = router.clone().oneshot(post()).await.expect("answer");
    assert_eq!(second.status(), StatusCode::OK);
    assert_eq!(
        ctx.store().outbox_pending(10).await.expect("outbox").len(),
        1
    );
}
