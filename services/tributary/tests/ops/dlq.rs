//! `dlq list / show / redeliver` on DLQ-shaped records.

use std::collections::BTreeMap;

use tributary::ops::{
    OpsError,
    dlq::{self, REDELIVERY_HEADER, RedeliverFilter},
    reader::{PartitionRange, read_all},
};
use tributary_bus::headers::{event_headers, names};
use tributary_testkit::unique_name;

use crate::helpers::TestApp;

#[tokio::test]
async fn dlq_list_show_and_redeliver_back_to_the_source() {
    let app = TestApp::start().await;
    let source = app.topic(&unique_name("src"), 2).await;
    let group = format!("tributary.{}", unique_name("svc"));
    let dlq_topic = app.topic(&format!("{source}.{group}.dlq"), 1).await;

    let events = tributary::bench::sample_events();
    let mut produced = Vec::new();
    for (i, event) in events.iter().take(3).enumerate() {
        let payload = app.codec.encode_any(event).await.expect("encode");
        let mut h = event_headers(event.envelope(), event.event_type(), None);
        h.set(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        let reason = if i == 2 {
            "decode_error"
        } else {
            "retries_exhausted"
        };
        for (n, v) in [
            (names::ERROR, "handler failed: boom".to_owned()),
            (names::ERROR_REASON, reason.to_owned()),
            (names::ATTEMPT, "5".to_owned()),
            (names::SOURCE_TOPIC, source.clone()),
            (names::SOURCE_PARTITION, "1".to_owned()),
            (names::SOURCE_OFFSET, (40 + i).to_string()),
        ] {
            h.set(n, v);
        }
        let headers: Vec<(String, String)> = h
            .iter()
            .map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).expect("utf-8")))
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        app.produce(&dlq_topic, 0, &event.key(), &payload, &refs, None)
            .await;
        produced.push((
            event.key().to_string(),
            event.envelope().event_id.to_string(),
        ));
    }

    // list
    let list = dlq::list(&app.cluster, Some(&group)).await.expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].count, 3);
    assert_eq!(list[0].source_topic, source);
    assert_eq!(
        list[0].reasons,
        BTreeMap::from([
            ("decode_error".to_owned(), 1),
            ("retries_exhausted".to_owned(), 2)
        ])
    );
    assert!(list[0].oldest_ms.is_some());
    let (ok, stdout, stderr) = app.cli(&["dlq", "list", "--group", &group, "--json"]).await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("retries_exhausted"), "{stdout}");

    // show
    let shown = dlq::show(&app.cluster, &app.codec, &dlq_topic, None, Some(1))
        .await
        .expect("show");
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].failure.attempts, 5);
    assert_eq!(shown[0].failure.source_offset, 41);
    assert_eq!(
        shown[0].decoded.event_type.as_deref(),
        Some(events[1].full_name())
    );
    let (ok, stdout, stderr) = app.cli(&["dlq", "show", &dlq_topic, "--offset", "0"]).await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("after 5 attempt(s)") && stdout.contains(events[0].full_name()),
        "{stdout}"
    );

    // dry run moves nothing
    let (ok, stdout, stderr) = app
        .cli(&[
            "dlq",
            "redeliver",
            &dlq_topic,
            "--reason",
            "retries_exhausted",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("2 record(s) would move"), "{stdout}");
    let ids = app.cluster.partitions(&source).await.expect("partitions");
    let empty = app.cluster.watermarks(&source, &ids).await.expect("marks");
    assert!(empty.values().all(|(_, high)| *high == 0));

    // execute: back to the source with original key and headers
    let (ok, stdout, stderr) = app
        .cli(&[
            "dlq",
            "redeliver",
            &dlq_topic,
            "--reason",
            "retries_exhausted",
            "--execute",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(stdout.contains("redelivered 2 record(s)"), "{stdout}");
    let marks = app.cluster.watermarks(&source, &ids).await.expect("marks");
    let ranges: Vec<PartitionRange> = marks
        .iter()
        .map(|(&partition, &(start, end))| PartitionRange {
            partition,
            start,
            end,
        })
        .collect();
    let arrived = read_all(app.broker.bootstrap_servers(), &source, &ranges)
        .await
        .expect("read");
    assert_eq!(arrived.len(), 2);
    for r in &arrived {
        let key = r.key_text().expect("key");
        let (_, id) = produced
            .iter()
            .find(|(k, _)| *k == key)
            .expect("original key");
        assert_eq!(r.headers.get_str(names::CE_ID), Some(id.as_str()));
        assert!(r.headers.get_str("traceparent").is_some());
        assert_eq!(r.headers.get_str(REDELIVERY_HEADER), Some("1"));
        for h in [
            names::ERROR,
            names::ERROR_REASON,
            names::ATTEMPT,
            names::SOURCE_TOPIC,
            names::SOURCE_OFFSET,
        ] {
            assert!(r.headers.get(h).is_none(), "{h} was not stripped");
        }
        let event = app
            .codec
            .decode(r.payload.as_deref().expect("payload"))
            .await
            .expect("decodes");
        assert_eq!(event.key(), key);
    }
}

#[tokio::test]
async fn a_malformed_dlq_record_is_an_error_and_nothing_moves() {
    let app = TestApp::start().await;
    let source = app.topic(&unique_name("src"), 1).await;
    let dlq_topic = app.topic(&format!("{source}.tributary.x.dlq"), 1).await;
    app.produce(
        &dlq_topic,
        0,
        "k",
        b"payload",
        &[(names::ERROR, "boom")],
        None,
    )
    .await;

    let err = dlq::plan_redeliver(&app.cluster, &dlq_topic, &RedeliverFilter::default())
        .await
        .expect_err("malformed");
    assert!(
        matches!(err, OpsError::MalformedDlqRecord { offset: 0, .. }),
        "{err}"
    );
    let (ok, _, stderr) = app
        .cli(&["dlq", "redeliver", &dlq_topic, "--execute"])
        .await;
    assert!(!ok);
    assert!(stderr.contains("malformed DLQ record"), "{stderr}");
    let (ok, _, stderr) = app.cli(&["dlq", "show", &dlq_topic, "--offset", "0"]).await;
    assert!(!ok && stderr.contains("malformed DLQ record"), "{stderr}");
    let marks = app.cluster.watermarks(&source, &[0]).await.expect("marks");
    assert_eq!(marks[&0], (0, 0));
    let list = dlq::list(&app.cluster, Some("tributary.x"))
        .await
        .expect("list");
    assert_eq!(list[0].reasons.get(dlq::MALFORMED), Some(&1));
}
