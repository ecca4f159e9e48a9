//! Issue 3 item 8: a few hundred orders with mixed outcomes through the
//! whole stack keep all five saga invariants.

use std::time::Instant;

use tributary::load;

use crate::{
    platform::{Platform, Start},
    support::assert_clean_run,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_few_hundred_orders_with_mixed_outcomes_keep_every_invariant() {
    let platform = Platform::start(Start::default()).await;
    let started = Instant::now();
    let report = load::run(platform.load_options(300, 50.0))
        .await
        .expect("the load run starts");
    eprintln!(
        "{}(run took {:.1}s)",
        report.render(),
        started.elapsed().as_secs_f64()
    );
    assert_clean_run(&report);
    assert_eq!(report.outcomes.unexpected, 0, "{}", report.render());
}
