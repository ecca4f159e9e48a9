//! `sagas show / stuck` against the real orders query API, served
//! in-process over a store the orders projector filled.

use std::sync::Arc;

use tributary_bus::Received;
use tributary_contracts::events::AnyEvent;
use tributary_service::{Projector, ServiceContext};
use tributary_views::{Transaction, ViewStore, ViewsConfig, open_store};

/// Applies `event` to `store` through the orders projector.
async fn project(
    store: &dyn ViewStore,
    projector: &Arc<dyn Projector>,
    event: AnyEvent,
    offset: i64,
) {
    let event_id = event.envelope().event_id;
    let received = Received {
        topic: event.topic().to_owned(),
        key: Some(event.key().as_bytes().to_vec()),
        event,
        partition: 0,
        offset,
        attempt: 1,
        timestamp_ms: None,
    };
    let effects = projector.project(store, &received).await.expect("projects");
    let mut tx = Transaction::for_event(event_id);
    tx.writes = effects.writes;
    store.apply(tx).await.expect("applies");
}

async fn cli(args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run tributary");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn sagas_show_prints_the_timeline_and_stuck_lists_pending_orders() {
    let config = tributary_orders::OrdersConfig::default();
    let definition = tributary_orders::definition(config.clone());
    let projector = definition.projector.clone().expect("orders projects");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open_store(
        &ViewsConfig::embedded(dir.path()),
        "orders",
        &definition.tables,
    )
    .await
    .expect("store");

    // A confirmed saga, and a second order that never got further.
    let events = crate::views::saga(false);
    let order_id = match &events[0] {
        AnyEvent::OrderPlaced(p) => p.order_id,
        other => panic!("a saga starts with OrderPlaced, not {}", other.full_name()),
    };
    let steps = events.len();
    for (i, e) in events.into_iter().enumerate() {
        project(
            store.as_ref(),
            &projector,
            e,
            i64::try_from(i).expect("small"),
        )
        .await;
    }
    let pending = crate::views::saga(false).remove(0);
    let AnyEvent::OrderPlaced(pending_placed) = &pending else {
        panic!("OrderPlaced first")
    };
    let pending_id = pending_placed.order_id;
    project(store.as_ref(), &projector, pending, 99).await;

    let router =
        tributary_orders::api::router(ServiceContext::standalone("orders", store), &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });

    let id = order_id.to_string();
    let (ok, stdout, stderr) = cli(&["sagas", "show", &id, "--orders-url", &url, "--json"]).await;
    assert!(ok, "{stderr}");
    let timeline: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        timeline["entries"].as_array().map(Vec::len),
        Some(steps),
        "{stdout}"
    );
    let (ok, stdout, stderr) = cli(&["sagas", "show", &id, "--orders-url", &url]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("order.placed") && stdout.contains("order.confirmed"),
        "{stdout}"
    );

    let (ok, stdout, stderr) =
        cli(&["sagas", "stuck", "--older-than", "1s", "--orders-url", &url]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains(&pending_id.to_string()), "{stdout}");
    assert!(
        !stdout.contains(&id),
        "a confirmed saga is not stuck: {stdout}"
    );

    let unknown = uuid::Uuid::new_v4().to_string();
    let (ok, _, stderr) = cli(&["sagas", "show", &unknown, "--orders-url", &url]).await;
    assert!(!ok && stderr.contains("not found"), "{stderr}");
}
