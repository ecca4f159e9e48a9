//! `tributary run bridge`: the bridge as a platform service — the same
//! runtime as every other service, with `/health/*` and `/metrics`.

use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tributary_bridge::QueueType;
use tributary_service::{Application, ServiceConfig};
use tributary_testkit::wait_until;

use crate::helpers::{TestApp, user};

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_runs_as_a_platform_service() {
    let app = TestApp::start(QueueType::Classic).await;
    let data = tempfile::tempdir().expect("tempdir");
    let subscriber = app.subscribe(&app.names.egress_exchange("users")).await;
    let config = ServiceConfig {
        bus: app.bus.clone(),
        views: tributary_views::ViewsConfig::embedded(data.path()),
        http_listen: "127.0.0.1:0".parse().expect("address"),
        shutdown_deadline: Duration::from_secs(20),
        ..ServiceConfig::default()
    };
    let service = Application::build(
        tributary_bridge::definition(app.config.clone(), app.bus.clone()),
        config,
    )
    .await
    .expect("the bridge service builds");
    let addr = service.local_addr();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(service.run_until(stop.clone().cancelled_owned()));

    let producer = app.producer().await;
    let event = user(1);
    app.produce(&producer, &event).await;
    let got = app.take(&subscriber, 1).await;
    assert_eq!(
        got[0]
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        Some(event.envelope.event_id.to_string())
    );
    assert!(
        http_get(addr, "/health/live")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // The subscriber can see the message before the bridge has its publisher
    // confirm and counts the event as consumed: wait for the count.
    wait_until(
        Duration::from_secs(30),
        "the bridge counts the consumed event on /metrics",
        || async {
            http_get(addr, "/metrics")
                .await
                .contains("tributary_events_consumed_total")
        },
    )
    .await;

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("stops in time")
        .expect("joins")
        .expect("runs without error");
    app.cleanup(&[&subscriber]).await;
}
