//! One application against a real broker: consumed events update the view,
//! emitted events leave through the outbox exactly once, redeliveries change
//! nothing, poison goes to the DLQ without blocking later events, and the
//! health and metrics endpoints tell the truth.

use std::{collections::HashMap, time::Duration};

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use rdkafka::message::{Headers as _, Message as _};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceExt as _;
use tributary_bus::consumer::dlq_topic;
use tributary_contracts::{derived_event_id, events::AnyEvent};
use tributary_service::group_id;
use tributary_testkit::wait_until;
use uuid::Uuid;

use crate::helpers::{Running, TestEnv, counting_service, service_name, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn events_project_once_emit_once_and_poison_is_dead_lettered() {
    let env = TestEnv::start().await;
    let name = service_name();
    let group = group_id(name);
    let app = Running::start(counting_service(name, Duration::ZERO), env.config()).await;
    app.wait_ready().await;
    assert_eq!(
        http_get(app.addr, "/health/ready").await,
        200,
        "served over TCP"
    );

    // Five events through Kafka.
    let producer = env.producer().await;
    let mut users: Vec<_> = (0..5).map(|i| user(&format!("user {i}"))).collect();
    for u in &users {
        producer.send(u).await.expect("produce");
    }
    wait_until(
        Duration::from_secs(30),
        "the view to count 5 users",
        || async { app.count().await == 5 },
    )
    .await;

    // One through the service's own command route: outbox -> users topic ->
    // consumed back; the repeated command is recognised and emits nothing.
    let post = || {
        Request::post("/users")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"email":"grace@example.com","name":"Grace"}"#,
            ))
            .expect("request")
    };
    let first = app.router.clone().oneshot(post()).await.expect("answer");
    assert_eq!(first.status(), StatusCode::CREATED);
    let second = app.router.clone().oneshot(post()).await.expect("answer");
    assert_eq!(second.status(), StatusCode::OK);
    wait_until(
        Duration::from_secs(30),
        "the registered user to be counted",
        || async { app.count().await == 6 },
    )
    .await;

    // Redeliveries (same event ids), poison, then a later event.
    producer.send(&users[0]).await.expect("produce");
    producer.send(&users[1]).await.expect("produce");
    let poison = user("poison");
    producer.send(&poison).await.expect("produce");
    let late = user("late");
    producer.send(&late).await.expect("produce");
    users.push(late);
    let duplicates =
        format!(r#"tributary_events_duplicate_total{{topic="users",group="{group}"}} 2"#);
    wait_until(
        Duration::from_secs(30),
        "two redeliveries skipped and the late event counted",
        || async { app.context.metrics().render().contains(&duplicates) && app.count().await == 7 },
    )
    .await;

    let dlq = dlq_topic("users", &group);
    wait_until(
        Duration::from_secs(30),
        "the poison event in the DLQ",
        || async { !env.read_all(&dlq).await.is_empty() },
    )
    .await;
    let dead = env.read_all(&dlq).await;
    assert_eq!(dead.len(), 1);
    let header = |name: &str| header_of(&dead[0], name);
    assert_eq!(header("ce_id"), Some(poison.envelope.event_id.to_string()));
    assert_eq!(
        header("tributary.error.reason").as_deref(),
        Some("handler_permanent")
    );

    // Every welcome exactly once: the five, the registered one and the late one.
    wait_until(Duration::from_secs(30), "the outbox to drain", || async {
        app.context
            .store()
            .outbox_pending(1)
            .await
            .expect("outbox")
            .is_empty()
    })
    .await;
    let mut welcomes: HashMap<Uuid, usize> = HashMap::new();
    for event in env.events("notifications").await {
        let AnyEvent::NotificationSent(sent) = event else {
            panic!("unexpected event on notifications: {event:?}");
        };
        *welcomes.entry(sent.envelope.event_id).or_default() += 1;
    }
    let grace = Uuid::new_v5(&Uuid::NAMESPACE_URL, b"grace@example.com");
    let mut expected: Vec<Uuid> = users
        .iter()
        .map(|u| u.envelope.event_id)
        .chain([grace])
        .map(|cause| derived_event_id(cause, "test.welcome"))
        .collect();
    expected.sort();
    let mut seen: Vec<Uuid> = welcomes.keys().copied().collect();
    seen.sort();
    assert_eq!(seen, expected);
    assert!(welcomes.values().all(|n| *n == 1), "{welcomes:?}");
    // The registration went out once, too.
    let registrations = env
        .read_all("users")
        .await
        .iter()
        .filter(|m| m.key() == Some(grace.to_string().as_bytes()))
        .count();
    assert_eq!(registrations, 1);

    // The welcome continues the trace of the event that caused it.
    let cause_key = users[0].user_id.to_string();
    let input = env
        .read_all("users")
        .await
        .into_iter()
        .find(|m| m.key() == Some(cause_key.as_bytes()))
        .expect("first user on the users topic");
    let welcome = env
        .read_all("notifications")
        .await
        .into_iter()
        .find(|m| m.key() == Some(users[0].email.as_bytes()))
        .expect("first welcome on the notifications topic");
    let trace_id = |m: &rdkafka::message::OwnedMessage| {
        header_of(m, "traceparent").and_then(|t| t.split('-').nth(1).map(str::to_owned))
    };
    assert!(
        trace_id(&input).is_some(),
        "the producer sent a traceparent"
    );
    assert_eq!(trace_id(&welcome), trace_id(&input));

    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        metrics.contains(&format!(
            r#"tributary_events_consumed_total{{topic="users",group="{group}"}}"#
        )),
        "{metrics}"
    );
    assert!(metrics.contains(r#"route="/health/ready""#), "{metrics}");
    assert_eq!(http_get(app.addr, "/health/live").await, 200);
    app.stop().await;
}

/// The status code of `GET path` over a real TCP connection.
async fn http_get(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"))
}

/// The last value of header `name`, as text.
fn header_of(message: &rdkafka::message::OwnedMessage, name: &str) -> Option<String> {
    message.headers().and_then(|h| {
        h.iter()
            .filter(|h| h.key == name)
            .last()
            .and_then(|h| h.value.map(|v| String::from_utf8_lossy(v).into_owned()))
    })
}
