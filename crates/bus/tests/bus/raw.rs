use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use tributary_bus::{
    ConsumerGroup, HandlerError, RawHandler, RawProducer, RawReceived, headers::MessageHeaders,
};
use tributary_telemetry::Metrics;
use tributary_testkit::{TestBroker, unique_name, wait_until};

use crate::helpers::fast_config;

#[derive(Default)]
struct Collect(Mutex<Vec<RawReceived>>);

#[async_trait]
impl RawHandler for Collect {
    async fn handle(&self, message: RawReceived) -> Result<(), HandlerError> {
        self.0.lock().expect("lock").push(message);
        Ok(())
    }
}

/// The raw runner (for the bridge and benchmarks) hands over bytes and
/// headers untouched, in order per key, across partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raw_group_receives_bytes_and_headers_in_order_per_key() {
    tributary_telemetry::init_test_tracing();
    let broker = TestBroker::start().await;
    let topic = unique_name("raw");
    broker.create_topic(&topic, 3).await;
    // The raw path never talks to the registry.
    let config = fast_config(broker.bootstrap_servers(), "http://127.0.0.1:9");
    let collected = Arc::new(Collect::default());
    let group = ConsumerGroup::raw(
        config.clone(),
        unique_name("tributary.raw"),
        [topic.as_str()],
        collected.clone(),
    );
    let mut status = group.status();
    let stop = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(group.run(stop.clone()));
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| s.assigned.iter().filter(|(t, _)| *t == topic).count() == 3),
    )
    .await
    .expect("partitions assigned in time")
    .expect("status open");

    let producer = RawProducer::connect(&config, Metrics::new())
        .await
        .expect("producer");
    for n in 0..60u32 {
        let key = format!("key-{}", n % 6);
        let headers: MessageHeaders = [("seq", n.to_string())].into_iter().collect();
        producer
            .send_raw(&topic, Some(key.as_bytes()), &n.to_be_bytes(), &headers)
            .await
            .expect("produce");
    }
    wait_until(Duration::from_secs(30), "all 60 messages", || async {
        collected.0.lock().expect("lock").len() == 60
    })
    .await;
    stop.cancel();
    let summary = task.await.expect("joins").expect("runs");
    assert_eq!(summary.handled, 60);

    let mut per_key: HashMap<Vec<u8>, Vec<u32>> = HashMap::new();
    for m in collected.0.lock().expect("lock").iter() {
        let n = u32::from_be_bytes(m.payload.as_slice().try_into().expect("4 bytes"));
        assert_eq!(m.headers.get_str("seq"), Some(n.to_string().as_str()));
        assert_eq!(m.topic, topic);
        assert_eq!(m.attempt, 1);
        per_key
            .entry(m.key.clone().expect("key"))
            .or_default()
            .push(n);
    }
    assert_eq!(per_key.len(), 6);
    for (key, seq) in per_key {
        let mut sorted = seq.clone();
        sorted.sort_unstable();
        assert_eq!(
            seq,
            sorted,
            "order kept for key {}",
            String::from_utf8_lossy(&key)
        );
    }
}
