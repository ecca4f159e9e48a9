//! The log channel on a real file and the webhook channel against a real
//! HTTP server on an ephemeral port.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::HeaderMap, http::StatusCode, routing::post};
use tributary_contracts::{Envelope, events::NotificationKind};
use uuid::Uuid;

use crate::{
    channel::{
        BreakerConfig, BreakerState, Channel, ChannelError, LogChannel, WebhookChannel,
        WebhookPayload,
    },
    domain::{Notification, Trigger, compose},
};

fn notification() -> Notification {
    let user_id = Uuid::new_v4();
    let trigger = Trigger {
        kind: NotificationKind::Welcome,
        subject_id: user_id,
        user_id,
        email: Some("ada@example.com".into()),
        name: Some("Ada".into()),
        detail: String::new(),
        cause: Envelope::originating("users", user_id.to_string(), 5),
    };
    compose(&trigger, None, "webhook")
}

#[tokio::test]
async fn the_log_channel_appends_whole_json_lines() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("nested/dir/delivered.jsonl");
    let channel = Arc::new(LogChannel::new(path.clone()));
    let sent: Vec<Notification> = (0..40).map(|_| notification()).collect();
    let tasks: Vec<_> = sent
        .iter()
        .cloned()
        .map(|n| {
            let channel = channel.clone();
            tokio::spawn(async move { channel.deliver(&n).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("joined").expect("delivered");
    }
    let text = std::fs::read_to_string(&path).expect("file written");
    let mut lines: Vec<Notification> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("a whole notification per line"))
        .collect();
    assert_eq!(lines.len(), sent.len());
    lines.sort_by_key(|n| n.id);
    let mut expected = sent;
    expected.sort_by_key(|n| n.id);
    assert_eq!(lines, expected);
}

#[tokio::test]
async fn the_log_channel_reports_an_unwritable_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    // A directory where the file should be.
    let channel = LogChannel::new(dir.path().to_path_buf());
    let error = channel
        .deliver(&notification())
        .await
        .expect_err("not a file");
    assert!(matches!(error, ChannelError::File { .. }), "{error}");
}

/// A delivery as the receiver saw it: the `Idempotency-Key` and the body.
type Delivery = (Option<String>, WebhookPayload);

/// A webhook receiver: counts hits, answers `status` after `delay_ms`.
#[derive(Debug, Clone, Default)]
struct Receiver {
    hits: Arc<AtomicUsize>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    received: Arc<Mutex<Vec<Delivery>>>,
}

async fn receive(State(receiver): State<Receiver>, headers: HeaderMap, body: String) -> StatusCode {
    receiver.hits.fetch_add(1, Ordering::SeqCst);
    let delay = receiver.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(payload) = serde_json::from_str(&body) {
        receiver.received.lock().expect("lock").push((key, payload));
    }
    StatusCode::from_u16(receiver.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::OK)
}

async fn start_receiver() -> (String, Receiver) {
    let receiver = Receiver::default();
    receiver.status.store(200, Ordering::SeqCst);
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{address}/hook"), receiver)
}

fn breaker(threshold: u32, open_for: Duration) -> BreakerConfig {
    BreakerConfig {
        failure_threshold: threshold,
        open_for,
    }
}

#[tokio::test]
async fn the_webhook_posts_the_notification_with_its_id() {
    let (url, receiver) = start_receiver().await;
    let channel = WebhookChannel::new(&url, Duration::from_secs(5), BreakerConfig::default())
        .expect("channel");
    let n = notification();
    channel.deliver(&n).await.expect("delivered");
    let received = receiver.received.lock().expect("lock").clone();
    assert_eq!(received.len(), 1);
    let (key, payload) = &received[0];
    assert_eq!(key.as_deref(), Some(n.id.to_string().as_str()));
    assert_eq!(payload.notification_id, n.id);
    assert_eq!(payload.kind, NotificationKind::Welcome);
    assert_eq!(payload.recipient, "ada@example.com");
    assert_eq!(payload.body, n.body);
}

#[tokio::test]
async fn failing_webhooks_open_the_circuit_and_recover() {
    let (url, receiver) = start_receiver().await;
    receiver.status.store(503, Ordering::SeqCst);
    let channel = WebhookChannel::new(
        &url,
        Duration::from_secs(5),
        breaker(2, Duration::from_millis(200)),
    )
    .expect("channel");
    for _ in 0..2 {
        let error = channel
            .deliver(&notification())
            .await
            .expect_err("rejected");
        assert!(
            matches!(error, ChannelError::Rejected { status: 503, .. }),
            "{error}"
        );
    }
    assert_eq!(channel.breaker().state(), BreakerState::Open);
    let error = channel.deliver(&notification()).await.expect_err("paused");
    assert!(matches!(error, ChannelError::CircuitOpen { .. }), "{error}");
    assert_eq!(
        receiver.hits.load(Ordering::SeqCst),
        2,
        "the open circuit spares the receiver"
    );

    // The receiver recovers; once the circuit lets a trial through, it closes.
    receiver.status.store(200, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match channel.deliver(&notification()).await {
            Ok(()) => break,
            Err(ChannelError::CircuitOpen { .. }) => {
                assert!(tokio::time::Instant::now() < deadline, "never half-opened");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(channel.breaker().state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_slow_webhook_times_out() {
    let (url, receiver) = start_receiver().await;
    receiver.delay_ms.store(2_000, Ordering::SeqCst);
    let channel = WebhookChannel::new(&url, Duration::from_millis(100), BreakerConfig::default())
        .expect("channel");
    let started = std::time::Instant::now();
    let error = channel
        .deliver(&notification())
        .await
        .expect_err("timed out");
    assert!(matches!(error, ChannelError::Unreachable { .. }), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_unreachable_webhook_is_an_error() {
    // Bind and drop to get a port nobody listens on.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
        listener.local_addr().expect("address").port()
    };
    let channel = WebhookChannel::new(
        &format!("http://127.0.0.1:{port}/hook"),
        Duration::from_secs(2),
        BreakerConfig::default(),
    )
    .expect("channel");
    let error = channel.deliver(&notification()).await.expect_err("refused");
    assert!(matches!(error, ChannelError::Unreachable { .. }), "{error}");
}
