//! A Python consumer nobody here wrote — pika for AMQP, confluent-kafka's
//! AvroDeserializer with our registry — decodes bridged events.

use std::time::Duration;

use tributary_bridge::QueueType;

use crate::helpers::{TestApp, confirmed, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_confluent_client_decodes_bridged_events() {
    let app = TestApp::start(QueueType::Classic).await;
    let users = app.subscribe(&app.names.egress_exchange("users")).await;
    let bridge = app.bridge().await;
    let producer = app.producer().await;
    let sent = [user(1), user(2)];
    for event in &sent {
        app.produce(&producer, event).await;
    }
    // The unbound orders exchange: returned and dead-lettered, not decoded here.
    app.produce(&producer, &confirmed(1)).await;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/python-interop");
    let output = tokio::time::timeout(
        Duration::from_secs(300),
        tokio::process::Command::new(script)
            .args(["--amqp-url", &app.config.amqp_url])
            .args(["--queue", &users])
            .args(["--registry-url", &app.bus.registry_url])
            .args(["--count", "2", "--timeout", "60"])
            .output(),
    )
    .await
    .expect("the python client finishes in time")
    .expect("the python client runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "python client failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let decoded: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(decoded.len(), 2);
    for event in &sent {
        let id = event.envelope.event_id.to_string();
        let line = decoded
            .iter()
            .find(|d| d["message_id"] == id.as_str())
            .unwrap_or_else(|| panic!("event {id} decoded by python: {stdout}"));
        assert_eq!(line["routing_key"], "user.registered");
        assert_eq!(line["ce_type"], "io.tributary.user.registered");
        assert_eq!(line["event"]["email"], event.email.as_str());
        assert_eq!(line["event"]["envelope"]["event_id"], id.as_str());
    }
    bridge.stop().await;
    app.cleanup(&[&users]).await;
}
