use tributary_contracts::events::CancellationReason;
use tributary_service::Projector as _;
use tributary_views::{Outcome, Transaction};
use uuid::Uuid;

use super::{Harness, MINUTE, cancelled, confirmed, open, placed, received, registered};
use crate::domain::RELATIVE_ERROR;
use crate::views::{self, STARTS};

/// A minute boundary: 2023-11-14T22:14:00Z.
const BASE: i64 = 1_700_000_040_000;
const SECOND: i64 = 1_000;

fn order(n: u128) -> Uuid {
    Uuid::from_u128(1000 + n)
}

fn close(estimate: Option<f64>, truth: f64) -> bool {
    estimate.is_some_and(|e| (e - truth).abs() <= truth * RELATIVE_ERROR + 1e-9)
}

#[tokio::test]
async fn counts_a_window_of_sagas() {
    let h = Harness::new(BASE + 50 * SECOND).await;
    let events = [
        received(placed(order(1), BASE + 1_000), 0, 0),
        received(placed(order(2), BASE + 2_000), 1, 0),
        received(placed(order(3), BASE + 3_000), 2, 0),
        received(confirmed(order(1), BASE + 1_100, 1_000), 0, 1),
        received(confirmed(order(2), BASE + 2_200, 2_500), 1, 1),
        received(
            cancelled(order(3), BASE + 3_300, CancellationReason::PaymentDeclined),
            2,
            1,
        ),
        received(registered(BASE + 4_000), 0, 0),
    ];
    for event in &events {
        assert_eq!(h.deliver(event).await, Outcome::Applied);
    }

    let window = h.window(BASE).await;
    assert_eq!(window.start_ms, BASE);
    assert_eq!(window.end_ms, BASE + MINUTE);
    assert!(!window.is_final, "watermark is still inside the window");
    let a = &window.aggregates;
    assert_eq!(
        (a.orders_placed, a.orders_confirmed, a.orders_cancelled),
        (3, 2, 1)
    );
    assert_eq!(a.revenue_cents, 3_500);
    assert_eq!(a.cancellation_reasons["PAYMENT_DECLINED"], 1);
    assert_eq!(a.cancellation_reasons.len(), 1);
    assert_eq!(a.events_by_topic["orders"], 6);
    assert_eq!(a.events_by_topic["users"], 1);
    assert_eq!(a.late_events, 0);
    let sagas = &a.saga_duration;
    assert_eq!(sagas.count, 3);
    assert!(
        close(sagas.quantile(0.5), 200.0),
        "{:?}",
        sagas.quantile(0.5)
    );
    assert!(close(sagas.quantile(0.99), 300.0));
    assert_eq!((sagas.min_ms, sagas.max_ms), (Some(100), Some(300)));

    // Finished sagas leave nothing behind in the running-saga table.
    for n in 1..=3 {
        let key = order(n).to_string();
        assert!(
            STARTS
                .get(h.store.as_ref(), &key, "")
                .await
                .expect("readable")
                .is_none()
        );
    }
    let totals = h.queries().totals().await.expect("totals");
    assert_eq!(totals.aggregates, *a, "one window holds everything so far");
}

#[tokio::test]
async fn redelivery_changes_nothing() {
    let h = Harness::new(BASE + 10 * SECOND).await;
    let place = received(placed(order(1), BASE + 1_000), 0, 0);
    let confirm = received(confirmed(order(1), BASE + 1_500, 700), 0, 1);
    assert_eq!(h.deliver(&place).await, Outcome::Applied);
    assert_eq!(h.deliver(&confirm).await, Outcome::Applied);
    let before = digests(&h).await;

    h.clock.set(BASE + 11 * SECOND);
    assert_eq!(h.deliver(&place).await, Outcome::Duplicate);
    assert_eq!(h.deliver(&confirm).await, Outcome::Duplicate);
    // Even when the runtime's early check is raced, the transaction carries
    // the event id and applies nothing.
    for event in [&place, &confirm] {
        let effects = h
            .projector
            .project(h.store.as_ref(), event)
            .await
            .expect("projects");
        let tx = Transaction {
            event_id: Some(event.event.envelope().event_id),
            writes: effects.writes,
            ..Transaction::default()
        };
        assert_eq!(
            h.store.apply(tx).await.expect("applies"),
            Outcome::Duplicate
        );
    }
    assert_eq!(digests(&h).await, before);
    let a = h.window(BASE).await.aggregates;
    assert_eq!(
        (a.orders_placed, a.orders_confirmed, a.revenue_cents),
        (1, 1, 700)
    );
    assert_eq!(a.saga_duration.count, 1);
}

