//! Atomicity of transactions: conflicts, duplicates, racing replicas.

use futures::future::join_all;
use uuid::Uuid;

use super::{ITEMS, STOCK, StoreFactory, fresh, message, open};
use crate::model::Namespace;
use crate::transaction::{ConsumedPosition, Expect, Outcome, Transaction};

fn position(group: &str, partition: i32, offset: i64) -> ConsumedPosition {
    ConsumedPosition {
        group: group.to_owned(),
        topic: "orders".to_owned(),
        partition,
        offset,
    }
}

/// A transaction whose expectation fails applies nothing: not the other
/// writes of its partition, not its unconditional writes, not its outbox
/// messages, position or event id.
pub async fn conflict_applies_nothing(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let seed = Transaction::new()
        .put(&STOCK, "sku", "", b"10".to_vec(), Expect::Absent)
        .put(&ITEMS, "seeded", "y", b"keep".to_vec(), Expect::Any);
    assert_eq!(store.apply(seed).await.expect("seed"), Outcome::Applied);

    let event = Uuid::new_v4();
    let tx = Transaction::for_event(event)
        .put(&ITEMS, "elsewhere", "x", b"blind".to_vec(), Expect::Any)
        .delete(&ITEMS, "seeded", "y", Expect::Any)
        .put(
            &STOCK,
            "sku",
            "reservation/o1",
            b"2".to_vec(),
            Expect::Absent,
        )
        .put(&STOCK, "sku", "", b"8".to_vec(), Expect::Version(7))
        .emit(message("inventory", "o1", "StockReserved"))
        .at_position(position("g", 0, 42));
    assert_eq!(
        store.apply(tx).await.expect("apply"),
        Outcome::Conflict {
            table: STOCK.name,
            partition: "sku".into(),
            clustering: String::new(),
        }
    );
    let stock = store.get(STOCK.name, "sku", "").await.expect("get");
    assert_eq!(
        stock.map(|r| (r.value, r.version)),
        Some((b"10".to_vec(), 1)),
        "the conflicting row is unchanged"
    );
    assert_eq!(
        store
            .get(STOCK.name, "sku", "reservation/o1")
            .await
            .expect("get"),
        None,
        "the other write of the same partition was not applied"
    );
    assert_eq!(
        store.get(ITEMS.name, "elsewhere", "x").await.expect("get"),
        None,
        "the unconditional write was not applied"
    );
    assert!(
        store
            .get(ITEMS.name, "seeded", "y")
            .await
            .expect("get")
            .is_some(),
        "the unconditional delete was not applied"
    );
    assert!(
        store.outbox_pending(10).await.expect("outbox").is_empty(),
        "no outbox message after a conflict"
    );
    assert!(
        store.positions("g").await.expect("positions").is_empty(),
        "no position after a conflict"
    );
    assert!(
        !store.was_processed(event).await.expect("processed"),
        "the event id of a conflicting transaction is not recorded"
    );

    // The handler re-reads and retries with the right version: all of it lands.
    let retry = Transaction::for_event(event)
        .put(&ITEMS, "elsewhere", "x", b"blind".to_vec(), Expect::Any)
        .put(
            &STOCK,
            "sku",
            "reservation/o1",
            b"2".to_vec(),
            Expect::Absent,
        )
        .put(&STOCK, "sku", "", b"8".to_vec(), Expect::Version(1))
        .emit(message("inventory", "o1", "StockReserved"))
        .at_position(position("g", 0, 42));
    assert_eq!(store.apply(retry).await.expect("retry"), Outcome::Applied);
    assert!(store.was_processed(event).await.expect("processed"));
    assert_eq!(store.outbox_pending(10).await.expect("outbox").len(), 1);
    assert_eq!(
        store.positions("g").await.expect("positions"),
        vec![position("g", 0, 42)]
    );
}

