//! `tributary bench gateway` end to end with a few requests: the real
//! gateway (with its tansu broker, registry and the inventory API it
//! checks SKUs with) and the trivial handler both answer every request with
//! a 202, every accepted order reaches the broker, and the figures are
//! positive. No figure is compared with anything (not a speed test).

use tributary::bench::{
    BenchEnv, EnvOptions,
    gateway::{self, GatewayOptions},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_gateway_run_gets_a_202_for_every_request_on_both_servers() {
    tributary_testkit::init_test_tracing();
    let env = BenchEnv::start(&EnvOptions::default())
        .await
        .expect("tansu and the in-process registry start");
    let options = GatewayOptions {
        requests: 40,
        concurrency: 4,
        rounds: 2,
        warmup: 8,
    };
    let outcome = gateway::run(&env, &options).await;
    env.stop().await;
    let report = outcome.expect("every request gets a 202 and the run completes");

    for (side, figures) in [("trivial", &report.trivial), ("gateway", &report.gateway)] {
        assert_eq!(figures.requests_per_sec.len(), 2, "{side}");
        assert!(
            figures.requests_per_sec.iter().all(|r| *r > 0.0),
            "{side}: {:?}",
            figures.requests_per_sec
        );
        assert!(figures.p50_ms_median > 0.0, "{side}");
        assert!(figures.p99_ms_median >= figures.p50_ms_median, "{side}");
    }
    assert_eq!(report.ratio.len(), 2);
    assert!(report.ratio_median > 0.0);
    // Warm-up and both rounds, all on the broker's `orders` topic.
    assert_eq!(report.orders_published, 8 + 2 * 40);
    assert_eq!(report.relay_drain_ms.len(), 2);

    let table = report.table().to_string();
    assert!(table.contains("gateway POST /v1/orders"), "{table}");
}
