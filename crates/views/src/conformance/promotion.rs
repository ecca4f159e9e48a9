//! Promoting a shadow copy to live: the switch at the end of a view rebuild.

use uuid::Uuid;

use super::{ITEMS, STOCK, StoreFactory, TABLES, fresh, message, open};
use crate::error::ViewError;
use crate::model::Namespace;
use crate::transaction::{ConsumedPosition, Expect, Outcome, Transaction};

/// After `promote`, a newly opened live store has exactly the shadow's view
/// rows and processed events, and still the live outbox and positions; the
/// old live rows are gone. Promoting a missing shadow fails and changes
/// nothing; a promoted shadow cannot be promoted twice.
pub async fn promote_replaces_live_with_shadow(factory: &dyn StoreFactory) {
    let (service, live) = fresh(factory).await;
    let position = ConsumedPosition {
        group: "g".into(),
        topic: "orders".into(),
        partition: 0,
        offset: 3,
    };
    let (old_event, rebuilt_event) = (Uuid::new_v4(), Uuid::new_v4());
    let pending = message("orders", "o1", "not yet relayed");
    let tx = Transaction::for_event(old_event)
        .put(&ITEMS, "o1", "", b"corrupted".to_vec(), Expect::Any)
        .put(&ITEMS, "stale", "", b"only live".to_vec(), Expect::Any)
        .put(&STOCK, "sku", "", b"1".to_vec(), Expect::Any)
        .emit(pending.clone())
        .at_position(position.clone());
    assert_eq!(live.apply(tx).await.expect("apply"), Outcome::Applied);

    let missing = factory.promote(&service, "nosuch", TABLES).await;
    assert!(
        matches!(missing, Err(ViewError::NoSuchShadow { .. })),
        "promoting a missing shadow: {missing:?}"
    );
    let unchanged = live.get(ITEMS.name, "o1", "").await.expect("get");
    assert_eq!(
        unchanged.map(|r| r.value),
        Some(b"corrupted".to_vec()),
        "a failed promotion changes nothing"
    );

    let shadow_ns = Namespace::shadow("rb1").expect("valid name");
    let shadow = open(factory, &service, &shadow_ns, TABLES).await;
    let tx = Transaction::for_event(rebuilt_event)
        .put(&ITEMS, "o1", "", b"rebuilt".to_vec(), Expect::Any)
        .put(&STOCK, "sku", "", b"1".to_vec(), Expect::Any)
        .at_position(ConsumedPosition {
            offset: 2,
            ..position.clone()
        });
    assert_eq!(shadow.apply(tx).await.expect("apply"), Outcome::Applied);
    drop((live, shadow));

    factory
        .promote(&service, "rb1", TABLES)
        .await
        .expect("promote the shadow");
    let promoted = open(factory, &service, &Namespace::Live, TABLES).await;
    let row = promoted
        .get(ITEMS.name, "o1", "")
        .await
        .expect("get")
        .expect("rebuilt row");
    assert_eq!(row.value, b"rebuilt", "the live copy is the rebuilt one");
    assert!(
        promoted
            .get(ITEMS.name, "stale", "")
            .await
            .expect("get")
            .is_none(),
        "rows only the old live copy had are gone"
    );
    assert_eq!(promoted.digest(STOCK.name).await.expect("digest").rows, 1);
    assert!(
        promoted
            .was_processed(rebuilt_event)
            .await
            .expect("processed")
    );
    assert!(
        !promoted.was_processed(old_event).await.expect("processed"),
        "processed events come from the shadow"
    );
    let outbox = promoted.outbox_pending(10).await.expect("outbox");
    assert_eq!(outbox.len(), 1, "pending live messages are kept");
    assert_eq!(outbox[0].message, pending);
    assert_eq!(
        promoted.positions("g").await.expect("positions"),
        vec![position],
        "live positions are kept"
    );

    // The promoted copy keeps working as the live store.
    let next = Transaction::for_event(Uuid::new_v4()).put(
        &ITEMS,
        "o2",
        "",
        b"after".to_vec(),
        Expect::Absent,
    );
    assert_eq!(promoted.apply(next).await.expect("apply"), Outcome::Applied);
    let again = factory.promote(&service, "rb1", TABLES).await;
    assert!(
        matches!(again, Err(ViewError::NoSuchShadow { .. })),
        "promoting the same shadow twice: {again:?}"
    );
    drop(promoted);
    let reopened = open(factory, &service, &Namespace::Live, TABLES).await;
    assert!(
        reopened
            .get(ITEMS.name, "o2", "")
            .await
            .expect("get")
            .is_some()
    );
}