async fn digests(h: &Harness) -> Vec<String> {
    let mut out = Vec::new();
    for table in views::TABLES {
        let digest = h.store.digest(table.name).await.expect("digest");
        out.push(format!("{digest:?}"));
    }
    out
}

#[tokio::test]
async fn out_of_order_events_within_lateness_count_and_older_ones_are_late() {
    let h = Harness::new(BASE + 200 * SECOND).await;
    // Partition watermark: 130 s - 5 s = 125 s.
    assert_eq!(
        h.deliver(&received(placed(order(1), BASE + 130 * SECOND), 0, 0))
            .await,
        Outcome::Applied
    );
    // Out of order, but its window [120 s, 180 s) is open: counted.
    h.deliver(&received(placed(order(2), BASE + 121 * SECOND), 0, 1))
        .await;
    // Window [60 s, 120 s) ended at 120 s <= 125 s: late.
    h.deliver(&received(placed(order(3), BASE + 119 * SECOND), 0, 2))
        .await;
    // Far older: late as well.
    h.deliver(&received(placed(order(4), BASE + 50 * SECOND), 0, 3))
        .await;

    let open = h.window(BASE + 2 * MINUTE).await;
    assert_eq!(open.aggregates.orders_placed, 2);
    assert!(!open.is_final);
    let closed = h.window(BASE + MINUTE).await;
    assert!(closed.is_final);
    assert_eq!(closed.aggregates.orders_placed, 0);
    assert_eq!(closed.aggregates.late_events, 1);
    assert!(
        closed.aggregates.events_by_topic.is_empty(),
        "late events are not applied"
    );
    assert_eq!(h.window(BASE).await.aggregates.late_events, 1);
    let totals = h.queries().totals().await.expect("totals");
    assert_eq!(totals.aggregates.orders_placed, 2);
    assert_eq!(totals.aggregates.late_events, 2);

    // A late placement still starts its saga: the on-time end gets a duration.
    h.deliver(&received(
        confirmed(order(3), BASE + 126 * SECOND, 10),
        0,
        4,
    ))
    .await;
    let sagas = h.window(BASE + 2 * MINUTE).await.aggregates.saga_duration;
    assert_eq!(sagas.count, 1);
    assert_eq!(sagas.max_ms, Some(7_000));
}

#[tokio::test]
async fn lateness_spans_a_window_boundary() {
    let h = Harness::new(BASE + 200 * SECOND).await;
    // Watermark 118 s: the window [60 s, 120 s) is still open.
    h.deliver(&received(placed(order(1), BASE + 123 * SECOND), 0, 0))
        .await;
    h.deliver(&received(placed(order(2), BASE + 119 * SECOND), 0, 1))
        .await;
    let window = h.window(BASE + MINUTE).await;
    assert_eq!(window.aggregates.orders_placed, 1);
    assert_eq!(window.aggregates.late_events, 0);
    assert!(!window.is_final);
    // Two more seconds of event time close it.
    h.deliver(&received(placed(order(3), BASE + 125 * SECOND), 0, 2))
        .await;
    assert!(h.window(BASE + MINUTE).await.is_final);
}

