use std::time::{Duration, Instant};

use rdkafka::Message as _;
use tracing::Instrument as _;
use tributary_bus::{
    BusConfig, ConsumerGroup, EncodeError, EventCodec, EventProducer, ProduceError, RawProducer,
};
use tributary_contracts::{
    Event as _,
    events::{AnyEvent, UserRegistered},
};
use tributary_registry::{ClientConfig as RegistryClientConfig, RegistryClient, RegistryError};
use tributary_telemetry::Metrics;

use crate::helpers::{Recorder, TestApp, fast_config, header, high_watermark, read_topic, user};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_send_completes_on_delivery_with_event_headers() {
    let app = TestApp::start().await;
    app.broker.create_topic(UserRegistered::TOPIC, 3).await;
    let producer = EventProducer::connect(&app.config, app.codec.clone(), app.metrics.clone())
        .await
        .expect("producer connects");
    let event = user(1);

    let delivery = producer
        .send(&event)
        .instrument(tracing::info_span!("test request"))
        .await
        .expect("delivered");
    assert_eq!(delivery.topic, "users");
    assert!(delivery.offset >= 0);

    let messages = read_topic(app.broker.bootstrap_servers(), "users", 1).await;
    let message = &messages[0];
    assert_eq!(message.partition(), delivery.partition);
    assert_eq!(message.offset(), delivery.offset);
    assert_eq!(message.key(), Some(event.key().as_bytes()));
    assert_eq!(header(message, "ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(
        header(message, "ce_id"),
        Some(event.envelope.event_id.to_string())
    );
    assert_eq!(
        header(message, "ce_type").as_deref(),
        Some("io.tributary.user.registered")
    );
    assert_eq!(
        header(message, "ce_source").as_deref(),
        Some("/tributary/tests")
    );
    assert!(header(message, "ce_time").is_some());
    assert_eq!(
        header(message, "content-type").as_deref(),
        Some("application/avro")
    );
    assert_eq!(
        header(message, "correlation_id"),
        Some(event.envelope.correlation_id.clone())
    );
    let traceparent = header(message, "traceparent").expect("trace context injected");
    assert_eq!(traceparent.split('-').count(), 4, "{traceparent}");

    let decoded = app
        .codec
        .decode(message.payload().expect("payload"))
        .await
        .expect("decodes");
    assert_eq!(decoded, AnyEvent::UserRegistered(event.clone()));

    // The any-typed path frames identically.
    let again = producer
        .send_any(&AnyEvent::UserRegistered(event))
        .await
        .expect("send_any");
    assert_eq!(again.topic, "users");
    assert!(
        app.metrics
            .render()
            .contains(r#"tributary_events_produced_total{topic="users"} 2"#),
        "{}",
        app.metrics.render()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_the_registry_rejects_is_a_typed_error_and_nothing_is_written() {
    let app = TestApp::start().await;
    app.broker.create_topic(UserRegistered::TOPIC, 1).await;
    // An earlier version our schema cannot read (our fields have no
    // defaults), so registering ours breaks BACKWARD compatibility.
    let older = r#"{"type":"record","name":"UserRegistered","namespace":"tributary.users",
                    "fields":[{"name":"legacy","type":"string"}]}"#;
    app.registry
        .register(&UserRegistered::subject(), older)
        .await
        .expect("older version registers");

    let codec = EventCodec::new(app.registry.clone());
    let error = codec
        .register_all(&[
            *tributary_contracts::event_descriptor(UserRegistered::FULL_NAME).expect("in catalog"),
        ])
        .await
        .expect_err("start-up registration refused");
    assert!(
        error
            .to_string()
            .contains("users-tributary.users.UserRegistered"),
        "{error}"
    );

    let producer = EventProducer::connect(&app.config, codec, app.metrics.clone())
        .await
        .expect("producer connects");
    let started = Instant::now();
    let error = producer.send(&user(1)).await.expect_err("send refused");
    assert!(started.elapsed() < Duration::from_secs(10));
    match &error {
        ProduceError::Encode {
            source:
                EncodeError::Registry {
                    source: RegistryError::Incompatible { .. },
                    subject,
                },
            ..
        } => assert_eq!(subject, "users-tributary.users.UserRegistered"),
        other => panic!("expected an incompatible-schema error, got {other:?}"),
    }
    assert_eq!(error.reason(), "incompatible_schema");
    assert_eq!(
        high_watermark(app.broker.bootstrap_servers(), "users", 0).await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_broker_fails_fast_with_a_clear_error() {
    tributary_telemetry::init_test_tracing();
    // Nothing listens there: bind a port, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut config: BusConfig = fast_config(&format!("127.0.0.1:{port}"), "http://127.0.0.1:9");
    config.connect_timeout = Duration::from_secs(2);

    let started = Instant::now();
    let error = RawProducer::connect(&config, Metrics::new())
        .await
        .expect_err("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(error, ProduceError::Unreachable(_)), "{error:?}");
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );

    let registry =
        RegistryClient::new("http://127.0.0.1:9", RegistryClientConfig::default()).expect("client");
    let group = ConsumerGroup::new(
        config,
        "tributary.unreachable",
        ["users"],
        EventCodec::new(registry),
        std::sync::Arc::new(Recorder::default()),
    );
    let started = Instant::now();
    let error = group
        .run(Default::default())
        .await
        .expect_err("unreachable");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_send_continues_the_trace_its_headers_name() {
    let app = TestApp::start().await;
    let topic = app.topic(1).await;
    let producer = app.raw_producer().await;
    let event = user(7);
    let payload = app.codec.encode(&event).await.expect("encode");
    // Encoded inside a request span, sent later from no span at all, as an
    // outbox relay does.
    let (headers, request_trace) = {
        let span = tracing::info_span!("test request");
        let _entered = span.enter();
        let trace = tributary_telemetry::inject(&tracing::Span::current()).expect("trace");
        let headers = tributary_bus::headers::event_headers(
            event.envelope(),
            UserRegistered::EVENT_TYPE,
            Some(trace.clone()),
        );
        (headers, trace.traceparent)
    };

    producer
        .send_relayed(&topic, Some(event.key().as_bytes()), &payload, &headers)
        .await
        .expect("delivered");

    let messages = read_topic(app.broker.bootstrap_servers(), &topic, 1).await;
    let sent = header(&messages[0], "traceparent").expect("traceparent");
    let [_, request_trace_id, request_span_id, _] = parts(&request_trace);
    let [_, trace_id, span_id, _] = parts(&sent);
    assert_eq!(
        trace_id, request_trace_id,
        "same trace: {sent} vs {request_trace}"
    );
    assert_ne!(span_id, request_span_id, "the send span's own id: {sent}");
    assert_eq!(messages[0].payload(), Some(payload.as_slice()));

    fn parts(traceparent: &str) -> [String; 4] {
        let parts: Vec<String> = traceparent.split('-').map(str::to_owned).collect();
        parts.try_into().expect("four traceparent fields")
    }
}
