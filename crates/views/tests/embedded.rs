//! Embedded-backend behaviour beyond the shared conformance suite: the file
//! layout, all-or-nothing across partitions, lock contention, error reports,
//! and several OS processes sharing one file.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rusqlite::Connection;
use tributary_views::embedded::EmbeddedStore;
use tributary_views::{
    ConsumedPosition, Expect, Namespace, OutboxMessage, Outcome, TableDef, Transaction, ViewError,
    ViewsConfig, open_store, open_store_in,
};
use uuid::Uuid;

const ITEMS: TableDef = TableDef {
    name: "items",
    doc: "test: partition = owner, clustering = item",
};
const COUNTERS: TableDef = TableDef {
    name: "counters",
    doc: "test: partition = counter name",
};
const TABLES: &[TableDef] = &[ITEMS, COUNTERS];

fn raw(path: &Path) -> Connection {
    Connection::open(path).expect("raw connection")
}

fn table_names(conn: &Connection) -> Vec<String> {
    let mut statement = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .expect("prepare");
    statement
        .query_map([], |row| row.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[tokio::test]
async fn one_wal_file_per_service_with_shadow_tables_inside() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ViewsConfig::embedded(dir.path());
    let live = open_store(&config, "orders", TABLES).await.expect("open");
    let path = EmbeddedStore::file_path(dir.path(), "orders");
    assert_eq!(path, dir.path().join("views").join("orders.sqlite"));
    assert!(
        live.describe().contains("orders.sqlite"),
        "{}",
        live.describe()
    );
    let shadow = open_store_in(
        &config,
        "orders",
        &Namespace::shadow("r1").expect("name"),
        TABLES,
    )
    .await
    .expect("open shadow");
    assert!(shadow.describe().contains("shadow r1"));

    let conn = raw(&path);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |row| row.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
    let names = table_names(&conn);
    for expected in [
        "view_items",
        "view_counters",
        "processed_events",
        "outbox",
        "positions",
        "tributary_migrations",
        "shadow_r1__view_items",
        "shadow_r1__processed_events",
        "shadow_r1__outbox",
        "shadow_r1__positions",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing from {names:?}"
        );
    }
    let migrations: i64 = conn
        .query_row("SELECT COUNT(*) FROM tributary_migrations", [], |row| {
            row.get(0)
        })
        .expect("count");
    assert_eq!(migrations, 2, "one migration per namespace, applied once");
    // Reopening applies nothing twice.
    drop(open_store(&config, "orders", TABLES).await.expect("reopen"));
    let again: i64 = conn
        .query_row("SELECT COUNT(*) FROM tributary_migrations", [], |row| {
            row.get(0)
        })
        .expect("count");
    assert_eq!(again, 2);
}

#[tokio::test]
async fn a_conflict_in_any_partition_applies_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(&ViewsConfig::embedded(dir.path()), "inventory", TABLES)
        .await
        .expect("open");
    let seed = Transaction::new().put(&COUNTERS, "sku-2", "", b"5".to_vec(), Expect::Absent);
    assert_eq!(store.apply(seed).await.expect("seed"), Outcome::Applied);

    // The first decision (another partition, another table) would succeed on
    // its own; the embedded backend still applies none of it.
    let tx = Transaction::for_event(Uuid::new_v4())
        .put(&COUNTERS, "sku-1", "", b"reserved".to_vec(), Expect::Absent)
        .put(&ITEMS, "order-1", "line-1", b"x".to_vec(), Expect::Absent)
        .put(&COUNTERS, "sku-2", "", b"4".to_vec(), Expect::Version(9));
    assert!(matches!(
        store.apply(tx).await.expect("apply"),
        Outcome::Conflict { table: "counters", ref partition, .. } if partition == "sku-2"
    ));
    assert_eq!(
        store.get(COUNTERS.name, "sku-1", "").await.expect("get"),
        None
    );
    assert_eq!(
        store
            .get(ITEMS.name, "order-1", "line-1")
            .await
            .expect("get"),
        None
    );
}

