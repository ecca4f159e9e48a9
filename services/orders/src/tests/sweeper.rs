use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tributary_contracts::events::{AnyEvent, CancellationReason};

use super::support::TestView;
use crate::{
    domain::{OrderStatus, timeout_event_id},
    sweeper::{self, SweepSettings, sweep_once},
    test_support::Saga,
    views::ORDERS,
};

const NOW: i64 = 1_700_000_000_000;
const SETTINGS: SweepSettings = SweepSettings {
    timeout: Duration::from_secs(30),
    batch: 100,
};

async fn status(view: &TestView, saga: &Saga) -> (OrderStatus, Option<CancellationReason>) {
    let order = ORDERS
        .get(view.base.store(), &saga.order_id.to_string(), "")
        .await
        .expect("reads")
        .expect("exists")
        .value;
    (order.status, order.reason)
}

#[tokio::test]
async fn cancels_only_overdue_orders_once() {
    let view = TestView::open(NOW).await;
    let old = Saga::new(NOW - 30_000);
    let young = Saga::new(NOW - 29_999);
    let done = Saga::new(NOW - 90_000);
    for saga in [&old, &young, &done] {
        view.consume(saga.placed()).await.expect("placed");
    }
    view.consume(done.rejected()).await.expect("rejected");

    let report = sweep_once(&view.base.context, SETTINGS)
        .await
        .expect("sweeps");
    assert_eq!(report.cancelled, 1);
    assert_eq!(
        status(&view, &old).await,
        (OrderStatus::Cancelled, Some(CancellationReason::Timeout))
    );
    assert_eq!(status(&view, &young).await.0, OrderStatus::Pending);

    let emitted = view.emitted().await;
    let timeouts: Vec<_> = emitted
        .iter()
        .filter_map(|e| match e {
            AnyEvent::OrderCancelled(c) if c.reason == CancellationReason::Timeout => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(timeouts.len(), 1);
    assert_eq!(
        timeouts[0].envelope.event_id,
        timeout_event_id(old.order_id)
    );
    assert_eq!(timeouts[0].order_id, old.order_id);
    assert_eq!(
        timeouts[0].envelope.causation_id,
        Some(old.placed().envelope.event_id)
    );

    // The timeline shows the cancellation, and consuming the event back
    // (a duplicate by then) leaves exactly one entry for it.
    let timeline = || async {
        view.timeline(old.order_id)
            .await
            .into_iter()
            .map(|entry| (entry.event_type, entry.detail))
            .collect::<Vec<_>>()
    };
    let entries = timeline().await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    assert_eq!(entries[1].0, "order.cancelled", "{entries:?}");
    assert!(entries[1].1.contains("TIMEOUT"), "{entries:?}");
    view.consume(AnyEvent::OrderCancelled(timeouts[0].clone()))
        .await
        .expect("consumed back");
    assert_eq!(timeline().await, entries);

    // Nothing left to do: the overdue order left the index.
    assert_eq!(
        sweep_once(&view.base.context, SETTINGS)
            .await
            .expect("sweeps"),
        sweeper::SweepReport::default()
    );

    // The young one times out a millisecond later.
    view.clock.set(NOW + 1);
    assert_eq!(
        sweep_once(&view.base.context, SETTINGS)
            .await
            .expect("sweeps")
            .cancelled,
        1
    );
}

#[tokio::test]
async fn concurrent_sweepers_cancel_each_order_once() {
    let view = TestView::open(NOW).await;
    let sagas: Vec<Saga> = (0..20).map(|i| Saga::new(NOW - 60_000 - i)).collect();
    for saga in &sagas {
        view.consume(saga.placed()).await.expect("placed");
    }
    let (a, b, c) = (view.replica(), view.replica(), view.replica());
    let (ra, rb, rc) = tokio::join!(
        sweep_once(&a, SETTINGS),
        sweep_once(&b, SETTINGS),
        sweep_once(&c, SETTINGS)
    );
    let total: usize = [ra, rb, rc]
        .into_iter()
        .map(|r| r.expect("sweeps").cancelled)
        .sum();
    assert_eq!(total, sagas.len());
    let outbox = view.outbox().await;
    assert_eq!(outbox.len(), sagas.len(), "one event per order");
    for saga in &sagas {
        assert_eq!(status(&view, saga).await.0, OrderStatus::Cancelled);
    }
}

#[tokio::test]
async fn a_sweep_is_bounded_by_its_batch() {
    let view = TestView::open(NOW).await;
    for i in 0..5 {
        view.consume(Saga::new(NOW - 60_000 - i).placed())
            .await
            .expect("placed");
    }
    let small = SweepSettings {
        batch: 2,
        ..SETTINGS
    };
    assert_eq!(
        sweep_once(&view.base.context, small)
            .await
            .expect("sweeps")
            .cancelled,
        2
    );
    assert_eq!(
        sweep_once(&view.base.context, small)
            .await
            .expect("sweeps")
            .cancelled,
        2
    );
    assert_eq!(
        sweep_once(&view.base.context, small)
            .await
            .expect("sweeps")
            .cancelled,
        1
    );
}

#[tokio::test]
async fn the_background_task_times_orders_out_and_stops_on_shutdown() {
    let view = TestView::open(NOW).await;
    let saga = Saga::new(NOW);
    view.consume(saga.placed()).await.expect("placed");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(sweeper::run(
        view.replica(),
        SETTINGS,
        Duration::from_millis(10),
        shutdown.clone(),
    ));

    // Not due yet: the task runs but leaves the order alone.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(status(&view, &saga).await.0, OrderStatus::Pending);

    view.clock.set(NOW + 30_000);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while status(&view, &saga).await.0 == OrderStatus::Pending {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sweeper never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        status(&view, &saga).await.1,
        Some(CancellationReason::Timeout)
    );

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("stops promptly")
        .expect("no panic");
}
