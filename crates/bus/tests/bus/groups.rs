use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use tributary_testkit::{unique_name, wait_until};
use uuid::Uuid;

use crate::helpers::{Recorder, TestApp, user, wait_assigned, wait_committed};

const PARTITIONS: i32 = 6;

/// Queuing (three members of one group split the partitions) and pub-sub (a
/// second group gets every event too): with stable membership, every event
/// is handled exactly once per group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_handled_exactly_once_per_group() {
    let app = TestApp::start().await;
    let topic = app.topic(PARTITIONS).await;
    let queue_group = unique_name("tributary.queue");
    let pubsub_group = unique_name("tributary.pubsub");

    let queue: Vec<Arc<Recorder>> = (0..3).map(|_| Arc::new(Recorder::default())).collect();
    let members: Vec<_> = queue
        .iter()
        .map(|r| app.spawn_group(&queue_group, &[&topic], r.clone()))
        .collect();
    let other = Arc::new(Recorder::default());
    let subscriber = app.spawn_group(&pubsub_group, &[&topic], other.clone());
    // With three members the range assignor gives each exactly two source
    // partitions; requiring that (not just full coverage) waits out the
    // transitional assignments of the joins.
    wait_until(
        Duration::from_secs(60),
        "two partitions per queue member",
        || async { members.iter().all(|m| m.owned(&topic) == 2) },
    )
    .await;
    wait_assigned(&[&subscriber], &topic, PARTITIONS as usize).await;

    let producer = app.raw_producer().await;
    let mut produced = HashSet::new();
    for n in 0..300 {
        let event = user(n);
        produced.insert(event.envelope.event_id);
        app.produce_event(&producer, &topic, &event).await;
    }

    let queue_distinct = || {
        let mut ids = HashSet::new();
        for r in &queue {
            ids.extend(r.counts().into_keys());
        }
        ids.len()
    };
    wait_until(
        Duration::from_secs(60),
        "both groups to handle all 300 events",
        || async { queue_distinct() == 300 && other.distinct() == 300 },
    )
    .await;
    // Stopping members rebalances the rest: wait until every handled offset
    // is committed so the remaining members have nothing to redeliver.
    wait_committed(&app, &queue_group, &topic, 300).await;
    wait_committed(&app, &pubsub_group, &topic, 300).await;
    // librdkafka statistics (every second here) feed the lag gauge.
    let caught_up = format!(
        r#"tributary_consumer_lag{{topic="{topic}",partition="0",group="{queue_group}"}} 0"#
    );
    wait_until(
        Duration::from_secs(15),
        "the lag gauge to report a caught-up partition",
        || {
            let caught_up = caught_up.clone();
            let metrics = app.metrics.clone();
            async move { metrics.render().contains(&caught_up) }
        },
    )
    .await;
    let mut handled_per_member = Vec::new();
    for member in members {
        handled_per_member.push(member.stop().await.handled);
    }
    subscriber.stop().await;

    let mut queue_counts: HashMap<Uuid, u32> = HashMap::new();
    for r in &queue {
        for (id, n) in r.counts() {
            *queue_counts.entry(id).or_default() += n;
        }
    }
    for (name, counts) in [("queue", queue_counts), ("pub-sub", other.counts())] {
        let ids: HashSet<Uuid> = counts.keys().copied().collect();
        assert_eq!(ids, produced, "{name} group saw other events than produced");
        let duplicates: Vec<_> = counts
            .iter()
            .filter(|(_, n)| **n != 1)
            .map(|(id, _)| *id)
            .collect();
        if !duplicates.is_empty() {
            let where_: Vec<String> = queue
                .iter()
                .enumerate()
                .flat_map(|(member, r)| {
                    r.received
                        .lock()
                        .expect("lock")
                        .iter()
                        .filter(|e| duplicates.contains(&e.event.envelope().event_id))
                        .map(|e| format!("member {member} p{} o{}", e.partition, e.offset))
                        .collect::<Vec<_>>()
                })
                .collect();
            panic!(
                "{name} group handled {} events more than once: {where_:?}",
                duplicates.len()
            );
        }
    }
    assert_eq!(handled_per_member.iter().sum::<u64>(), 300);
    assert!(
        handled_per_member.iter().all(|n| *n > 0),
        "every member of the queue group handles a share: {handled_per_member:?}"
    );
    let metrics = app.metrics.render();
    assert!(
        metrics.contains(&format!(
            r#"tributary_events_consumed_total{{topic="{topic}",group="{queue_group}"}} 300"#
        )),
        "{metrics}"
    );
    assert!(
        metrics.contains("tributary_handler_duration_seconds_bucket"),
        "{metrics}"
    );
}

