//! The transactional outbox and consumer positions.

use super::{ITEMS, StoreFactory, fresh, message};
use crate::transaction::{ConsumedPosition, Expect, OutboxMessage, Outcome, Transaction};

/// Messages come back in append order with increasing `seq` and intact
/// contents; acks remove exactly the acked messages, may be repeated, and
/// never let a later message reuse a `seq`.
pub async fn outbox_keeps_order_and_acks(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let a1 = message("orders", "k1", "a1");
    let a2 = message("orders", "k1", "a2");
    let b1 = OutboxMessage {
        headers: Vec::new(),
        payload: Vec::new(),
        ..message("payments", "k2", "")
    };
    let a3 = message("orders", "k1", "a3");
    for batch in [
        vec![a1.clone(), a2.clone()],
        vec![b1.clone()],
        vec![a3.clone()],
    ] {
        let mut tx = Transaction::new().put(&ITEMS, "x", "", b"x".to_vec(), Expect::Any);
        for m in batch {
            tx = tx.emit(m);
        }
        assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
    }

    let pending = store.outbox_pending(100).await.expect("outbox");
    let messages: Vec<OutboxMessage> = pending.iter().map(|e| e.message.clone()).collect();
    assert_eq!(
        messages,
        vec![a1.clone(), a2.clone(), b1.clone(), a3.clone()],
        "append order and contents (headers, empty payload) survive"
    );
    assert!(
        pending.windows(2).all(|w| w[0].seq < w[1].seq),
        "seq increases: {:?}",
        pending.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    let first_two = store.outbox_pending(2).await.expect("outbox");
    assert_eq!(first_two, pending[..2].to_vec(), "limit returns the oldest");

    let acked: Vec<i64> = pending[..2].iter().map(|e| e.seq).collect();
    store.outbox_ack(&acked).await.expect("ack");
    store
        .outbox_ack(&acked)
        .await
        .expect("a repeated ack is harmless");
    store
        .outbox_ack(&[])
        .await
        .expect("an empty ack is harmless");
    let rest = store.outbox_pending(100).await.expect("outbox");
    assert_eq!(rest, pending[2..].to_vec());

    let max_seq = pending.iter().map(|e| e.seq).max().unwrap_or(0);
    store
        .outbox_ack(&rest.iter().map(|e| e.seq).collect::<Vec<_>>())
        .await
        .expect("ack");
    assert!(store.outbox_pending(100).await.expect("outbox").is_empty());
    let later = message("orders", "k1", "later");
    let tx = Transaction::new().emit(later.clone());
    assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
    let after = store.outbox_pending(100).await.expect("outbox");
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].message, later);
    assert!(
        after[0].seq > max_seq,
        "a new message never reuses an acked seq"
    );
    assert!(store.outbox_pending(0).await.expect("outbox").is_empty());
}

/// Positions are upserted per (group, topic, partition), listed per group in
/// topic then partition order.
pub async fn positions_upsert_per_group_and_partition(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let pos = |group: &str, topic: &str, partition: i32, offset: i64| ConsumedPosition {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition,
        offset,
    };
    for position in [
        pos("g1", "orders", 0, 10),
        pos("g1", "orders", 1, 20),
        pos("g2", "orders", 0, 5),
        pos("g1", "orders", 0, 11),
        pos("g1", "inventory", 3, 1),
        pos("g1", "orders", 10, 0),
    ] {
        let tx = Transaction::new().at_position(position);
        assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
    }
    assert_eq!(
        store.positions("g1").await.expect("positions"),
        vec![
            pos("g1", "inventory", 3, 1),
            pos("g1", "orders", 0, 11),
            pos("g1", "orders", 1, 20),
            pos("g1", "orders", 10, 0),
        ]
    );
    assert_eq!(
        store.positions("g2").await.expect("positions"),
        vec![pos("g2", "orders", 0, 5)]
    );
    assert!(store.positions("g3").await.expect("positions").is_empty());
}