#[tokio::test]
async fn a_held_write_lock_is_reported_as_busy_and_reads_go_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ViewsConfig::embedded(dir.path());
    config.embedded.busy_timeout = Duration::from_millis(200);
    let store = open_store(&config, "payments", TABLES).await.expect("open");
    let seed = Transaction::new().put(&ITEMS, "p", "c", b"before".to_vec(), Expect::Any);
    assert_eq!(store.apply(seed).await.expect("seed"), Outcome::Applied);

    // Another process holds the write lock.
    let holder = raw(&EmbeddedStore::file_path(dir.path(), "payments"));
    holder.execute_batch("BEGIN IMMEDIATE").expect("lock");
    let tx = Transaction::new().put(&ITEMS, "p", "c", b"after".to_vec(), Expect::Any);
    let error = store.apply(tx.clone()).await.expect_err("must time out");
    assert!(
        matches!(error, ViewError::Busy { .. }) && error.is_transient(),
        "{error:?}"
    );
    assert!(error.to_string().contains("payments.sqlite"), "{error}");
    let row = store
        .get(ITEMS.name, "p", "c")
        .await
        .expect("WAL reads are not blocked");
    assert_eq!(row.map(|r| r.value), Some(b"before".to_vec()));

    holder.execute_batch("ROLLBACK").expect("unlock");
    assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
}

