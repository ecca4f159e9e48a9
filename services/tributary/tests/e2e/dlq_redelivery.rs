//! Issue 5: redelivering dead-lettered events once the failure's cause is
//! fixed completes the sagas, with no duplicate effect.
//!
//! The platform runs with a payment simulator whose `fail_token` is the
//! token every normal order of one load run pays with, so their
//! authorizations fail at the provider, are retried a few times and land in
//! the payments' dead-letter topic while their orders stay PENDING with
//! stock held (the saga timeout is far away). The cause is then fixed the
//! way an operator would: the configuration file no longer names that
//! token and the payments process is restarted (`up` restarts a killed child
//! with its `--config` file read afresh). `tributary dlq redeliver` sends the
//! records back; every saga ends as its plan meant, each order is authorized
//! once, no stock stays reserved, and a second redelivery changes nothing.

use std::{
    collections::BTreeSet,
    path::Path,
    time::{Duration, Instant},
};

use serde_json::Value;
use tributary::{
    load::{
        self, LoadClient, LoadOptions, Observed, RunRecord, Tokens,
        client::{OrderStatus, PaymentState, ReservationState},
        schedule::OrderKind,
    },
    ops::{Cluster, dlq},
};
use uuid::Uuid;

use crate::{
    platform::{Platform, Start},
    support::{SERVICE_GROUPS, assert_clean_run, metric_sum},
};

/// The token the outage run's normal orders pay with.
const OUTAGE_TOKEN: &str = "tok_outage";
/// Where the payments group dead-letters `StockReserved` (`<topic>.<group>.dlq`).
const PAYMENTS_DLQ: &str = "inventory.tributary.payments.dlq";
const PAYMENTS_GROUP: &str = "tributary.payments";
/// The reason the bus records when an event's retries are used up.
const EXHAUSTED: &str = "retries_exhausted";
/// Deliveries before dead-lettering: 0.25 + 0.5 + 1 + 2 + 4 s of backoff,
/// far above the ordering races retries normally absorb (a `StockReserved`
/// seen before its `OrderPlaced`), far below the default's 25 s.
const MAX_ATTEMPTS: u64 = 6;
/// Generous: two cores shared with other builds and tests.
const SLOW: Duration = Duration::from_secs(180);

/// The platform's configuration file. `fail_token` is the outage; the
/// breaker is kept shut so the failing orders cannot take healthy ones
/// down with them, and the saga timeout is far beyond the test.
fn config(fail_token: &str) -> String {
    format!(
        r#"[service.bus.consumer.retry]
max_attempts = {MAX_ATTEMPTS}
initial_backoff = "250ms"
multiplier = 2.0

[orders]
saga_timeout = "30m"

[payments.provider]
fail_token = "{fail_token}"

[payments.breaker]
failure_threshold = 1000000
"#
    )
}

