//! What arrives at the collector, decoded.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use tributary_telemetry::{OtlpConfig, OtlpProtocol, TracingGuard};

use crate::{
    REMOTE_SPAN_ID, REMOTE_TRACE_ID,
    collector::{Collector, by_name},
    hex, random_name, record_spans, shut_down,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_arrive_as_protobuf_with_service_parents_and_the_remote_trace_id() {
    let collector = Collector::start().await;
    let service = random_name("orders");
    let config = OtlpConfig::new(collector.traces_url());
    let guard = TracingGuard::new(&service, Some(&config)).expect("provider");

    record_spans(&guard);
    shut_down(guard).await;

    let spans = collector.protobuf_spans_until("process orders").await;
    let named = by_name(&spans);
    let send = named["send orders"];
    let encode = named["encode order"];
    let process = named["process orders"];
    for span in [send, encode, process] {
        assert_eq!(span.service, service, "service.name of {}", span.span.name);
    }
    assert!(send.span.parent_span_id.is_empty(), "a root span");
    assert_eq!(encode.span.parent_span_id, send.span.span_id);
    assert_eq!(encode.span.trace_id, send.span.trace_id);
    assert_eq!(
        send.attribute("messaging.destination.name"),
        Some(&Value::StringValue("orders".to_owned()))
    );
    assert_eq!(hex(&process.span.trace_id), REMOTE_TRACE_ID);
    assert_eq!(hex(&process.span.parent_span_id), REMOTE_SPAN_ID);
    assert_ne!(process.span.trace_id, send.span.trace_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_json_sends_the_specified_json_encoding() {
    let collector = Collector::start().await;
    let service = random_name("payments");
    let config = OtlpConfig::new(collector.traces_url()).with_protocol(OtlpProtocol::HttpJson);
    let guard = TracingGuard::new(&service, Some(&config)).expect("provider");

    record_spans(&guard);
    shut_down(guard).await;

    let requests = collector.wait_until(|requests| !requests.is_empty()).await;
    let mut names = Vec::new();
    let mut remote_trace_ids = Vec::new();
    for request in &requests {
        assert_eq!(request.content_type, "application/json");
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
        for resource_spans in body["resourceSpans"].as_array().expect("resourceSpans") {
            let attributes = resource_spans["resource"]["attributes"]
                .as_array()
                .expect("attributes");
            let service_name = attributes
                .iter()
                .find(|kv| kv["key"] == "service.name")
                .map(|kv| &kv["value"]["stringValue"]);
            assert_eq!(
                service_name,
                Some(&serde_json::Value::from(service.clone()))
            );
            for scope_spans in resource_spans["scopeSpans"].as_array().expect("scopeSpans") {
                for span in scope_spans["spans"].as_array().expect("spans") {
                    let name = span["name"].as_str().expect("name").to_owned();
                    if name == "process orders" {
                        // OTLP/JSON ids are hex strings, not base64.
                        remote_trace_ids.push(span["traceId"].clone());
                    }
                    names.push(name);
                }
            }
        }
    }
    names.sort();
    assert_eq!(names, ["encode order", "process orders", "send orders"]);
    assert_eq!(remote_trace_ids, [serde_json::Value::from(REMOTE_TRACE_ID)]);
}
