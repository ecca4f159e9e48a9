//! The registry keeps nothing locally: a new instance on the same topic serves
//! the same ids, and instances sharing a topic converge.

use std::time::Duration;

use tributary_contracts::CompatibilityLevel;
use tributary_testkit::{unique_name, wait_until};

use crate::helpers::{BREAKING, RunningRegistry, TestApp, V1, V2};

#[tokio::test]
async fn a_restarted_registry_serves_the_same_ids_and_versions() {
    let app = TestApp::spawn().await;
    let subject = unique_name("things-test.Thing");
    let other = unique_name("other-test.Thing");
    let client = app.client();
    let id1 = client.register(&subject, V1).await.expect("v1");
    let id2 = client.register(&subject, V2).await.expect("v2");
    let id_other = client.register(&other, V1).await.expect("other v1");
    client
        .set_subject_compatibility(&other, CompatibilityLevel::None)
        .await
        .expect("set level");
    let TestApp {
        broker,
        topic,
        registry,
    } = app;
    registry.stop().await;

    let restarted = RunningRegistry::start(&broker, &topic).await;
    let client = &restarted.client;
    assert_eq!(
        client.versions(&subject).await.expect("versions"),
        vec![1, 2]
    );
    assert_eq!(client.version(&subject, 1).await.expect("v1").id, id1);
    assert_eq!(client.version(&subject, 2).await.expect("v2").id, id2);
    assert_eq!(
        client.version(&other, 1).await.expect("other v1").id,
        id_other
    );
    assert_eq!(
        client.register(&subject, V2).await.expect("re-register"),
        id2,
        "same id after restart"
    );
    // The level survived the restart: BREAKING is accepted under `other` only.
    assert!(
        client.register(&other, BREAKING).await.is_ok(),
        "NONE kept for {other}"
    );
    assert!(
        client.register(&subject, BREAKING).await.is_err(),
        "BACKWARD kept for {subject}"
    );
    // New ids continue after the highest one seen in the log.
    let fresh = client
        .register(&unique_name("fresh-test.Thing"), r#""long""#)
        .await
        .expect("new schema");
    assert!(
        fresh > id2.max(id_other),
        "fresh id {fresh} follows the existing ones"
    );
    restarted.stop().await;
}

#[tokio::test]
async fn instances_sharing_a_topic_converge_and_never_share_an_id() {
    let app = TestApp::spawn().await;
    let second = RunningRegistry::start(&app.broker, &app.topic).await;
    let first = &app.registry;

    // A write on one instance becomes visible on the other.
    let subject = unique_name("things-test.Thing");
    let id = first
        .client
        .register(&subject, V1)
        .await
        .expect("register on the first");
    let lookup = second.client.clone();
    let wanted = subject.clone();
    wait_until(
        Duration::from_secs(10),
        "the second instance to see the registration",
        || {
            let lookup = lookup.clone();
            let wanted = wanted.clone();
            async move {
                lookup
                    .lookup(&wanted, V1)
                    .await
                    .ok()
                    .flatten()
                    .is_some_and(|v| v.id == id)
            }
        },
    )
    .await;

    // Concurrent registrations of different schemas on both instances get
    // distinct ids, and both instances agree on them.
    let schemas: Vec<String> = (0..6)
        .map(|n| {
            format!(r#"{{"type":"record","name":"R{n}","fields":[{{"name":"f","type":"int"}}]}}"#)
        })
        .collect();
    let mut tasks = Vec::new();
    for (n, schema) in schemas.iter().enumerate() {
        let client = if n % 2 == 0 {
            first.client.clone()
        } else {
            second.client.clone()
        };
        let subject = format!("{subject}-{n}");
        let schema = schema.clone();
        tasks.push(tokio::spawn(async move {
            (subject.clone(), client.register(&subject, &schema).await)
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (subject, id) = task.await.expect("task");
        ids.push((subject, id.expect("registered")));
    }
    let mut distinct: Vec<u32> = ids.iter().map(|(_, id)| *id).collect();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        ids.len(),
        "every schema has its own id: {ids:?}"
    );
    for (subject, id) in &ids {
        for registry in [first, &second] {
            let client = registry.client.clone();
            let (subject, id) = (subject.clone(), *id);
            wait_until(Duration::from_secs(10), "both instances to agree", || {
                let client = client.clone();
                let subject = subject.clone();
                async move { client.version(&subject, 1).await.is_ok_and(|v| v.id == id) }
            })
            .await;
        }
    }
    second.stop().await;
}
