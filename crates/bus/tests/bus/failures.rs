use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use async_trait::async_trait;
use rdkafka::Message as _;
use tributary_bus::{
    Handler, HandlerError, Received,
    consumer::{dlq_topic, retry_topic},
    headers::MessageHeaders,
};
use tributary_contracts::frame;
use tributary_testkit::{unique_name, wait_until};
use uuid::Uuid;

use tracing::Instrument as _;

use crate::helpers::{
    Recorder, TestApp, current_trace_id, header, read_topic, user, wait_assigned,
};

/// Undecodable messages go to the DLQ with their reason, byte for byte, and
/// the messages behind them on the same partition keep flowing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_go_to_the_dlq_while_later_messages_flow() {
    let app = TestApp::start().await;
    let topic = app.topic(1).await;
    let group = unique_name("tributary.poison");
    let handled = Arc::new(Recorder::default());
    let member = app.spawn_group(&group, &[&topic], handled.clone());
    wait_assigned(&[&member], &topic, 1).await;

    let producer = app.raw_producer().await;
    let valid = app.codec.encode(&user(0)).await.expect("encode");
    let schema_id = u32::from_be_bytes([valid[1], valid[2], valid[3], valid[4]]);
    let poison: Vec<(&str, Vec<u8>)> = vec![
        ("too_short", vec![0, 0, 1]),
        ("wrong_magic_byte", [&[7u8][..], &valid[1..]].concat()),
        ("unknown_schema_id", frame(424_242, &valid[5..])),
        ("decode", frame(schema_id, &[0xff, 0xff, 0xff, 0xff, 0x01])),
    ];
    let original_headers: MessageHeaders = [("origin", "test")].into_iter().collect();
    for (reason, payload) in &poison {
        producer
            .send_raw(&topic, Some(reason.as_bytes()), payload, &original_headers)
            .await
            .expect("produce poison");
    }
    let after = user(1);
    app.produce_event(&producer, &topic, &after).await;

    wait_until(
        Duration::from_secs(30),
        "the valid event behind the poison",
        || async { handled.distinct() == 1 },
    )
    .await;
    assert!(handled.counts().contains_key(&after.envelope.event_id));

    let dlq = read_topic(
        app.broker.bootstrap_servers(),
        &dlq_topic(&topic, &group),
        poison.len(),
    )
    .await;
    for (offset, ((reason, payload), message)) in poison.iter().zip(&dlq).enumerate() {
        assert_eq!(
            header(message, "tributary.error.reason").as_deref(),
            Some(*reason)
        );
        assert!(header(message, "tributary.error").is_some_and(|e| !e.is_empty()));
        assert_eq!(header(message, "tributary.attempt").as_deref(), Some("1"));
        assert_eq!(
            header(message, "tributary.source.topic"),
            Some(topic.clone())
        );
        assert_eq!(
            header(message, "tributary.source.partition").as_deref(),
            Some("0")
        );
        assert_eq!(
            header(message, "tributary.source.offset"),
            Some(offset.to_string())
        );
        assert_eq!(
            header(message, "origin").as_deref(),
            Some("test"),
            "original headers kept"
        );
        assert_eq!(
            message.payload(),
            Some(payload.as_slice()),
            "original bytes kept"
        );
        assert_eq!(message.key(), Some(reason.as_bytes()), "original key kept");
    }
    let summary = member.stop().await;
    assert_eq!(summary.dead_lettered, 4);
    assert_eq!(summary.handled, 5);
    let metrics = app.metrics.render();
    assert!(
        metrics.contains(&format!(
            r#"tributary_dlq_events_total{{topic="{topic}",group="{group}",reason="wrong_magic_byte"}} 1"#
        )),
        "{metrics}"
    );
}

/// Fails events according to a script keyed by event id.
#[derive(Default)]
struct Scripted {
    always_retryable: HashSet<Uuid>,
    /// Fail every call of the first delivery (and its repeats in place).
    retryable_once: HashSet<Uuid>,
    /// Fail this many calls, whatever the delivery.
    retryable_calls: HashMap<Uuid, usize>,
    permanent: HashSet<Uuid>,
    attempts: Mutex<HashMap<Uuid, Vec<u32>>>,
    trace_ids: Mutex<HashMap<Uuid, Vec<Option<String>>>>,
    succeeded: Mutex<Vec<Received>>,
}

