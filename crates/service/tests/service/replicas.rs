//! Two instances of one service share its store and its consumer group:
//! partitions split between them, they race for the same row, conflicts
//! re-run the projection, and the counts come out right.

use std::{collections::HashSet, time::Duration};

use tributary_contracts::{derived_event_id, events::AnyEvent};
use tributary_testkit::wait_until;
use uuid::Uuid;

use crate::helpers::{Running, TestEnv, counting_service, service_name, user};

const USERS: usize = 30;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_sharing_a_store_count_correctly_under_conflicts() {
    let env = TestEnv::start().await;
    let name = service_name();
    // Slow projections keep reads and writes of the two replicas (and of
    // the partitions within each) overlapping, so conflicts do happen.
    let delay = Duration::from_millis(20);
    let a = Running::start(counting_service(name, delay), env.config()).await;
    let b = Running::start(counting_service(name, delay), env.config()).await;
    wait_until(Duration::from_secs(60), "both replicas ready", || async {
        a.get("/health/ready").await.0 == 200 && b.get("/health/ready").await.0 == 200
    })
    .await;

    let producer = env.producer().await;
    let users: Vec<_> = (0..USERS).map(|i| user(&format!("user {i}"))).collect();
    for u in &users {
        producer.send(u).await.expect("produce");
    }
    wait_until(
        Duration::from_secs(60),
        "the shared view to count every user",
        || async { a.count().await == USERS as u64 },
    )
    .await;
    assert_eq!(b.count().await, USERS as u64);

    let conflicts = conflict_total(&a) + conflict_total(&b);
    assert!(
        conflicts > 0,
        "the replicas never collided; the test proves nothing"
    );

    wait_until(Duration::from_secs(30), "the outbox to drain", || async {
        a.context
            .store()
            .outbox_pending(1)
            .await
            .expect("outbox")
            .is_empty()
    })
    .await;
    let expected: HashSet<Uuid> = users
        .iter()
        .map(|u| derived_event_id(u.envelope.event_id, "test.welcome"))
        .collect();
    let seen: HashSet<Uuid> = env
        .events("notifications")
        .await
        .into_iter()
        .filter_map(|e| match e {
            AnyEvent::NotificationSent(sent) => Some(sent.envelope.event_id),
            _ => None,
        })
        .collect();
    assert_eq!(seen, expected);
    a.stop().await;
    b.stop().await;
}

fn conflict_total(app: &Running) -> u64 {
    app.context
        .metrics()
        .render()
        .lines()
        .filter(|l| l.starts_with("tributary_view_conflicts_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
