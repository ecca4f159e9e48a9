use axum::http::StatusCode;
use serde_json::Value;
use tributary_service::testing::{as_served, content_type, get_json};

use super::support::{TestView, cancelled, confirmed, registered};
use crate::{NotificationsConfig, api};

async fn get(view: &TestView, uri: &str) -> (StatusCode, Option<String>, Value) {
    let routes = api::router(view.base.context.clone(), &NotificationsConfig::default());
    let (status, headers, body) = get_json(as_served(routes), uri).await;
    (status, content_type(&headers).map(str::to_owned), body)
}

#[tokio::test]
async fn lists_a_recipients_notifications_newest_first() {
    let view = TestView::open().await;
    let user = registered("ada@example.com", "Ada");
    view.consume(user.clone()).await.expect("registered");
    view.consume(confirmed(user.user_id, 2_000))
        .await
        .expect("confirmed");
    view.consume(cancelled(user.user_id, 3_000))
        .await
        .expect("cancelled");

    let (status, _, body) = get(&view, "/notifications?recipient=ada@example.com").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["recipient"], "ada@example.com");
    let kinds: Vec<&str> = body["notifications"]
        .as_array()
        .expect("list")
        .iter()
        .map(|n| n["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["ORDER_CANCELLED", "ORDER_CONFIRMED", "WELCOME"]);
    let first = &body["notifications"][0];
    for key in [
        "id",
        "recipient",
        "kind",
        "subject_id",
        "title",
        "body",
        "channel",
        "created_at",
    ] {
        assert!(first.get(key).is_some(), "missing `{key}`");
    }

    let (_, _, body) = get(&view, "/notifications?recipient=ada@example.com&limit=1").await;
    assert_eq!(body["notifications"].as_array().expect("list").len(), 1);
    let (_, _, body) = get(&view, "/notifications?recipient=nobody@example.com").await;
    assert_eq!(body["notifications"], Value::Array(vec![]));
}

#[tokio::test]
async fn bad_queries_are_problems() {
    let view = TestView::open().await;
    for bad in [
        "/notifications",
        "/notifications?recipient=",
        "/notifications?recipient=a&limit=0",
        "/notifications?recipient=a&limit=many",
        "/notifications?recipient=a&limit=1000000",
        "/notifications?recipient=a&sort=asc",
    ] {
        let (status, content_type, body) = get(&view, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(
            content_type.as_deref(),
            Some("application/problem+json"),
            "{bad}"
        );
        assert_eq!(body["status"], 400, "{bad}");
    }
}

#[test]
fn the_definition_declares_the_service() {
    let definition = crate::definition(NotificationsConfig::default());
    assert_eq!(definition.name, "notifications");
    assert_eq!(definition.group_id(), "tributary.notifications");
    assert_eq!(definition.consumes, ["orders", "users"]);
    assert_eq!(definition.tables.len(), 3);
    assert!(definition.projector.is_some());
    assert!(definition.routes.is_some());
    assert!(definition.tasks.is_empty());

    let broken = NotificationsConfig {
        channel: crate::channel::ChannelConfig::Webhook {
            url: "nope".into(),
            timeout: std::time::Duration::from_secs(1),
            breaker: crate::channel::BreakerConfig::default(),
        },
        ..NotificationsConfig::default()
    };
    assert!(crate::try_definition(broken.clone()).is_err());
    // `definition` does not panic on it.
    assert_eq!(crate::definition(broken).name, "notifications");
}
