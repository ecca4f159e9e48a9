//! Store lifecycle: digests, reopening, shadow copies for rebuilds.

use uuid::Uuid;

use super::{ITEMS, STOCK, StoreFactory, TABLES, fresh, message, open};
use crate::model::{Namespace, TableDef};
use crate::transaction::{ConsumedPosition, Expect, Outcome, Transaction};
use crate::verify::{CompareOptions, RowDifference, compare_tables};

const ROWS: &[(&str, &str, &str)] = &[
    ("a", "1", "one"),
    ("a", "2", "two"),
    ("b", "", "three"),
    ("c", "x", "four"),
    ("c", "y", ""),
];

/// Equal content gives equal digests however it was built (order, extra
/// versions, rows deleted again); one changed value changes the digest.
pub async fn digest_is_order_independent_and_content_sensitive(factory: &dyn StoreFactory) {
    let (_, forward) = fresh(factory).await;
    let (_, backward) = fresh(factory).await;
    let empty = forward.digest(ITEMS.name).await.expect("digest");
    assert_eq!(empty.rows, 0);
    assert_eq!(empty, backward.digest(ITEMS.name).await.expect("digest"));

    for (p, c, v) in ROWS {
        let tx = Transaction::new().put(&ITEMS, *p, *c, v.as_bytes().to_vec(), Expect::Any);
        assert_eq!(forward.apply(tx).await.expect("apply"), Outcome::Applied);
    }
    // Reverse order, a detour value, and a row that comes and goes.
    let tx = Transaction::new().put(&ITEMS, "zz", "gone", b"tmp".to_vec(), Expect::Any);
    assert_eq!(backward.apply(tx).await.expect("apply"), Outcome::Applied);
    for (p, c, v) in ROWS.iter().rev() {
        let detour = Transaction::new().put(&ITEMS, *p, *c, b"detour".to_vec(), Expect::Any);
        assert_eq!(
            backward.apply(detour).await.expect("apply"),
            Outcome::Applied
        );
        let tx = Transaction::new().put(&ITEMS, *p, *c, v.as_bytes().to_vec(), Expect::Any);
        assert_eq!(backward.apply(tx).await.expect("apply"), Outcome::Applied);
    }
    let tx = Transaction::new().delete(&ITEMS, "zz", "gone", Expect::Any);
    assert_eq!(backward.apply(tx).await.expect("apply"), Outcome::Applied);

    let left = forward.digest(ITEMS.name).await.expect("digest");
    let right = backward.digest(ITEMS.name).await.expect("digest");
    assert_eq!(left.rows, ROWS.len() as u64);
    assert_eq!(left, right, "same content, different history");
    assert_ne!(left, empty);
    assert_eq!(
        forward.digest(STOCK.name).await.expect("digest"),
        empty,
        "other tables are not part of the digest"
    );

    let change = Transaction::new().put(&ITEMS, "c", "y", b"changed".to_vec(), Expect::Any);
    assert_eq!(
        backward.apply(change).await.expect("apply"),
        Outcome::Applied
    );
    let changed = backward.digest(ITEMS.name).await.expect("digest");
    assert_eq!(changed.rows, left.rows);
    assert_ne!(changed, left, "one changed value changes the digest");
}

/// Everything survives dropping and reopening the store, and reopening with
/// an extra table adds it without touching the rest.
pub async fn reopen_keeps_data(factory: &dyn StoreFactory) {
    let (service, store) = fresh(factory).await;
    let event = Uuid::new_v4();
    let emitted = message("orders", "o1", "kept");
    let position = ConsumedPosition {
        group: "g".into(),
        topic: "orders".into(),
        partition: 2,
        offset: 77,
    };
    let tx = Transaction::for_event(event)
        .put(&ITEMS, "o1", "", b"kept".to_vec(), Expect::Absent)
        .emit(emitted.clone())
        .at_position(position.clone());
    assert_eq!(
        store.apply(tx.clone()).await.expect("apply"),
        Outcome::Applied
    );
    let seq = store.outbox_pending(10).await.expect("outbox")[0].seq;
    drop(store);

    const EXTRA: TableDef = TableDef {
        name: "added_later",
        doc: "conformance: a table added by a newer release",
    };
    let reopened = open(factory, &service, &Namespace::Live, &[ITEMS, STOCK, EXTRA]).await;
    let row = reopened
        .get(ITEMS.name, "o1", "")
        .await
        .expect("get")
        .expect("row survives");
    assert_eq!((row.value.as_slice(), row.version), (b"kept".as_slice(), 1));
    assert!(reopened.was_processed(event).await.expect("processed"));
    assert_eq!(
        reopened.apply(tx).await.expect("apply"),
        Outcome::Duplicate,
        "dedup survives a restart"
    );
    let pending = reopened.outbox_pending(10).await.expect("outbox");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].seq, &pending[0].message), (seq, &emitted));
    assert_eq!(
        reopened.positions("g").await.expect("positions"),
        vec![position]
    );
    let tx = Transaction::new().put(&EXTRA, "p", "c", b"new".to_vec(), Expect::Absent);
    assert_eq!(reopened.apply(tx).await.expect("apply"), Outcome::Applied);
    drop(reopened);
    let again = open(factory, &service, &Namespace::Live, TABLES).await;
    assert!(
        again
            .get(ITEMS.name, "o1", "")
            .await
            .expect("get")
            .is_some()
    );
}