#[async_trait]
impl Handler for Scripted {
    async fn handle(&self, received: Received) -> Result<(), HandlerError> {
        let id = received.event.envelope().event_id;
        let calls = {
            let mut attempts = self.attempts.lock().expect("lock");
            let calls = attempts.entry(id).or_default();
            calls.push(received.attempt);
            calls.len()
        };
        self.trace_ids
            .lock()
            .expect("lock")
            .entry(id)
            .or_default()
            .push(current_trace_id());
        if self.permanent.contains(&id) {
            return Err(HandlerError::permanent("rejected by a business rule"));
        }
        if self.always_retryable.contains(&id)
            || (self.retryable_once.contains(&id) && received.attempt == 1)
            || self.retryable_calls.get(&id).is_some_and(|&n| calls <= n)
        {
            return Err(HandlerError::retryable("dependency unavailable"));
        }
        self.succeeded.lock().expect("lock").push(received);
        Ok(())
    }
}

/// Retryable failures are first repeated in place (3 times by default),
/// then go through the retry topic with backoff: one that succeeds on its
/// second delivery completes there; one that keeps failing lands in the DLQ
/// after `max_attempts` (3) deliveries; a permanent failure goes to the DLQ
/// at once. A healthy event behind them is not held up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_failures_retry_with_backoff_then_dead_letter() {
    let app = TestApp::start().await;
    let topic = app.topic(1).await;
    let group = unique_name("tributary.retry");
    let (flaky, broken, rejected, healthy) = (user(1), user(2), user(3), user(4));
    let id = |e: &tributary_contracts::events::UserRegistered| e.envelope.event_id;
    let handler = Arc::new(Scripted {
        retryable_once: [id(&flaky)].into(),
        always_retryable: [id(&broken)].into(),
        permanent: [id(&rejected)].into(),
        ..Scripted::default()
    });
    let member = app.spawn_group(&group, &[&topic], handler.clone());
    wait_assigned(&[&member], &topic, 1).await;

    let producer = app.raw_producer().await;
    let request = tracing::info_span!("test request");
    let request_trace = request
        .in_scope(current_trace_id)
        .expect("the test span has a trace id");
    for event in [&flaky, &broken, &rejected, &healthy] {
        app.produce_event(&producer, &topic, event)
            .instrument(request.clone())
            .await;
    }

    let succeeded = |wanted: Uuid| {
        let handler = handler.clone();
        move || {
            let handler = handler.clone();
            async move {
                handler
                    .succeeded
                    .lock()
                    .expect("lock")
                    .iter()
                    .any(|r| r.event.envelope().event_id == wanted)
            }
        }
    };
    wait_until(
        Duration::from_secs(30),
        "the healthy event",
        succeeded(id(&healthy)),
    )
    .await;
    wait_until(
        Duration::from_secs(30),
        "the flaky event to succeed on retry",
        succeeded(id(&flaky)),
    )
    .await;

    let dlq = read_topic(
        app.broker.bootstrap_servers(),
        &dlq_topic(&topic, &group),
        2,
    )
    .await;
    let by_reason: HashMap<String, &rdkafka::message::OwnedMessage> = dlq
        .iter()
        .map(|m| (header(m, "tributary.error.reason").expect("reason"), m))
        .collect();
    let exhausted = by_reason
        .get("retries_exhausted")
        .expect("the broken event dead-lettered");
    assert_eq!(header(exhausted, "ce_id"), Some(id(&broken).to_string()));
    assert_eq!(header(exhausted, "tributary.attempt").as_deref(), Some("3"));
    assert_eq!(
        header(exhausted, "tributary.source.topic"),
        Some(topic.clone())
    );
    assert_eq!(
        header(exhausted, "tributary.source.offset").as_deref(),
        Some("1")
    );
    assert!(
        header(exhausted, "tributary.error").is_some_and(|e| e.contains("dependency unavailable"))
    );
    let permanent = by_reason
        .get("handler_permanent")
        .expect("the rejected event dead-lettered");
    assert_eq!(header(permanent, "ce_id"), Some(id(&rejected).to_string()));
    assert_eq!(header(permanent, "tributary.attempt").as_deref(), Some("1"));

    // Each delivery: one call plus three repeats in place; the delivery
    // number (`attempt`) counts only deliveries.
    let attempts = handler.attempts.lock().expect("lock").clone();
    assert_eq!(attempts[&id(&flaky)], vec![1, 1, 1, 1, 2]);
    assert_eq!(
        attempts[&id(&broken)],
        vec![1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]
    );
    assert_eq!(attempts[&id(&rejected)], vec![1], "permanent: no repeats");
    // Every attempt, retries included, continues the producer's trace.
    let trace_ids = handler.trace_ids.lock().expect("lock").clone();
    for event in [&flaky, &broken, &healthy] {
        for trace_id in &trace_ids[&id(event)] {
            assert_eq!(trace_id.as_deref(), Some(request_trace.as_str()));
        }
    }
    let retried = handler
        .succeeded
        .lock()
        .expect("lock")
        .iter()
        .find(|r| r.event.envelope().event_id == id(&flaky))
        .cloned()
        .expect("flaky succeeded");
    assert_eq!(retried.topic, topic, "retries report the source topic");
    assert_eq!(retried.offset, 0, "retries report the source offset");

    let retries = read_topic(
        app.broker.bootstrap_servers(),
        &retry_topic(&topic, &group),
        3,
    )
    .await;
    for message in &retries {
        let not_before: i64 = header(message, "tributary.retry.not_before")
            .expect("not_before")
            .parse()
            .expect("unix ms");
        let written = message.timestamp().to_millis().expect("timestamp");
        assert!(
            not_before >= written + 150,
            "backoff applied: {not_before} vs {written}"
        );
    }
    let summary = member.stop().await;
    assert_eq!(summary.retried, 3, "flaky once, broken twice");
    assert_eq!(summary.dead_lettered, 2);
    let metrics = app.metrics.render();
    assert!(
        metrics.contains(&format!(
            r#"tributary_events_retried_in_place_total{{topic="{topic}",group="{group}"}} 12"#
        )),
        "3 repeats for the flaky event, 9 for the broken one: {metrics}"
    );
}

