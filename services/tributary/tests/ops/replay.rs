//! `replay --print` decodes every contract event type through the registry.

use std::collections::BTreeSet;

use tributary_bus::headers::event_headers;
use tributary_contracts::CATALOG;
use tributary_testkit::unique_name;

use crate::helpers::TestApp;

#[tokio::test]
async fn replay_print_decodes_every_event_type_and_filters_by_key() {
    let app = TestApp::start().await;
    let topic = app.topic(&unique_name("replay"), 3).await;
    let events = tributary::bench::sample_events();
    for (i, event) in events.iter().enumerate() {
        let payload = app.codec.encode_any(event).await.expect("encode");
        let h = event_headers(event.envelope(), event.event_type(), None);
        let headers: Vec<(&str, &str)> = h
            .iter()
            .map(|(n, v)| (n, std::str::from_utf8(v).expect("utf-8")))
            .collect();
        let partition = i32::try_from(i % 3).expect("small");
        app.produce(&topic, partition, &event.key(), &payload, &headers, None)
            .await;
    }
    // One record that is not an event at all.
    app.produce(&topic, 0, "junk", b"not avro", &[], None).await;

    let (ok, stdout, stderr) = app.cli(&["replay", "--topic", &topic, "--print"]).await;
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), events.len() + 1, "{stdout}");
    let decoded: BTreeSet<&str> = lines
        .iter()
        .filter_map(|l| l["event_type"].as_str())
        .collect();
    let expected: BTreeSet<&str> = CATALOG.iter().map(|d| d.full_name).collect();
    assert_eq!(decoded, expected);
    assert_eq!(lines.iter().filter(|l| !l["error"].is_null()).count(), 1);
    assert!(
        lines
            .iter()
            .all(|l| l["topic"] == topic.as_str() && l["offset"].is_i64())
    );

    // Key filter and offset bounds.
    let key = events[0].key().to_string();
    let (ok, stdout, stderr) = app
        .cli(&[
            "replay",
            "--topic",
            &topic,
            "--print",
            "--key",
            &key,
            "--partition",
            "0",
            "--to-offset",
            "1",
        ])
        .await;
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(lines[0].contains(&key));

    // Copy to another topic keeps every record.
    let copy = app.topic(&unique_name("copy"), 1).await;
    let (ok, stdout, stderr) = app
        .cli(&[
            "replay",
            "--topic",
            &topic,
            "--to-topic",
            &copy,
            "--rate",
            "1000",
        ])
        .await;
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("copied {} record(s)", events.len() + 1)),
        "{stdout}"
    );
    let marks = app.cluster.watermarks(&copy, &[0]).await.expect("marks");
    assert_eq!(marks[&0].1, i64::try_from(events.len() + 1).expect("small"));

    // Unknown topic: one line, non-zero.
    let (ok, _, stderr) = app
        .cli(&["replay", "--topic", "nope-nope", "--print"])
        .await;
    assert!(!ok);
    assert!(stderr.contains("unknown topic"), "{stderr}");
}