/// A recorded event id makes the same event a `Duplicate` that applies
/// nothing, whatever the redelivered transaction contains.
pub async fn duplicate_event_applies_nothing(factory: &dyn StoreFactory) {
    let (_, store) = fresh(factory).await;
    let event = Uuid::new_v4();
    assert!(!store.was_processed(event).await.expect("processed"));
    let first_message = message("orders", "o1", "first");
    let first = Transaction::for_event(event)
        .put(&ITEMS, "o1", "", b"first".to_vec(), Expect::Any)
        .emit(first_message.clone())
        .at_position(position("g", 3, 5));
    assert_eq!(store.apply(first).await.expect("apply"), Outcome::Applied);
    assert!(store.was_processed(event).await.expect("processed"));

    let again = Transaction::for_event(event)
        .put(&ITEMS, "o1", "", b"second".to_vec(), Expect::Any)
        .put(&ITEMS, "o2", "", b"new".to_vec(), Expect::Absent)
        .emit(message("orders", "o1", "second"))
        .at_position(position("g", 3, 9));
    assert_eq!(store.apply(again).await.expect("apply"), Outcome::Duplicate);
    let row = store
        .get(ITEMS.name, "o1", "")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(
        (row.value.as_slice(), row.version),
        (b"first".as_slice(), 1)
    );
    assert_eq!(store.get(ITEMS.name, "o2", "").await.expect("get"), None);
    let pending = store.outbox_pending(10).await.expect("outbox");
    assert_eq!(
        pending.into_iter().map(|e| e.message).collect::<Vec<_>>(),
        vec![first_message],
        "a duplicate appends no outbox message"
    );
    assert_eq!(
        store.positions("g").await.expect("positions"),
        vec![position("g", 3, 5)],
        "a duplicate does not move the position"
    );

    // Transactions without an event id are never duplicates.
    for value in ["x", "y"] {
        let tx = Transaction::new().put(&ITEMS, "free", "", value.as_bytes().to_vec(), Expect::Any);
        assert_eq!(store.apply(tx).await.expect("apply"), Outcome::Applied);
    }
    let free = store.get(ITEMS.name, "free", "").await.expect("get");
    assert_eq!(free.map(|r| r.version), Some(2));
}

/// Two instances of one store (two replicas) race conflicting decisions on the
/// same row: exactly one transaction wins each round, and only its effects
/// (value, outbox message, event id) are visible.
pub async fn concurrent_decisions_have_one_winner(factory: &dyn StoreFactory) {
    let (service, first) = fresh(factory).await;
    let second = open(factory, &service, &Namespace::Live, super::TABLES).await;
    let replicas = [first, second];
    const CONTENDERS: usize = 8;

    // Race to create the same row.
    let events: Vec<Uuid> = (0..CONTENDERS).map(|_| Uuid::new_v4()).collect();
    let outcomes = join_all(events.iter().enumerate().map(|(i, event)| {
        let store = &replicas[i % 2];
        let tx = Transaction::for_event(*event)
            .put(
                &STOCK,
                "sku-1",
                "",
                format!("created-{i}").into_bytes(),
                Expect::Absent,
            )
            .emit(message("inventory", "sku-1", &format!("created-{i}")));
        async move { store.apply(tx).await.expect("apply") }
    }))
    .await;
    let winner = single_winner(&outcomes, "Absent race");
    let row = replicas[1]
        .get(STOCK.name, "sku-1", "")
        .await
        .expect("get")
        .expect("created");
    assert_eq!(row.value, format!("created-{winner}").into_bytes());
    assert_eq!(row.version, 1);

    // Rounds of read-modify-write races on the version.
    let mut expected_messages = 1;
    for round in 0..4 {
        let current = replicas[0]
            .get(STOCK.name, "sku-1", "")
            .await
            .expect("get")
            .expect("row")
            .version;
        let events: Vec<Uuid> = (0..CONTENDERS).map(|_| Uuid::new_v4()).collect();
        let outcomes = join_all(events.iter().enumerate().map(|(i, event)| {
            let store = &replicas[(i + round) % 2];
            let tx = Transaction::for_event(*event)
                .put(
                    &STOCK,
                    "sku-1",
                    "",
                    format!("round-{round}-{i}").into_bytes(),
                    Expect::Version(current),
                )
                .put(
                    &ITEMS,
                    "log",
                    format!("{round}-{i}"),
                    b"x".to_vec(),
                    Expect::Any,
                )
                .emit(message("inventory", "sku-1", &format!("round-{round}-{i}")));
            async move { store.apply(tx).await.expect("apply") }
        }))
        .await;
        let winner = single_winner(&outcomes, "version race");
        expected_messages += 1;
        let row = replicas[round % 2]
            .get(STOCK.name, "sku-1", "")
            .await
            .expect("get")
            .expect("row");
        assert_eq!(row.value, format!("round-{round}-{winner}").into_bytes());
        assert_eq!(row.version, current + 1);
        for (i, event) in events.iter().enumerate() {
            let processed = replicas[i % 2]
                .was_processed(*event)
                .await
                .expect("processed");
            assert_eq!(
                processed,
                i == winner,
                "only the winner's event id is recorded"
            );
            let logged = replicas[0]
                .get(ITEMS.name, "log", &format!("{round}-{i}"))
                .await
                .expect("get");
            assert_eq!(
                logged.is_some(),
                i == winner,
                "only the winner's other writes land"
            );
        }
    }
    let pending = replicas[0].outbox_pending(100).await.expect("outbox");
    assert_eq!(
        pending.len(),
        expected_messages,
        "exactly one outbox message per round"
    );
}

