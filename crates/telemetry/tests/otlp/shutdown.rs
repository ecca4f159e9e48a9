//! A collector that is down or hangs costs shutdown its deadline at most.

use std::time::Duration;

use tokio::net::TcpListener;
use tributary_telemetry::{OtlpConfig, TracingGuard};

use crate::{random_name, record_spans, shut_down};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_hangs_holds_up_shutdown_only_until_the_deadline() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let blackhole = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let _ = accepted_tx.send(socket);
        }
    });
    let endpoint = format!("http://{address}/v1/traces").parse().expect("url");
    let deadline = Duration::from_secs(1);
    let config = OtlpConfig::new(endpoint)
        .with_timeout(Duration::from_secs(120))
        .with_shutdown_timeout(deadline);
    let guard = TracingGuard::new(&random_name("inventory"), Some(&config)).expect("provider");

    record_spans(&guard);
    let took = shut_down(guard).await;

    // The export really was under way, stuck on the collector.
    tokio::time::timeout(Duration::from_secs(30), accepted.recv())
        .await
        .expect("the exporter connected")
        .expect("blackhole alive");
    assert!(took >= deadline, "waited for the flush: {took:?}");
    assert!(
        took < deadline + Duration::from_secs(5),
        "shutdown took {took:?}, the deadline is {deadline:?} and the export timeout 120 s"
    );
    blackhole.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_down_does_not_hold_up_shutdown() {
    // A port that was just free: connecting is refused.
    let address = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("address");
    let endpoint = format!("http://{address}/v1/traces").parse().expect("url");
    let config = OtlpConfig::new(endpoint).with_shutdown_timeout(Duration::from_secs(30));
    let guard = TracingGuard::new(&random_name("users"), Some(&config)).expect("provider");

    record_spans(&guard);
    let took = shut_down(guard).await;

    assert!(
        took < Duration::from_secs(10),
        "a refused export should end the flush at once, took {took:?}"
    );
}
