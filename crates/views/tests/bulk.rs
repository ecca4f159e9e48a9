//! A bulk load of the embedded backend as other stores of the same file see
//! it (the conformance cases run through it in `tests/conformance.rs`; the
//! grouping itself is unit-tested in `src/embedded/bulk.rs`, where the time
//! limit can be switched off).

use tributary_views::{
    Expect, Namespace, Outcome, TableDef, Transaction, ViewStore, ViewsConfig, open_bulk_load,
    open_store_in,
};
use uuid::Uuid;

const ITEMS: TableDef = TableDef {
    name: "items",
    doc: "test: partition = owner, clustering = item",
};

fn put(item: usize) -> Transaction {
    Transaction::for_event(Uuid::new_v4()).put(
        &ITEMS,
        "owner",
        format!("{item:05}"),
        item.to_string().into_bytes(),
        Expect::Absent,
    )
}

async fn rows(store: &dyn ViewStore) -> usize {
    store
        .partition(
            ITEMS.name,
            "owner",
            tributary_views::ClusteringOrder::Ascending,
            10_000,
        )
        .await
        .expect("partition")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_stores_see_full_groups_before_finish_and_everything_after() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ViewsConfig::embedded(dir.path());
    let shadow = Namespace::shadow("bulk").expect("namespace");
    let loader = open_bulk_load(&config, "svc", &shadow, &[ITEMS])
        .await
        .expect("bulk load");
    let other = open_store_in(&config, "svc", &shadow, &[ITEMS])
        .await
        .expect("second store");

    loader.apply(put(0)).await.expect("apply");
    assert_eq!(
        rows(loader.as_ref()).await,
        1,
        "the loader reads its own applies"
    );

    // More applies than one group holds: the loader commits on its own.
    for item in 1..1_500 {
        assert_eq!(
            loader.apply(put(item)).await.expect("apply"),
            Outcome::Applied
        );
    }
    // Groups commit at a thousand applies (or earlier, after 50 ms), so at
    // most 999 of the 1 500 can still be uncommitted.
    let seen = rows(other.as_ref()).await;
    assert!(seen > 500, "committed without finish: {seen}");

    loader.finish().await.expect("finish");
    assert_eq!(rows(other.as_ref()).await, 1_500);
    // The loader goes on after a finish, and other writers of the file can
    // write between its groups.
    loader.apply(put(1_500)).await.expect("apply after finish");
    loader.finish().await.expect("finish again");
    assert_eq!(
        other.apply(put(1_501)).await.expect("another writer"),
        Outcome::Applied
    );
    assert_eq!(rows(loader.as_ref()).await, 1_502);
}
