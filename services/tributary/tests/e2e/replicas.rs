//! Issue 3 item 8: the queuing model. Several instances of a service share
//! one consumer group; each consumes its share, and the saga invariants
//! hold as with one instance.

use crate::{
    platform::{Platform, Start},
    support::{assert_clean_run, metric_sum},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_work_and_keep_every_invariant() {
    let replicas = vec![("orders", 3), ("inventory", 2)];
    let platform = Platform::start(Start {
        replicas: replicas.clone(),
        ..Start::default()
    })
    .await;
    let report = tributary::load::run(platform.load_options(300, 50.0))
        .await
        .expect("the load run starts");
    eprintln!("{}", report.render());
    assert_clean_run(&report);

    for (service, count) in replicas {
        for replica in 1..=count {
            let page = platform
                .metrics(&platform.service_url(service, replica))
                .await;
            let consumed = metric_sum(&page, "tributary_events_consumed_total");
            eprintln!("{service}-{replica} consumed {consumed} events");
            assert!(
                consumed > 0.0,
                "{service}-{replica} consumed nothing: the group did not share the partitions"
            );
        }
    }
}