#[tokio::test]
async fn watermark_waits_for_the_slowest_partition_and_is_durable() {
    let h = Harness::new(BASE + 131 * SECOND).await;
    h.deliver(&received(placed(order(1), BASE + 130 * SECOND), 0, 0))
        .await;
    h.deliver(&received(placed(order(2), BASE + 30 * SECOND), 1, 0))
        .await;
    let status = h
        .queries()
        .watermark(h.clock_now())
        .await
        .expect("watermark");
    // Partition 0 published 125 s before partition 1 appeared; the
    // watermark never goes back.
    assert_eq!(status.watermark_ms, Some(BASE + 125 * SECOND));
    assert_eq!(status.partitions.len(), 2);

    let fresh = Harness::new(BASE + 131 * SECOND).await;
    fresh
        .deliver(&received(placed(order(2), BASE + 30 * SECOND), 1, 0))
        .await;
    fresh
        .deliver(&received(placed(order(1), BASE + 130 * SECOND), 0, 0))
        .await;
    // Now partition 1 (25 s) holds the watermark back for everyone.
    let queries = fresh.queries();
    let status = queries
        .watermark(fresh.clock_now())
        .await
        .expect("watermark");
    assert_eq!(status.watermark_ms, Some(BASE + 25 * SECOND));
    assert!(!fresh.window(BASE).await.is_final);
    // Partition 0 is ahead: an old event of its own is late for it ...
    fresh
        .deliver(&received(placed(order(3), BASE + 10 * SECOND), 0, 1))
        .await;
    // ... while the slow partition still lands in the open window.
    fresh
        .deliver(&received(placed(order(4), BASE + 40 * SECOND), 1, 1))
        .await;
    let window = fresh.window(BASE).await;
    assert_eq!(window.aggregates.orders_placed, 2);
    assert_eq!(window.aggregates.late_events, 1);
    // The slow partition catches up: window [0, 60 s) becomes final.
    fresh
        .deliver(&received(placed(order(5), BASE + 70 * SECOND), 1, 2))
        .await;
    assert!(fresh.window(BASE).await.is_final);

    // The watermark lives in the view: a reopened store sees the same.
    let expected = queries
        .watermark(fresh.clock_now())
        .await
        .expect("watermark");
    let reopened = open(fresh.base.path()).await;
    let again = crate::query::AnalyticsQueries {
        store: reopened.as_ref(),
        rules: fresh.rules,
    }
    .watermark(fresh.clock_now())
    .await
    .expect("watermark");
    assert_eq!(again, expected);
    assert_eq!(again.watermark_ms, Some(BASE + 65 * SECOND));
}

#[tokio::test]
async fn idle_partitions_stop_holding_windows_open() {
    let h = Harness::new(BASE + 5 * SECOND).await;
    h.deliver(&received(registered(BASE + 5 * SECOND), 0, 0))
        .await;
    h.clock.set(BASE + 20 * SECOND);
    h.deliver(&received(placed(order(1), BASE + 70 * SECOND), 0, 0))
        .await;
    // users/0 is silent but not yet idle: it holds the watermark at 0 s.
    assert!(!h.window(BASE).await.is_final);

    // 30 s after its last event, users/0 no longer counts.
    h.clock.set(BASE + 36 * SECOND);
    assert!(h.window(BASE).await.is_final);
    h.deliver(&received(placed(order(2), BASE + 71 * SECOND), 0, 1))
        .await;
    // When it resumes with an old event, that event is late.
    h.deliver(&received(registered(BASE + 20 * SECOND), 0, 1))
        .await;
    let window = h.window(BASE).await;
    assert!(window.is_final);
    assert_eq!(window.aggregates.events_by_topic["users"], 1);
    assert_eq!(window.aggregates.late_events, 1);

    // Everything silent: the watermark follows the wall clock
    // (now - idle timeout - lateness), so the last windows become final.
    assert!(!h.window(BASE + MINUTE).await.is_final);
    h.clock.set(BASE + 160 * SECOND);
    assert!(h.window(BASE + MINUTE).await.is_final);
}