/// Workers on two instances increment one counter row with read-modify-write
/// transactions, retrying on conflict: no increment is lost, each recorded
/// event id matches exactly one increment, and the version counts them.
pub async fn concurrent_increments_lose_no_update(factory: &dyn StoreFactory) {
    let (service, first) = fresh(factory).await;
    let second = open(factory, &service, &Namespace::Live, super::TABLES).await;
    let replicas = [first, second];
    const WORKERS: usize = 8;
    const INCREMENTS: usize = 25;
    const MAX_ATTEMPTS: usize = 2_000;

    let seed = Transaction::new().put(&STOCK, "counter", "", b"0".to_vec(), Expect::Absent);
    assert_eq!(
        replicas[0].apply(seed).await.expect("seed"),
        Outcome::Applied
    );

    let conflicts = join_all((0..WORKERS).map(|worker| {
        let store = &replicas[worker % 2];
        async move {
            let mut conflicts = 0usize;
            for _ in 0..INCREMENTS {
                let event = Uuid::new_v4();
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(attempts <= MAX_ATTEMPTS, "worker {worker} starved");
                    let row = store
                        .get(STOCK.name, "counter", "")
                        .await
                        .expect("get")
                        .expect("counter exists");
                    let count: u64 = String::from_utf8_lossy(&row.value)
                        .parse()
                        .expect("counter value");
                    let tx = Transaction::for_event(event).put(
                        &STOCK,
                        "counter",
                        "",
                        (count + 1).to_string().into_bytes(),
                        Expect::Version(row.version),
                    );
                    match store.apply(tx).await.expect("apply") {
                        Outcome::Applied => break,
                        Outcome::Conflict { .. } => conflicts += 1,
                        Outcome::Duplicate => panic!("a fresh event id was reported as duplicate"),
                    }
                }
            }
            conflicts
        }
    }))
    .await;

    let total = (WORKERS * INCREMENTS) as u64;
    let row = replicas[1]
        .get(STOCK.name, "counter", "")
        .await
        .expect("get")
        .expect("counter exists");
    assert_eq!(
        String::from_utf8_lossy(&row.value),
        total.to_string(),
        "increments were lost ({} conflicts retried)",
        conflicts.iter().sum::<usize>()
    );
    assert_eq!(row.version, total as i64 + 1, "one version per put");
}

fn single_winner(outcomes: &[Outcome], what: &str) -> usize {
    let winners: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_applied())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        winners.len(),
        1,
        "{what}: expected one winner, got {outcomes:?}"
    );
    for outcome in outcomes {
        assert!(
            matches!(outcome, Outcome::Applied | Outcome::Conflict { .. }),
            "{what}: unexpected {outcome:?}"
        );
    }
    winners[0]
}
