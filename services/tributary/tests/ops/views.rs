//! `views rebuild`: a shadow rebuilt from the topics equals the live view,
//! and a corrupted live row is reported as a difference.

use tributary::ops::{
    reader::RawRecord,
    rebuild::{self, RebuildTarget},
};
use tributary_bus::headers::MessageHeaders;
use tributary_contracts::events::AnyEvent;
use tributary_views::{Expect, Transaction, ViewsConfig, open_store};

use crate::helpers::{TestApp, now_ms};

#[tokio::test]
async fn a_rebuilt_orders_view_matches_the_live_one_until_a_row_is_corrupted() {
    let app = TestApp::start().await;
    let definition = tributary_orders::definition(tributary_orders::OrdersConfig::default());
    for topic in &definition.consumes {
        app.topic(topic, 1).await;
    }
    let target = RebuildTarget {
        service: definition.name,
        group: tributary_service::group_id(definition.name),
        tables: definition.tables.clone(),
        topics: definition.consumes.clone(),
        projector: definition.projector.clone().expect("orders projects"),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let views = ViewsConfig::embedded(dir.path());
    let live = open_store(&views, target.service, &target.tables)
        .await
        .expect("live store");

    // The live view: every saga event, applied in production order as the
    // service would have.
    let base = now_ms() - 600_000;
    let mut applied = 0;
    for n in 0..250_i64 {
        for event in saga(n % 3 == 0) {
            if !target.topics.contains(&event.topic()) {
                continue;
            }
            let payload = app.codec.encode_any(&event).await.expect("encode");
            let ts = base + applied;
            let offset = app
                .produce(event.topic(), 0, &event.key(), &payload, &[], Some(ts))
                .await;
            let record = RawRecord {
                topic: event.topic().to_owned(),
                partition: 0,
                offset,
                timestamp_ms: Some(ts),
                key: Some(event.key().as_bytes().to_vec()),
                payload: Some(payload),
                headers: MessageHeaders::new(),
            };
            rebuild::apply(&app.codec, live.as_ref(), &target, &record)
                .await
                .expect("live projection");
            applied += 1;
        }
    }

    let report = rebuild::rebuild(&app.cluster, &app.codec, &views, &target, "rbtest1", true)
        .await
        .expect("rebuild");
    assert_eq!(report.events, u64::try_from(applied).expect("count"));
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert!(report.matches, "{report:#?}");
    assert!(report.tables.iter().any(|t| t.live_rows > 0));

    // Corrupt one live row: the next rebuild lists exactly it.
    let table = &target.tables[0];
    let row = live
        .scan(table.name, None, 1)
        .await
        .expect("scan")
        .into_iter()
        .next()
        .expect("a row");
    let tx = Transaction::new().put(
        table,
        row.partition.clone(),
        row.clustering.clone(),
        br#"{"corrupted":true}"#.to_vec(),
        Expect::Any,
    );
    live.apply(tx).await.expect("corrupt");
    let report = rebuild::rebuild(&app.cluster, &app.codec, &views, &target, "rbtest2", true)
        .await
        .expect("rebuild");
    assert!(!report.matches);
    let bad: Vec<_> = report.tables.iter().filter(|t| !t.matches).collect();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].differences.len(), 1, "{:?}", bad[0].differences);
    assert!(bad[0].differences[0].contains(&row.partition));
    assert!(!report.switched);
}

/// A coherent saga for one order, from the catalogue samples: placed,
/// reserved, then authorized and confirmed, or declined, released and
/// cancelled.
pub fn saga(declined: bool) -> Vec<AnyEvent> {
    let all = tributary::bench::sample_events();
    let (order_id, customer_id) = all
        .iter()
        .find_map(|e| match e {
            AnyEvent::OrderConfirmed(c) => Some((c.order_id, c.customer_id)),
            _ => None,
        })
        .expect("a confirmation sample");
    let pick = |name: &str| {
        all.iter()
            .find(|e| e.full_name().ends_with(name))
            .cloned()
            .expect("sample")
    };
    let mut placed = pick(".OrderPlaced");
    if let AnyEvent::OrderPlaced(p) = &mut placed {
        p.order_id = order_id;
        p.customer_id = customer_id;
    }
    let rest: &[&str] = if declined {
        &[
            ".StockReserved",
            ".PaymentDeclined",
            ".StockReleased",
            ".OrderCancelled",
        ]
    } else {
        &[".StockReserved", ".PaymentAuthorized", ".OrderConfirmed"]
    };
    std::iter::once(placed)
        .chain(rest.iter().map(|n| pick(n)))
        .collect()
}