#[tokio::test]
async fn competing_replicas_conflict_and_the_loser_re_runs() {
    let h = Harness::new(BASE + 10 * SECOND).await;
    h.deliver(&received(placed(order(1), BASE + 1_000), 0, 0))
        .await;
    // Two replicas briefly own partition 0 and project from the same view.
    let first = received(placed(order(2), BASE + 2_000), 0, 1);
    let second = received(placed(order(3), BASE + 3_000), 0, 2);
    let a = h
        .projector
        .project(h.store.as_ref(), &first)
        .await
        .expect("projects");
    let b = h
        .projector
        .project(h.store.as_ref(), &second)
        .await
        .expect("projects");
    let apply = |event: &tributary_bus::Received, writes| Transaction {
        event_id: Some(event.event.envelope().event_id),
        writes,
        ..Transaction::default()
    };
    assert_eq!(
        h.store
            .apply(apply(&first, a.writes))
            .await
            .expect("applies"),
        Outcome::Applied
    );
    assert!(matches!(
        h.store
            .apply(apply(&second, b.writes))
            .await
            .expect("applies"),
        Outcome::Conflict { .. }
    ));
    // The runtime re-projects on the fresh view.
    assert_eq!(h.deliver(&second).await, Outcome::Applied);
    assert_eq!(h.window(BASE).await.aggregates.orders_placed, 3);
}

#[tokio::test]
async fn partitions_keep_their_own_shards_and_reads_merge_them() {
    let h = Harness::new(BASE + 10 * SECOND).await;
    for partition in 0..4 {
        let n = u128::try_from(partition).expect("small");
        h.deliver(&received(placed(order(n), BASE + 1_000), partition, 0))
            .await;
        h.deliver(&received(
            confirmed(order(n), BASE + 2_000, 100),
            partition,
            1,
        ))
        .await;
    }
    let shards = crate::views::WINDOWS
        .partition(
            h.store.as_ref(),
            &crate::views::bucket_key(h.rules.window.bucket_of(BASE)),
            tributary_views::ClusteringOrder::Ascending,
            100,
        )
        .await
        .expect("readable");
    assert_eq!(shards.len(), 4, "one shard per source partition");
    let a = h.window(BASE).await.aggregates;
    assert_eq!(
        (a.orders_placed, a.orders_confirmed, a.revenue_cents),
        (4, 4, 400)
    );
    assert_eq!(a.saga_duration.count, 4);
}

#[tokio::test]
async fn saga_spanning_windows_is_measured_where_it_ends() {
    let h = Harness::new(BASE + 80 * SECOND).await;
    h.deliver(&received(placed(order(1), BASE + 50 * SECOND), 0, 0))
        .await;
    h.deliver(&received(
        cancelled(order(1), BASE + 70 * SECOND, CancellationReason::Timeout),
        0,
        1,
    ))
    .await;
    let start = h.window(BASE).await.aggregates;
    assert_eq!((start.orders_placed, start.saga_duration.count), (1, 0));
    let end = h.window(BASE + MINUTE).await.aggregates;
    assert_eq!(end.orders_cancelled, 1);
    assert_eq!(end.cancellation_reasons["TIMEOUT"], 1);
    assert_eq!(end.saga_duration.max_ms, Some(20_000));
}

#[tokio::test]
async fn refuses_event_times_it_cannot_window() {
    let h = Harness::new(BASE).await;
    // Further ahead of the clock than the 1 min tolerance.
    h.deliver(&received(placed(order(1), BASE + 2 * MINUTE), 0, 0))
        .await;
    // Before 1970.
    h.deliver(&received(placed(order(2), -5), 0, 1)).await;
    let totals = h.queries().totals().await.expect("totals");
    assert_eq!(totals.refused_events, 2);
    assert!(totals.aggregates.is_empty());
    let status = h.queries().watermark(BASE).await.expect("watermark");
    assert_eq!(
        status.watermark_ms, None,
        "refused events do not move the watermark"
    );
    // Within the tolerance is fine.
    h.deliver(&received(placed(order(3), BASE + 30 * SECOND), 0, 2))
        .await;
    assert_eq!(h.window(BASE).await.aggregates.orders_placed, 1);
}

impl Harness {
    fn clock_now(&self) -> i64 {
        use tributary_service::Clock as _;
        self.clock.now_ms()
    }
}
