//! `tributary bench compare` end to end with tiny counts: a real tansu
//! broker (started by the benchmark environment) and the RabbitMQ on
//! 127.0.0.1:5672. Checks that the run completes and that the document has
//! every section and its plot; no figure is asserted (this is not a speed
//! test).

use std::time::Duration;

use tributary::bench::{
    BenchEnv, EnvOptions, Payload,
    compare::{self, CompareOptions, QueueKind},
};

fn tiny() -> CompareOptions {
    CompareOptions {
        amqp_url: std::env::var("TRIBUTARY_TEST_AMQP_URL")
            .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned()),
        consumers: 2,
        partitions: 4,
        prefetch: 20,
        rates: vec![100],
        point_duration: Duration::from_millis(500),
        drain_timeout: Duration::from_secs(10),
        saturation_events: 200,
        in_flight: 50,
        behaviour_events: 120,
        keys: 8,
        settle: Duration::from_millis(500),
        payload: Payload::Minimal,
        queue_kinds: vec![QueueKind::ClassicV2, QueueKind::Quorum],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_comparison_writes_every_section_and_the_plot() {
    tributary_testkit::init_test_tracing();
    let env = BenchEnv::start(&EnvOptions::default())
        .await
        .expect("tansu and the in-process registry start");
    let outcome = compare::run(&env, &tiny(), "tributary bench compare (test)".to_owned()).await;
    env.stop().await;
    let report = outcome.expect("the comparison runs to the end");

    // Kafka and both queue types, for both topologies, each with its point.
    assert_eq!(report.series.len(), 6);
    for series in &report.series {
        assert_eq!(series.points.len(), 1, "{}", series.broker);
        assert!(series.saturation.sent > 0, "{}", series.broker);
    }
    assert_eq!(report.behaviour.replay.len(), 2);
    assert_eq!(report.behaviour.ordering.len(), 2);
    assert_eq!(report.behaviour.crash.len(), 2);
    // The brokers' defining behaviours, which do not depend on speed.
    let kafka_replay = &report.behaviour.replay[0];
    assert_eq!(kafka_replay.read_again, kafka_replay.published);
    let rabbit_replay = &report.behaviour.replay[1];
    assert_eq!(rabbit_replay.read_again, 0);
    assert_eq!(rabbit_replay.left_in_queue, Some(0));
    assert_eq!(report.behaviour.ordering[0].count.out_of_order_pairs, 0);
    for crash in &report.behaviour.crash {
        assert_eq!(crash.never_processed, 0, "{}", crash.broker);
    }

    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = dir.path().join("comparison.md");
    let svg = compare::write(&report, &out).expect("the document and the plot are written");
    let markdown = std::fs::read_to_string(&out).expect("the document");
    for section in [
        "## The run",
        "## Settings",
        "## Throughput at saturation",
        "## Latency at fixed offered rates",
        "](comparison.svg)",
        "### Replay of already-consumed events",
        "### Per-key ordering with 2 consumers",
        "### A consumer that dies without acknowledging",
        "## Not measured yet",
        "RabbitMQ (quorum)",
    ] {
        assert!(
            markdown.contains(section),
            "missing {section:?} in:\n{markdown}"
        );
    }
    assert!(
        !markdown.contains("RabbitMQ unknown"),
        "the server version was read"
    );
    let plot = std::fs::read_to_string(svg).expect("the plot");
    assert!(plot.contains("<svg") && plot.contains("Kafka (tansu) p99"));
}
