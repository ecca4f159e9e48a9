//! Row reads and writes: get, partition order, expectations, scans, bad input.

use std::collections::BTreeSet;

use super::{ITEMS, STOCK, StoreFactory, fresh};
use crate::error::ViewError;
use crate::model::{ClusteringOrder, RowKey};
use crate::transaction::{Expect, Outcome, Transaction};

/// Put/get round trips (binary values, unicode and empty keys) and partition
/// reads in both orders with limits; clustering keys sort by UTF-8 bytes.
pub async fn put_get_and_partition_order(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    // Shuffled insertion order; "c10" sorts between "c1" and "c2" bytewise.
    let mut tx = Transaction::new();
    for ck in ["c3", "c1", "c5", "c10", "c2", "c4"] {
        tx = tx.put(&ITEMS, "p", ck, format!("v-{ck}").into_bytes(), Expect::Any);
    }
    let binary = vec![0u8, 255, 0, 7];
    let large = vec![42u8; 200_000];
    tx = tx
        .put(&ITEMS, "q", "only", b"q".to_vec(), Expect::Any)
        .put(&ITEMS, "ü/ß 🙂", "", binary.clone(), Expect::Any)
        .put(&ITEMS, "large", "x", large.clone(), Expect::Any)
        .put(&STOCK, "p", "c1", b"other table".to_vec(), Expect::Any);
    assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);

    let row = store
        .get(ITEMS.name, "p", "c1")
        .await
        .expect("get")
        .expect("row p/c1 exists");
    assert_eq!(
        (row.partition.as_str(), row.clustering.as_str()),
        ("p", "c1")
    );
    assert_eq!(row.value, b"v-c1");
    assert_eq!(row.version, 1, "a new row starts at version 1");
    let unicode = store.get(ITEMS.name, "ü/ß 🙂", "").await.expect("get");
    assert_eq!(unicode.map(|r| r.value), Some(binary));
    let big = store.get(ITEMS.name, "large", "x").await.expect("get");
    assert_eq!(big.map(|r| r.value.len()), Some(large.len()));
    assert_eq!(store.get(ITEMS.name, "p", "nope").await.expect("get"), None);
    assert_eq!(
        store.get(ITEMS.name, "nope", "c1").await.expect("get"),
        None
    );
    let other = store.get(STOCK.name, "p", "c1").await.expect("get");
    assert_eq!(
        other.map(|r| r.value),
        Some(b"other table".to_vec()),
        "tables are separate"
    );

    let keys = |rows: Vec<crate::model::Row>| {
        rows.into_iter()
            .map(|r| {
                assert_eq!(r.partition, "p", "partition reads stay in their partition");
                r.clustering
            })
            .collect::<Vec<_>>()
    };
    let asc = store
        .partition(ITEMS.name, "p", ClusteringOrder::Ascending, 100)
        .await
        .expect("partition");
    assert_eq!(keys(asc), ["c1", "c10", "c2", "c3", "c4", "c5"]);
    let desc = store
        .partition(ITEMS.name, "p", ClusteringOrder::Descending, 3)
        .await
        .expect("partition");
    assert_eq!(keys(desc), ["c5", "c4", "c3"]);
    let first_two = store
        .partition(ITEMS.name, "p", ClusteringOrder::Ascending, 2)
        .await
        .expect("partition");
    assert_eq!(keys(first_two), ["c1", "c10"]);
    let none = store
        .partition(ITEMS.name, "p", ClusteringOrder::Ascending, 0)
        .await
        .expect("partition");
    assert!(none.is_empty(), "limit 0 returns nothing");
    let missing = store
        .partition(ITEMS.name, "absent", ClusteringOrder::Descending, 10)
        .await
        .expect("partition");
    assert!(missing.is_empty());
}

/// Versions count puts; every `Expect` variant passes and fails as documented,
/// and a failed expectation leaves the row untouched.
pub async fn expectations_and_versions(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let put = |value: &str, expect| {
        Transaction::new().put(&STOCK, "sku", "", value.as_bytes().to_vec(), expect)
    };
    let conflict = Outcome::Conflict {
        table: STOCK.name,
        partition: "sku".into(),
        clustering: String::new(),
    };
    let current = || async {
        store
            .get(STOCK.name, "sku", "")
            .await
            .expect("get")
            .map(|r| (String::from_utf8_lossy(&r.value).into_owned(), r.version))
    };

    assert_eq!(
        store
            .apply(put("a", Expect::Version(1)))
            .await
            .expect("apply"),
        conflict,
        "Version(n) on an absent row conflicts"
    );
    assert_eq!(current().await, None);
    assert_eq!(
        store.apply(put("a", Expect::Absent)).await.expect("apply"),
        Outcome::Applied
    );
    assert_eq!(current().await, Some(("a".into(), 1)));
    assert_eq!(
        store.apply(put("b", Expect::Absent)).await.expect("apply"),
        conflict,
        "Absent on an existing row conflicts"
    );
    assert_eq!(current().await, Some(("a".into(), 1)));
    assert_eq!(
        store.apply(put("b", Expect::Any)).await.expect("apply"),
        Outcome::Applied
    );
    assert_eq!(
        current().await,
        Some(("b".into(), 2)),
        "Any bumps the version"
    );
    assert_eq!(
        store
            .apply(put("c", Expect::Version(1)))
            .await
            .expect("apply"),
        conflict,
        "a stale version conflicts"
    );
    assert_eq!(current().await, Some(("b".into(), 2)));
    assert_eq!(
        store
            .apply(put("c", Expect::Version(2)))
            .await
            .expect("apply"),
        Outcome::Applied
    );
    assert_eq!(current().await, Some(("c".into(), 3)));

    let delete = |expect| Transaction::new().delete(&STOCK, "sku", "", expect);
    assert_eq!(
        store
            .apply(delete(Expect::Version(2)))
            .await
            .expect("apply"),
        conflict,
        "a delete with a stale version conflicts"
    );
    assert_eq!(current().await, Some(("c".into(), 3)));
    assert_eq!(
        store
            .apply(delete(Expect::Version(3)))
            .await
            .expect("apply"),
        Outcome::Applied
    );
    assert_eq!(current().await, None);
    assert_eq!(
        store.apply(delete(Expect::Any)).await.expect("apply"),
        Outcome::Applied,
        "deleting an absent row with Any is a no-op"
    );
    assert_eq!(
        store.apply(put("d", Expect::Any)).await.expect("apply"),
        Outcome::Applied
    );
    assert_eq!(
        current().await,
        Some(("d".into(), 1)),
        "a re-created row starts again at version 1"
    );
}