/// Replaces the file atomically, so a process starting meanwhile never reads
/// half of it.
fn write_config(path: &Path, fail_token: &str) {
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, config(fail_token)).expect("write the configuration");
    std::fs::rename(&temporary, path).expect("replace the configuration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivering_dead_letters_after_the_fix_completes_every_saga_once() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config_file = dir.path().join("tributary.toml");
    write_config(&config_file, OUTAGE_TOKEN);
    let platform = Platform::start(Start {
        env: vec![("TRIBUTARY_CONFIG", config_file.display().to_string())],
        ..Start::default()
    })
    .await;
    let cli = Cli::new(&platform);
    let cluster = Cluster::connect(&platform.bootstrap_servers()).expect("cluster");
    let client = LoadClient::new(platform.endpoints(), Duration::from_secs(10)).expect("client");

    // Healthy orders first: nothing below may change them.
    let healthy_options = platform.load_options(40, 20.0);
    let healthy = load::run(healthy_options.clone())
        .await
        .expect("the healthy run starts");
    assert_clean_run(&healthy);

    // The outage: every normal order pays with the failing token. The run
    // does not wait for sagas that cannot end; the test waits below.
    let outage_options = LoadOptions {
        tokens: Tokens {
            approve: OUTAGE_TOKEN.to_owned(),
            ..Tokens::default()
        },
        seed: 7,
        settle_timeout: Duration::from_secs(1),
        check_timeout: Duration::from_secs(1),
        ..platform.load_options(60, 20.0)
    };
    let outage = load::run(outage_options.clone())
        .await
        .expect("the outage run starts");
    let text = outage.render();
    assert_eq!(outage.send.accepted, outage.send.planned, "{text}");
    assert_eq!(outage.outcomes.untracked, 0, "{text}");
    let record = outage.record.clone();
    let failing: BTreeSet<Uuid> = orders_of(&record, |kind| kind == OrderKind::Normal);
    let others: BTreeSet<Uuid> = orders_of(&record, |kind| kind != OrderKind::Normal);
    assert!(!failing.is_empty() && !others.is_empty(), "{text}");

    poll(
        SLOW,
        "every failing authorization dead-lettered",
        || async {
            let count = dlq_count(&cluster).await;
            check(count == failing.len() as u64, || {
                format!("{count} of {} records in {PAYMENTS_DLQ}", failing.len())
            })
        },
    )
    .await;
    poll(SLOW, "the declined and rejected orders ended", || async {
        outcomes_as_planned(&client, &record, &others).await
    })
    .await;

    // What the operator sees: one DLQ, exactly the failing orders' events.
    let listed = cli.json(&["dlq", "list"]).await;
    let non_empty: Vec<&Value> = listed
        .as_array()
        .expect("a list")
        .iter()
        .filter(|d| d["count"].as_u64() != Some(0))
        .collect();
    assert_eq!(
        non_empty.len(),
        1,
        "only the payments DLQ fills: {listed:#}"
    );
    assert_eq!(non_empty[0]["topic"], PAYMENTS_DLQ, "{listed:#}");
    assert_eq!(non_empty[0]["count"], failing.len(), "{listed:#}");
    let reasons = non_empty[0]["reasons"].as_object().expect("reasons");
    assert_eq!(reasons.len(), 1, "one reason: {listed:#}");
    assert_eq!(reasons[EXHAUSTED], failing.len(), "{listed:#}");
    let shown = cli.json(&["dlq", "show", PAYMENTS_DLQ]).await;
    let mut keys = BTreeSet::new();
    for entry in shown.as_array().expect("entries") {
        let key = entry["key"].as_str().expect("a key");
        keys.insert(key.parse::<Uuid>().expect("keyed by order id"));
        assert_eq!(entry["failure"]["attempts"], MAX_ATTEMPTS, "{entry:#}");
        assert_eq!(entry["failure"]["source_topic"], "inventory", "{entry:#}");
        let event_type = entry["decoded"]["event_type"].as_str().unwrap_or_default();
        assert!(event_type.ends_with(".StockReserved"), "{entry:#}");
    }
    assert_eq!(keys, failing, "the DLQ holds exactly the failing orders");
    eprintln!(
        "{} authorizations dead-lettered; {} other orders ended",
        failing.len(),
        others.len()
    );
    for &id in &failing {
        assert_stuck(&client, id).await;
    }

    // The fix: the provider no longer fails that token.
    write_config(&config_file, "tok_fail");
    let old = platform.kill("payments-1");
    platform
        .wait_restarted("payments-1", old, &platform.service_url("payments", 1))
        .await;

    let dry = cli
        .json(&["dlq", "redeliver", PAYMENTS_DLQ, "--reason", EXHAUSTED])
        .await;
    assert_eq!(dry["executed"], false, "{dry:#}");
    assert_eq!(dry["redelivered"], 0, "{dry:#}");
    assert_eq!(dry["records"].as_array().map(Vec::len), Some(failing.len()));
    let moved = cli
        .json(&[
            "dlq",
            "redeliver",
            PAYMENTS_DLQ,
            "--reason",
            EXHAUSTED,
            "--execute",
        ])
        .await;
    assert_eq!(moved["redelivered"], failing.len(), "{moved:#}");
    poll(SLOW, "every redelivered saga ended as planned", || async {
        outcomes_as_planned(&client, &record, &failing).await
    })
    .await;
    let after_fix = verify_as_planned(&outage_options, &record).await;
    let untouched = verify_as_planned(&healthy_options, &healthy.record).await;
    assert_same(&healthy.observed, &untouched, "the healthy run");

    // Again: the records are still in the DLQ (Kafka cannot delete them);
    // the services recognise every copy as already processed.
    let payments = platform.service_url("payments", 1);
    let duplicates = duplicates_on_inventory(&platform.metrics(&payments).await);
    let again = cli
        .json(&["dlq", "redeliver", PAYMENTS_DLQ, "--execute"])
        .await;
    assert_eq!(again["redelivered"], failing.len(), "{again:#}");
    poll(SLOW, "payments skipped every second copy", || async {
        let now = duplicates_on_inventory(&platform.metrics(&payments).await);
        check(now >= duplicates + failing.len() as f64, || {
            format!("{} duplicates skipped since", now - duplicates)
        })
    })
    .await;
    poll(SLOW, "every group consumed the second copies", || async {
        caught_up_on_inventory(&cluster).await
    })
    .await;
    let after_again = verify_as_planned(&outage_options, &record).await;
    assert_same(&after_fix, &after_again, "the outage run");
    let still_untouched = verify_as_planned(&healthy_options, &healthy.record).await;
    assert_same(&healthy.observed, &still_untouched, "the healthy run");
    assert_eq!(
        dlq_count(&cluster).await,
        failing.len() as u64,
        "a redelivered event failed again"
    );
}

