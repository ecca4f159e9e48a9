//! A tiny OTLP/HTTP collector for the tests: it records every POST to
//! `/v1/traces` and decodes what it got.

use std::{collections::HashMap, time::Duration};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, header::CONTENT_TYPE},
    response::IntoResponse,
    routing::post,
};
use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, KeyValue, any_value::Value},
    trace::v1::Span,
};
use prost::Message as _;
use reqwest::Url;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    pub content_type: String,
    pub body: Bytes,
}

/// A decoded span with the `service.name` of the resource it came under.
#[derive(Debug, Clone)]
pub struct ExportedSpan {
    pub service: String,
    pub span: Span,
}

impl ExportedSpan {
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        attribute(&self.span.attributes, key)
    }
}

/// The collector, listening on 127.0.0.1 on a port of its own.
#[derive(Debug)]
pub struct Collector {
    base: Url,
    received: watch::Receiver<Vec<Received>>,
    server: JoinHandle<()>,
}

impl Collector {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = listener.local_addr().expect("address");
        let (sender, received) = watch::channel(Vec::new());
        let app = Router::new()
            .route("/v1/traces", post(receive))
            .with_state(sender);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve");
        });
        Collector {
            base: Url::parse(&format!("http://{address}")).expect("url"),
            received,
            server,
        }
    }

    /// What `OTEL_EXPORTER_OTLP_ENDPOINT` would be.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// The full traces URL.
    pub fn traces_url(&self) -> Url {
        self.base.join("/v1/traces").expect("url")
    }

    /// Every request so far, once `done` holds for them; fails after 30 s.
    pub async fn wait_until(&self, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let mut received = self.received.clone();
        let result = tokio::time::timeout(
            Duration::from_secs(30),
            received.wait_for(|requests| done(requests)),
        )
        .await;
        match result {
            Ok(requests) => requests.expect("collector alive").clone(),
            Err(_) => panic!(
                "condition not met in 30 s; received {:?}",
                self.received.borrow()
            ),
        }
    }

    /// Every span received as protobuf, once one is named `last`.
    pub async fn protobuf_spans_until(&self, last: &str) -> Vec<ExportedSpan> {
        let requests = self
            .wait_until(|requests| {
                decode_protobuf(requests)
                    .iter()
                    .any(|span| span.span.name == last)
            })
            .await;
        for request in &requests {
            assert_eq!(request.content_type, "application/x-protobuf");
        }
        decode_protobuf(&requests)
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(sender): State<watch::Sender<Vec<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let json = content_type == "application/json";
    sender.send_modify(|requests| requests.push(Received { content_type, body }));
    // An empty ExportTraceServiceResponse: full success.
    if json {
        (
            [(CONTENT_TYPE, "application/json")],
            Bytes::from_static(b"{}"),
        )
    } else {
        ([(CONTENT_TYPE, "application/x-protobuf")], Bytes::new())
    }
}

/// Every span in the protobuf requests; a body that does not decode fails
/// the test.
pub fn decode_protobuf(requests: &[Received]) -> Vec<ExportedSpan> {
    let mut spans = Vec::new();
    for request in requests {
        let export = ExportTraceServiceRequest::decode(request.body.clone()).expect("protobuf");
        for resource_spans in export.resource_spans {
            let resource = resource_spans.resource.unwrap_or_default();
            let service = match attribute(&resource.attributes, "service.name") {
                Some(Value::StringValue(name)) => name.clone(),
                other => panic!("service.name is {other:?}"),
            };
            for scope_spans in resource_spans.scope_spans {
                spans.extend(scope_spans.spans.into_iter().map(|span| ExportedSpan {
                    service: service.clone(),
                    span,
                }));
            }
        }
    }
    spans
}

/// The spans by name; a name that appears twice fails the test.
pub fn by_name(spans: &[ExportedSpan]) -> HashMap<&str, &ExportedSpan> {
    let mut named = HashMap::new();
    for span in spans {
        let previous = named.insert(span.span.name.as_str(), span);
        assert!(previous.is_none(), "two spans named {}", span.span.name);
    }
    named
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|AnyValue { value }| value.as_ref())
}