/// Paging with any page size returns every row exactly once, then an empty page.
pub async fn scan_pages_cover_every_row_once(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let mut expected = BTreeSet::new();
    let mut tx = Transaction::new();
    for (p, count) in [("alpha", 7), ("beta", 1), ("gamma", 12), ("delta", 3)] {
        for i in 0..count {
            let ck = format!("{i:03}");
            expected.insert(RowKey::new(p, ck.clone()));
            tx = tx.put(&ITEMS, p, ck, vec![i as u8], Expect::Any);
        }
    }
    tx = tx.put(&STOCK, "alpha", "000", b"elsewhere".to_vec(), Expect::Any);
    assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
    assert!(
        store
            .scan(ITEMS.name, None, 0)
            .await
            .expect("scan")
            .is_empty(),
        "limit 0 returns nothing"
    );

    for page_size in [1, 2, 5, 7, 23, 100] {
        let mut seen = Vec::new();
        let mut after: Option<RowKey> = None;
        loop {
            let page = store
                .scan(ITEMS.name, after.as_ref(), page_size)
                .await
                .expect("scan");
            assert!(page.len() <= page_size, "page exceeds its limit");
            let Some(last) = page.last() else { break };
            after = Some(last.key());
            seen.extend(page.into_iter().map(|r| r.key()));
            assert!(
                seen.len() <= expected.len(),
                "scan with page size {page_size} does not terminate"
            );
        }
        let unique: BTreeSet<RowKey> = seen.iter().cloned().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "page size {page_size} returned a row twice"
        );
        assert_eq!(unique, expected, "page size {page_size} missed rows");
    }
}

/// Malformed input is refused with a typed error and changes nothing.
pub async fn rejects_invalid_input(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let unknown = crate::model::TableDef {
        name: "not_declared",
        doc: "",
    };
    let result = store
        .apply(Transaction::new().put(&unknown, "p", "c", b"v".to_vec(), Expect::Any))
        .await;
    assert!(
        matches!(result, Err(ViewError::UnknownTable { .. })),
        "{result:?}"
    );
    let result = store.get("not_declared", "p", "c").await;
    assert!(
        matches!(result, Err(ViewError::UnknownTable { .. })),
        "{result:?}"
    );
    let result = store.digest("not_declared").await;
    assert!(
        matches!(result, Err(ViewError::UnknownTable { .. })),
        "{result:?}"
    );

    let twice = Transaction::new()
        .put(&ITEMS, "p", "c", b"1".to_vec(), Expect::Any)
        .put(&ITEMS, "p", "c", b"2".to_vec(), Expect::Any);
    let result = store.apply(twice).await;
    assert!(
        matches!(result, Err(ViewError::InvalidTransaction { .. })),
        "{result:?}"
    );
    let result = store
        .apply(Transaction::new().delete(&ITEMS, "p", "c", Expect::Absent))
        .await;
    assert!(
        matches!(result, Err(ViewError::InvalidTransaction { .. })),
        "{result:?}"
    );
    let result = store
        .apply(Transaction::new().put(&ITEMS, "", "c", b"v".to_vec(), Expect::Any))
        .await;
    assert!(
        matches!(result, Err(ViewError::InvalidTransaction { .. })),
        "empty partition keys are refused everywhere: {result:?}"
    );
    assert_eq!(store.get(ITEMS.name, "p", "c").await.expect("get"), None);

    let bad_service = factory
        .open("Bad-Name", &crate::model::Namespace::Live, super::TABLES)
        .await;
    assert!(
        matches!(bad_service, Err(ViewError::InvalidName { .. })),
        "{:?}",
        bad_service.err()
    );
    let bad_table = crate::model::TableDef {
        name: "drop table x;",
        doc: "",
    };
    let result = factory
        .open(
            &super::unique_service(),
            &crate::model::Namespace::Live,
            &[bad_table],
        )
        .await;
    assert!(
        matches!(result, Err(ViewError::InvalidName { .. })),
        "{:?}",
        result.err()
    );
}