/// A shadow namespace of the same service is a separate store (rows, event
/// ids, outbox), and `compare_tables` lists exactly what differs.
pub async fn shadow_namespace_is_isolated_and_comparable(factory: &dyn StoreFactory) {
    let (service, live) = fresh(factory).await;
    let shadow_ns = Namespace::shadow("rebuild1").expect("valid name");
    let shadow = open(factory, &service, &shadow_ns, TABLES).await;
    assert_eq!(shadow.namespace(), &shadow_ns);
    assert_eq!(live.namespace(), &Namespace::Live);

    let event = Uuid::new_v4();
    let mut tx = Transaction::for_event(event).emit(message("orders", "o", "live only"));
    for (p, c, v) in ROWS {
        tx = tx.put(&ITEMS, *p, *c, v.as_bytes().to_vec(), Expect::Any);
    }
    assert_eq!(live.apply(tx).await.expect("apply"), Outcome::Applied);
    assert!(!shadow.was_processed(event).await.expect("processed"));
    assert!(shadow.outbox_pending(10).await.expect("outbox").is_empty());
    assert_eq!(shadow.digest(ITEMS.name).await.expect("digest").rows, 0);

    // Rebuild the same content in another order under the same event id.
    let mut tx = Transaction::for_event(event);
    for (p, c, v) in ROWS.iter().rev() {
        tx = tx.put(&ITEMS, *p, *c, v.as_bytes().to_vec(), Expect::Any);
    }
    assert_eq!(shadow.apply(tx).await.expect("apply"), Outcome::Applied);
    let options = CompareOptions {
        page_size: 2,
        max_differences: 10,
    };
    let same = compare_tables(live.as_ref(), shadow.as_ref(), ITEMS.name, options)
        .await
        .expect("compare");
    assert!(same.matches(), "{same:?}");
    assert!(same.differences.is_empty());

    // One changed value, one missing row, one extra row.
    let tx = Transaction::new()
        .put(&ITEMS, "a", "2", b"corrupted".to_vec(), Expect::Any)
        .delete(&ITEMS, "b", "", Expect::Any)
        .put(&ITEMS, "d", "new", b"extra".to_vec(), Expect::Any);
    assert_eq!(shadow.apply(tx).await.expect("apply"), Outcome::Applied);
    let differ = compare_tables(live.as_ref(), shadow.as_ref(), ITEMS.name, options)
        .await
        .expect("compare");
    assert!(!differ.matches());
    assert!(!differ.truncated);
    let mut kinds: Vec<String> = differ
        .differences
        .iter()
        .map(|d| match d {
            RowDifference::ValueDiffers { live, rebuilt } => format!(
                "differs {}/{} {}->{}",
                live.partition,
                live.clustering,
                String::from_utf8_lossy(&live.value),
                String::from_utf8_lossy(&rebuilt.value)
            ),
            RowDifference::MissingFromRebuilt { live } => {
                format!("missing {}/{}", live.partition, live.clustering)
            }
            RowDifference::OnlyInRebuilt { rebuilt } => {
                format!("extra {}/{}", rebuilt.partition, rebuilt.clustering)
            }
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        ["differs a/2 two->corrupted", "extra d/new", "missing b/"]
    );

    let limited = compare_tables(
        live.as_ref(),
        shadow.as_ref(),
        ITEMS.name,
        CompareOptions {
            page_size: 1,
            max_differences: 1,
        },
    )
    .await
    .expect("compare");
    assert_eq!(limited.differences.len(), 1);
    assert!(limited.truncated);
}
