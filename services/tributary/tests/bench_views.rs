//! `tributary bench views` end to end with a tiny backlog against a real
//! tansu broker (started by the benchmark environment): every side reads
//! the whole backlog, the rebuilt and the live copies equal the live view,
//! and every rate is positive. No rate is compared with anything (this is
//! not a speed test).

use tributary::bench::{
    BenchEnv, EnvOptions,
    views::{self, ViewsOptions},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tiny_views_run_rebuilds_and_applies_the_whole_backlog() {
    tributary_testkit::init_test_tracing();
    let env = BenchEnv::start(&EnvOptions::default())
        .await
        .expect("tansu and the in-process registry start");
    // One partition per topic: the rebuild's timestamp merge then replays
    // the production order exactly. (With several partitions per topic it
    // does not, and the benchmark reports the events it rejected.)
    let options = ViewsOptions {
        orders: 30,
        partitions: 1,
        rounds: 1,
    };
    let outcome = views::run(&env, &options).await;
    env.stop().await;
    let report = outcome.expect("the benchmark runs to the end");

    // 30 sagas: 21 confirmed (4 events), 6 declined (5), 3 rejected (3).
    assert_eq!(report.mix.confirmed, 21);
    assert_eq!(report.mix.payment_declined, 6);
    assert_eq!(report.mix.stock_rejected, 3);
    assert_eq!(report.events, 21 * 4 + 6 * 5 + 3 * 3);
    assert_eq!(report.events_by_topic.values().sum::<u64>(), report.events);
    // orders: every placement and every terminal event.
    assert_eq!(report.events_by_topic["orders"], 60);

    for (side, rates) in [
        ("raw from start", &report.raw_from_start_events_per_sec),
        (
            "raw first to last",
            &report.raw_first_to_last_events_per_sec,
        ),
        ("rebuild", &report.rebuild_events_per_sec),
        ("live", &report.live_events_per_sec),
    ] {
        assert_eq!(rates.len(), 1, "{side}");
        assert!(rates[0] > 0.0 && rates[0].is_finite(), "{side}: {rates:?}");
    }
    assert_eq!(report.rebuild_rejected, [0], "the rebuild rejected events");
    assert_eq!(
        report.rebuild_matches,
        [true],
        "the rebuilt copy equals the live view"
    );
    assert_eq!(
        report.live_matches,
        [true],
        "the live copy equals the live view"
    );
    assert!(report.rebuild_ratio_median > 0.0);
    assert!(report.live_ratio_median > 0.0);

    let table = report.table().to_string();
    assert!(
        table.contains("rebuild (ops::rebuild into a shadow)"),
        "{table}"
    );
    assert!(
        table.contains("equals the live view in 1/1 rounds"),
        "{table}"
    );
}