/// A retryable failure that clears while it is repeated in place (the
/// event it waited for arrived) completes in the first delivery: nothing
/// goes to the retry topic. With repeats in place switched off, the same
/// failure goes through the retry topic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_that_clears_in_place_never_reaches_the_retry_topic() {
    for in_place_attempts in [3, 0] {
        let mut app = TestApp::start().await;
        app.config.consumer.retry.in_place_attempts = in_place_attempts;
        let topic = app.topic(1).await;
        let group = unique_name("tributary.in-place");
        let (racing, healthy) = (user(1), user(2));
        let id = |e: &tributary_contracts::events::UserRegistered| e.envelope.event_id;
        let handler = Arc::new(Scripted {
            retryable_calls: [(id(&racing), 2)].into(),
            ..Scripted::default()
        });
        let member = app.spawn_group(&group, &[&topic], handler.clone());
        wait_assigned(&[&member], &topic, 1).await;
        let producer = app.raw_producer().await;
        for event in [&racing, &healthy] {
            app.produce_event(&producer, &topic, event).await;
        }
        let handled = {
            let handler = handler.clone();
            move || {
                let handler = handler.clone();
                async move { handler.succeeded.lock().expect("lock").len() == 2 }
            }
        };
        wait_until(Duration::from_secs(30), "both events handled", handled).await;
        let attempts = handler.attempts.lock().expect("lock").clone();
        let summary = member.stop().await;
        if in_place_attempts == 3 {
            assert_eq!(
                attempts[&id(&racing)],
                vec![1, 1, 1],
                "two repeats in place"
            );
            assert_eq!(summary.retried, 0, "nothing on the retry topic");
        } else {
            assert_eq!(attempts[&id(&racing)], vec![1, 2, 3], "three deliveries");
            assert_eq!(summary.retried, 2, "twice through the retry topic");
        }
        assert_eq!(attempts[&id(&healthy)], vec![1]);
        assert_eq!(summary.dead_lettered, 0);
    }
}

/// A message whose producer sent no `traceparent` starts a trace of its
/// own: it is not filed under the consumer's long-lived group span, where
/// every such message would share one endless trace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_trace_context_each_start_their_own_trace() {
    let app = TestApp::start().await;
    let topic = app.topic(1).await;
    let group = unique_name("tributary.untraced");
    let handler = Arc::new(Scripted::default());
    let member = app.spawn_group(&group, &[&topic], handler.clone());
    wait_assigned(&[&member], &topic, 1).await;

    let producer = app.raw_producer().await;
    let events = [user(1), user(2)];
    for event in &events {
        let payload = app.codec.encode(event).await.expect("encode");
        producer
            .send_raw(
                &topic,
                Some(event.envelope.event_id.as_bytes()),
                &payload,
                &MessageHeaders::new(),
            )
            .await
            .expect("produce");
    }
    wait_until(Duration::from_secs(60), "both events handled", || async {
        handler.succeeded.lock().expect("lock").len() == 2
    })
    .await;

    member.stop().await;

    let trace_ids = handler.trace_ids.lock().expect("lock").clone();
    let [first, second] = events.each_ref().map(|e| {
        trace_ids[&e.envelope.event_id][0]
            .clone()
            .expect("handled inside a span with a trace id")
    });
    assert_ne!(first, second, "each message is the root of its own trace");
}
