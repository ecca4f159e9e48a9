use tributary_bus::HandlerError;
use tributary_contracts::{derived_event_id, events::NotificationKind};
use tributary_views::{ClusteringOrder, Namespace, Outcome};
use uuid::Uuid;

use super::support::{TestView, cancelled, confirmed, registered};
use crate::{
    domain::{STEP_NOTIFICATION, STEP_SENT},
    views::{DEDUP, NOTIFICATIONS},
};

async fn rows_for(view: &TestView, recipient: &str) -> Vec<crate::domain::Notification> {
    NOTIFICATIONS
        .partition(
            view.base.store(),
            recipient,
            ClusteringOrder::Descending,
            100,
        )
        .await
        .expect("reads")
        .into_iter()
        .map(|row| row.value)
        .collect()
}

#[tokio::test]
async fn a_registration_is_welcomed_once() {
    let view = TestView::open().await;
    let user = registered("ada@example.com", "Ada");
    assert_eq!(
        view.consume(user.clone()).await.expect("handled"),
        Outcome::Applied
    );
    assert_eq!(
        view.consume(user.clone()).await.expect("again"),
        Outcome::Duplicate
    );

    let delivered = view.channel.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].kind, NotificationKind::Welcome);
    assert_eq!(delivered[0].recipient, "ada@example.com");
    assert_eq!(delivered[0].channel, "recording");
    assert_eq!(rows_for(&view, "ada@example.com").await, delivered);

    let outbox = view.outbox().await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].message.topic, "notifications");
    assert_eq!(outbox[0].message.key, "ada@example.com");
    assert_eq!(
        outbox[0].message.event_id,
        derived_event_id(user.envelope.event_id, STEP_SENT)
    );
}

#[tokio::test]
async fn order_outcomes_reach_the_registered_email() {
    let view = TestView::open().await;
    let user = registered("bob@example.com", "Bob");
    view.consume(user.clone()).await.expect("registered");
    view.consume(confirmed(user.user_id, 2_000))
        .await
        .expect("confirmed");
    view.consume(cancelled(user.user_id, 3_000))
        .await
        .expect("cancelled");

    let rows = rows_for(&view, "bob@example.com").await;
    let kinds: Vec<_> = rows.iter().map(|n| n.kind).collect();
    assert_eq!(
        kinds,
        [
            NotificationKind::OrderCancelled,
            NotificationKind::OrderConfirmed,
            NotificationKind::Welcome
        ],
        "newest first"
    );
    assert!(rows[1].body.starts_with("Hello Bob,"));
}

#[tokio::test]
async fn an_unknown_customer_is_notified_by_id() {
    let view = TestView::open().await;
    let customer = Uuid::new_v4();
    view.consume(confirmed(customer, 2_000))
        .await
        .expect("confirmed");
    let rows = rows_for(&view, &customer.to_string()).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].recipient, customer.to_string());
}

/// Invariant 5 holds even if a terminal event arrived twice under
/// different ids: the dedup row settles the (subject, kind).
#[tokio::test]
async fn one_notification_per_subject_and_kind() {
    let view = TestView::open().await;
    let first = confirmed(Uuid::new_v4(), 2_000);
    let mut second = first.clone();
    second.envelope.event_id = Uuid::new_v4();
    view.consume(first.clone()).await.expect("first");
    assert_eq!(
        view.consume(second).await.expect("second"),
        Outcome::Applied
    );

    assert_eq!(view.channel.delivered().len(), 1);
    assert_eq!(view.outbox().await.len(), 1);
    let dedup = DEDUP
        .get(
            view.base.store(),
            &first.order_id.to_string(),
            "ORDER_CONFIRMED",
        )
        .await
        .expect("reads")
        .expect("recorded");
    assert_eq!(
        dedup.value.notification_id,
        derived_event_id(first.envelope.event_id, STEP_NOTIFICATION)
    );
}

#[tokio::test]
async fn a_failed_delivery_is_retried_and_records_nothing() {
    let view = TestView::open().await;
    let event = cancelled(Uuid::new_v4(), 2_000);
    view.channel.fail(true);
    let error = view
        .consume(event.clone())
        .await
        .expect_err("delivery fails");
    assert!(matches!(error, HandlerError::Retryable(_)), "{error}");
    assert!(view.outbox().await.is_empty());
    assert!(
        view.base
            .store()
            .was_processed(event.envelope.event_id)
            .await
            .is_ok_and(|seen| !seen)
    );

    view.channel.fail(false);
    assert_eq!(
        view.consume(event).await.expect("retried"),
        Outcome::Applied
    );
    assert_eq!(view.channel.delivered().len(), 1);
    assert_eq!(view.outbox().await.len(), 1);
}

#[tokio::test]
async fn a_rebuild_records_without_delivering_again() {
    let view = TestView::open_in(Namespace::shadow("rebuild1").expect("name")).await;
    let user = registered("eve@example.com", "Eve");
    view.consume(user).await.expect("handled");
    assert!(
        view.channel.delivered().is_empty(),
        "no second e-mail on rebuild"
    );
    assert_eq!(rows_for(&view, "eve@example.com").await.len(), 1);
}

#[tokio::test]
async fn other_events_are_ignored() {
    use tributary_contracts::{Envelope, events::StockAdded};
    let view = TestView::open().await;
    let added = StockAdded {
        envelope: Envelope::originating("inventory", "sku", 1),
        sku: "sku".into(),
        quantity: 1,
        price_cents: 1,
    };
    assert_eq!(
        view.consume(added).await.expect("ignored"),
        Outcome::Applied
    );
    assert!(view.channel.delivered().is_empty());
    assert!(view.outbox().await.is_empty());
}