/// A member that leaves mid-stream hands its partitions to the others and
/// no event is left unprocessed (duplicates across the rebalance allowed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_leaving_mid_stream_leaves_no_event_unprocessed() {
    let app = TestApp::start().await;
    let topic = app.topic(PARTITIONS).await;
    let group = unique_name("tributary.failover");
    let handled = Arc::new(Recorder::slow(Duration::from_millis(5)));
    let leaving = app.spawn_group(&group, &[&topic], handled.clone());
    let staying = app.spawn_group(&group, &[&topic], handled.clone());
    wait_assigned(&[&leaving, &staying], &topic, PARTITIONS as usize).await;

    let producer = app.raw_producer().await;
    let mut produced = HashSet::new();
    for n in 0..300 {
        let event = user(n);
        produced.insert(event.envelope.event_id);
        app.produce_event(&producer, &topic, &event).await;
        if n == 150 {
            wait_until(Duration::from_secs(30), "some events handled", || async {
                handled.distinct() > 20
            })
            .await;
        }
    }
    // Leave while events are still in flight.
    let summary = leaving.stop().await;
    assert_eq!(
        summary.aborted_workers, 0,
        "workers drained within the deadline"
    );
    wait_until(
        Duration::from_secs(60),
        "the remaining member to own every partition",
        || async { staying.owned(&topic) == PARTITIONS as usize },
    )
    .await;
    wait_until(
        Duration::from_secs(60),
        "every produced event to be handled",
        || async { handled.distinct() == produced.len() },
    )
    .await;
    staying.stop().await;
    let seen: HashSet<Uuid> = handled.counts().keys().copied().collect();
    assert!(seen.is_superset(&produced));
}

/// A runner joins its group twice: one member reads the source topics, the
/// other the group's retry topics, each through its own client, so a fetch
/// of the quiet retry partitions never holds up the source partitions. The
/// broker's description of the group shows exactly that split.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_and_retry_topics_are_read_by_two_members_of_the_group() {
    let app = TestApp::start().await;
    let topic = app.topic(3).await;
    let group = unique_name("tributary.split");
    let retry = tributary_bus::consumer::retry_topic(&topic, &group);
    let recorder = Arc::new(Recorder::default());
    let member = app.spawn_group(&group, &[&topic], recorder.clone());
    wait_assigned(&[&member], &topic, 3).await;
    wait_assigned(&[&member], &retry, 3).await;

    // The broker lists a group once it has committed offsets.
    let producer = app.raw_producer().await;
    app.produce_event(&producer, &topic, &user(0)).await;
    wait_committed(&app, &group, &topic, 1).await;

    let bootstrap = app.broker.bootstrap_servers();
    wait_until(
        Duration::from_secs(30),
        "the broker to describe both members with their assignments",
        || async {
            let members = describe(bootstrap, &group).await;
            members.len() == 2 && members.iter().all(|a| !a.is_empty())
        },
    )
    .await;
    let mut described = describe(bootstrap, &group).await;
    described.sort();
    let all = |t: &str| vec![(t.to_owned(), vec![0, 1, 2])];
    let mut expected = vec![all(&topic), all(&retry)];
    expected.sort();
    assert_eq!(described, expected);
    member.stop().await;
}

/// The assignment, as (topic, sorted partitions), of every member the
/// broker reports for `group`. (tansu does not keep client ids, so the
/// members' `<group>` and `<group>-retry` client ids cannot be checked.)
async fn describe(bootstrap: &str, group: &str) -> Vec<Vec<(String, Vec<i32>)>> {
    use rdkafka::consumer::{BaseConsumer, Consumer as _};
    let client: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("admin client");
    let group = group.to_owned();
    tokio::task::spawn_blocking(move || {
        let Ok(list) = client.fetch_group_list(Some(&group), Duration::from_secs(5)) else {
            return Vec::new();
        };
        list.groups()
            .iter()
            .flat_map(|g| g.members())
            .map(|m| {
                m.assignment()
                    .and_then(tributary_bus::assignment::parse_assignment)
                    .unwrap_or_default()
            })
            .collect()
    })
    .await
    .expect("describe task")
}