/// The ids of the run's orders whose planned kind passes `wanted`.
fn orders_of(record: &RunRecord, wanted: impl Fn(OrderKind) -> bool) -> BTreeSet<Uuid> {
    record
        .orders
        .iter()
        .filter(|o| o.kind.is_some_and(&wanted))
        .map(|o| o.id)
        .collect()
}

/// Events from `inventory` a service skipped as already processed, from
/// its Prometheus page (`tributary_events_duplicate_total{topic,group}`).
fn duplicates_on_inventory(page: &str) -> f64 {
    let inventory: String = page
        .lines()
        .filter(|line| line.contains("topic=\"inventory\""))
        .collect::<Vec<_>>()
        .join("\n");
    metric_sum(&inventory, "tributary_events_duplicate_total")
}

/// Records in the payments DLQ (0 before it exists).
async fn dlq_count(cluster: &Cluster) -> u64 {
    dlq::list(cluster, Some(PAYMENTS_GROUP))
        .await
        .unwrap_or_default()
        .iter()
        .filter(|d| d.topic == PAYMENTS_DLQ)
        .map(|d| d.count)
        .sum()
}

/// Whether each of `ids` has reached the outcome its plan meant.
async fn outcomes_as_planned(
    client: &LoadClient,
    record: &RunRecord,
    ids: &BTreeSet<Uuid>,
) -> Result<(), String> {
    for tracked in record.orders.iter().filter(|o| ids.contains(&o.id)) {
        let id = tracked.id;
        let kind = tracked
            .kind
            .ok_or_else(|| format!("order {id}: untracked"))?;
        let order = match client.order(id).await {
            Ok(Some(order)) => order,
            other => return Err(format!("order {id}: {other:?}")),
        };
        let outcome = (order.status, order.reason.as_deref());
        check(outcome == kind.expected(), || {
            format!("order {id} ({kind:?}) is {outcome:?}")
        })?;
    }
    Ok(())
}

/// A failing order mid-saga: still PENDING (not timed out), its stock held,
/// its payment neither authorized nor declined.
async fn assert_stuck(client: &LoadClient, id: Uuid) {
    let order = client.order(id).await.expect("order").expect("known");
    assert_eq!(order.status, OrderStatus::Pending, "order {id}");
    let reservation = client.reservation(id).await.expect("reservation");
    assert_eq!(
        reservation.map(|r| r.state),
        Some(ReservationState::Held),
        "order {id}"
    );
    let payment = client.payment(id).await.expect("payment");
    assert_eq!(
        payment.map(|p| p.state),
        Some(PaymentState::Pending),
        "order {id}"
    );
}