#[tokio::test]
async fn an_unusable_data_dir_is_reported_with_its_path() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write");
    let error = open_store(&ViewsConfig::embedded(&file), "users", TABLES)
        .await
        .expect_err("a file is not a directory");
    assert!(matches!(error, ViewError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("not-a-dir"), "{error}");

    let mut config = ViewsConfig::embedded(dir.path());
    config.embedded.pool_size = 0;
    let error = open_store(&config, "users", TABLES)
        .await
        .expect_err("pool");
    assert!(
        matches!(error, ViewError::InvalidConfig { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn corrupted_rows_are_reported_not_panicked_on() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open_store(&ViewsConfig::embedded(dir.path()), "notifications", TABLES)
        .await
        .expect("open");
    let message = OutboxMessage {
        topic: "notifications".into(),
        key: "user-1".into(),
        payload: b"payload".to_vec(),
        headers: vec![("ce_id".into(), b"1".to_vec())],
        event_id: Uuid::new_v4(),
    };
    let tx = Transaction::new()
        .emit(message)
        .put(&ITEMS, "p", "c", b"v".to_vec(), Expect::Any);
    assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);

    let conn = raw(&EmbeddedStore::file_path(dir.path(), "notifications"));
    conn.execute_batch(
        "UPDATE outbox SET headers = x'000000'; UPDATE view_items SET version = 'not a number';",
    )
    .expect("corrupt");
    let error = store
        .outbox_pending(10)
        .await
        .expect_err("corrupted headers");
    assert!(matches!(error, ViewError::Corrupted { .. }), "{error:?}");
    let error = store
        .get(ITEMS.name, "p", "c")
        .await
        .expect_err("corrupted version");
    assert!(matches!(error, ViewError::Corrupted { .. }), "{error:?}");
}

/// Environment variable that turns `child_worker_for_multi_process_test` into
/// a worker: the data directory to use.
const CHILD_DIR: &str = "TRIBUTARY_VIEWS_TEST_CHILD_DIR";
const CHILD_INCREMENTS: u64 = 50;
const CHILDREN: u64 = 3;

/// Several OS processes open one file at the same time (concurrent
/// migrations) and increment one counter with optimistic concurrency; no
/// increment, outbox message or event record is lost or doubled.
#[tokio::test]
async fn several_processes_share_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    let mut children = Vec::new();
    for _ in 0..CHILDREN {
        let child = tokio::process::Command::new(&exe)
            .args([
                "--exact",
                "child_worker_for_multi_process_test",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn child");
        children.push(child);
    }
    for child in children {
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("child finished in time")
            .expect("child output");
        assert!(
            output.status.success(),
            "child failed: {}\n{}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let store = open_store(&ViewsConfig::embedded(dir.path()), "analytics", TABLES)
        .await
        .expect("open");
    let total = CHILDREN * CHILD_INCREMENTS;
    let row = store
        .get(COUNTERS.name, "shared", "")
        .await
        .expect("get")
        .expect("counter");
    assert_eq!(String::from_utf8_lossy(&row.value), total.to_string());
    let pending = store.outbox_pending(1000).await.expect("outbox");
    assert_eq!(
        pending.len() as u64,
        total,
        "one outbox message per increment"
    );
    assert!(pending.windows(2).all(|w| w[0].seq < w[1].seq));
    for entry in &pending {
        let event = Uuid::from_slice(&entry.message.payload).expect("event id payload");
        assert!(store.was_processed(event).await.expect("processed"));
    }
    let positions = store.positions("workers").await.expect("positions");
    assert_eq!(
        positions.len() as u64,
        CHILDREN,
        "one position per child partition"
    );
    assert!(
        positions
            .iter()
            .all(|p| p.offset == CHILD_INCREMENTS as i64)
    );
}

/// The worker half of `several_processes_share_one_file`; does nothing unless
/// started by it.
#[tokio::test]
async fn child_worker_for_multi_process_test() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let store = open_store(&ViewsConfig::embedded(dir), "analytics", TABLES)
        .await
        .expect("child open");
    let partition = i32::try_from(std::process::id() % 100_000).expect("small");
    let seed = Transaction::new().put(&COUNTERS, "shared", "", b"0".to_vec(), Expect::Absent);
    // Every child tries to seed; exactly one wins, the others conflict.
    store.apply(seed).await.expect("seed");
    for offset in 1..=CHILD_INCREMENTS {
        let event = Uuid::new_v4();
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 5_000, "starved");
            let row = store
                .get(COUNTERS.name, "shared", "")
                .await
                .expect("get")
                .expect("seeded");
            let count: u64 = String::from_utf8_lossy(&row.value).parse().expect("number");
            let tx = Transaction::for_event(event)
                .put(
                    &COUNTERS,
                    "shared",
                    "",
                    (count + 1).to_string().into_bytes(),
                    Expect::Version(row.version),
                )
                .emit(OutboxMessage {
                    topic: "analytics".into(),
                    key: "shared".into(),
                    payload: event.as_bytes().to_vec(),
                    headers: Vec::new(),
                    event_id: event,
                })
                .at_position(ConsumedPosition {
                    group: "workers".into(),
                    topic: "orders".into(),
                    partition,
                    offset: offset as i64,
                });
            match store.apply(tx).await.expect("apply") {
                Outcome::Applied => break,
                Outcome::Conflict { .. } => continue,
                Outcome::Duplicate => panic!("fresh event reported as duplicate"),
            }
        }
    }
}

/// A store opened before a promotion (another process of the service, in
/// real life) reads the promoted tables on its next call: SQLite notices the
/// schema change and re-prepares its cached statements.
#[tokio::test]
async fn a_store_opened_before_a_promotion_reads_the_new_copy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ViewsConfig::embedded(dir.path());
    let live = open_store(&config, "svc", TABLES).await.expect("open live");
    let old_event = Uuid::new_v4();
    let tx = Transaction::for_event(old_event).put(&ITEMS, "p", "", b"old".to_vec(), Expect::Any);
    assert_eq!(live.apply(tx).await.expect("apply"), Outcome::Applied);
    // Warm the statement cache on the live connection.
    assert!(live.was_processed(old_event).await.expect("processed"));
    assert!(live.get(ITEMS.name, "p", "").await.expect("get").is_some());

    let shadow_ns = Namespace::shadow("rb").expect("name");
    let shadow = open_store_in(&config, "svc", &shadow_ns, TABLES)
        .await
        .expect("open shadow");
    let tx = Transaction::new().put(&ITEMS, "p", "", b"new".to_vec(), Expect::Any);
    assert_eq!(shadow.apply(tx).await.expect("apply"), Outcome::Applied);
    drop(shadow);

    tributary_views::promote_shadow(&config, "svc", "rb", TABLES)
        .await
        .expect("promote");
    let row = live
        .get(ITEMS.name, "p", "")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.value, b"new");
    assert!(!live.was_processed(old_event).await.expect("processed"));
    let conn = raw(&EmbeddedStore::file_path(dir.path(), "svc"));
    assert!(
        table_names(&conn)
            .iter()
            .all(|t| !t.starts_with("shadow_rb__")),
        "no shadow table is left: {:?}",
        table_names(&conn)
    );
}
