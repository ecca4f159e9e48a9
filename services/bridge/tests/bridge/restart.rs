//! Stopping the bridge mid-stream and starting it again loses nothing: the
//! new run resumes from the committed offsets (at least once; duplicates
//! carry the same message id).

use std::{collections::HashMap, time::Duration};

use lapin::types::ShortString;
use tributary_bridge::QueueType;
use tributary_testkit::wait_until;

use crate::helpers::{TestApp, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_bridge_resumes_from_the_committed_offset() {
    let app = TestApp::start(QueueType::Quorum).await;
    let subscriber = app.subscribe(&app.names.egress_exchange("users")).await;
    let producer = app.producer().await;
    let mut config = app.config.clone();
    config.ingress = false;
    // A small window keeps messages in flight when the first run stops.
    config.confirm_window = 2;

    let total = 300;
    let mut expected = Vec::new();
    for n in 0..total / 2 {
        let event = user(n);
        app.produce(&producer, &event).await;
        expected.push(event.envelope.event_id.to_string());
    }
    let first = app.bridge_with(config.clone()).await;
    let stats = first.stats.clone();
    wait_until(
        Duration::from_secs(30),
        "the first run to bridge some events",
        || {
            let published = stats.snapshot().published;
            async move { published >= 20 }
        },
    )
    .await;
    first.stop().await;
    let first_run = stats.snapshot().published;

    for n in total / 2..total {
        let event = user(n);
        app.produce(&producer, &event).await;
        expected.push(event.envelope.event_id.to_string());
    }
    let second = app.bridge_with(config).await;
    let received = app.take_at_least(&subscriber, &expected).await;
    second.stop().await;

    let mut counts: HashMap<String, u32> = HashMap::new();
    for id in &received {
        *counts.entry(id.clone()).or_default() += 1;
    }
    let lost = expected
        .iter()
        .filter(|id| !counts.contains_key(*id))
        .count();
    let duplicated: u32 = counts.values().map(|c| c - 1).sum();
    eprintln!("restart: first run {first_run}, lost {lost}, duplicated {duplicated}");
    assert_eq!(lost, 0);
    assert!(first_run < total as u64, "the first run stopped mid-stream");
    app.cleanup(&[&subscriber]).await;
}

impl TestApp {
    /// Reads `queue` until every id of `expected` arrived; returns every
    /// message id read, duplicates included.
    pub async fn take_at_least(&self, queue: &str, expected: &[String]) -> Vec<String> {
        let mut seen = Vec::new();
        let mut missing: std::collections::HashSet<&String> = expected.iter().collect();
        while !missing.is_empty() {
            let batch = self.take(queue, 1).await;
            for d in batch {
                let id = d
                    .properties
                    .message_id()
                    .as_ref()
                    .map(ShortString::as_str)
                    .unwrap_or_default()
                    .to_owned();
                missing.remove(&id);
                seen.push(id);
            }
        }
        seen
    }
}