/// Every invariant holds over `record`, each order ended as planned, and
/// each confirmed order is authorized for exactly its total. Returns what
/// the check saw.
async fn verify_as_planned(options: &LoadOptions, record: &RunRecord) -> Observed {
    let options = LoadOptions {
        check_timeout: Duration::from_secs(60),
        ..options.clone()
    };
    let verification = load::verify(&options, record)
        .await
        .expect("the check runs");
    for invariant in &verification.invariants {
        assert!(invariant.holds, "{invariant:#?}");
    }
    for tracked in &record.orders {
        let kind = tracked.kind.expect("every order tracked");
        let (status, reason) = verification.observed.orders[&tracked.id].clone();
        assert_eq!(
            (status, reason.as_deref()),
            kind.expected(),
            "{}",
            tracked.id
        );
    }
    verification.observed
}

fn assert_same(before: &Observed, after: &Observed, what: &str) {
    assert_eq!(
        before.orders, after.orders,
        "{what}: order statuses changed"
    );
    assert_eq!(before.payments, after.payments, "{what}: payments changed");
    assert_eq!(
        before.reservations, after.reservations,
        "{what}: reservations changed"
    );
    assert_eq!(before.stock, after.stock, "{what}: stock changed");
    assert_eq!(
        before.notifications, after.notifications,
        "{what}: notifications changed"
    );
}

/// Whether every service group has committed up to the end of every
/// `inventory` partition it consumes (where the redelivered copies went).
/// Read as committed offsets, not through `groups describe`: tansu 0.6 on
/// SQLite storage (what `up` runs) fails every DescribeGroups request.
async fn caught_up_on_inventory(cluster: &Cluster) -> Result<(), String> {
    let ids = cluster
        .partitions("inventory")
        .await
        .map_err(|e| e.to_string())?;
    let ends = cluster
        .watermarks("inventory", &ids)
        .await
        .map_err(|e| e.to_string())?;
    for group in SERVICE_GROUPS {
        let committed = cluster
            .committed(group, "inventory", &ids)
            .await
            .map_err(|e| e.to_string())?;
        // A partition the group never committed on is one it does not consume.
        for (partition, offset) in committed {
            let end = ends.get(&partition).map_or(0, |&(_, end)| end);
            check(offset.is_none_or(|o| o >= end), || {
                format!("{group} committed {offset:?} of {end} on inventory/{partition}")
            })?;
        }
    }
    Ok(())
}

/// Polls `condition` every half second (each check costs broker and HTTP
/// round trips) until it is `Ok`; after `timeout`, panics naming `what` and
/// the last state the condition reported.
async fn poll<F, Fut>(timeout: Duration, what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    loop {
        let Err(state) = condition().await else {
            return;
        };
        assert!(
            started.elapsed() < timeout,
            "timed out after {timeout:?} waiting for: {what}; last: {state}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `Ok` when `ok`, else the state `describe` gives.
fn check(ok: bool, describe: impl FnOnce() -> String) -> Result<(), String> {
    if ok { Ok(()) } else { Err(describe()) }
}

/// The `tributary` operator commands against the platform.
struct Cli {
    bootstrap: String,
    registry: String,
}

impl Cli {
    fn new(platform: &Platform) -> Self {
        Cli {
            bootstrap: platform.bootstrap_servers(),
            registry: platform.registry_url(),
        }
    }

    /// Runs `tributary <args> --json`; panics unless it succeeds.
    async fn json(&self, args: &[&str]) -> Value {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_tributary"))
            .args(args)
            .args(["--json", "--bootstrap-servers", &self.bootstrap])
            .args(["--registry-url", &self.registry])
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("run tributary");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "tributary {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("tributary {args:?} printed no JSON ({e}):\n{stdout}"))
    }
}
