//! W3C trace context (`traceparent` / `tracestate`) in and out of message
//! headers, so one trace follows an order saga across services and brokers.

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt as _,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";

/// The two W3C trace-context header values of one span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeaders {
    /// `00-<trace id>-<span id>-<flags>`.
    pub traceparent: String,
    /// Vendor-specific state; `None` when empty.
    pub tracestate: Option<String>,
}

/// The trace-context headers of `span`, or `None` when the span carries no
/// valid OpenTelemetry context (no OpenTelemetry layer installed, or the span
/// is disabled), in which case the caller simply sends no `traceparent`.
pub fn inject(span: &Span) -> Option<TraceHeaders> {
    inject_context(&span.context())
}

/// Like [`inject`], from an OpenTelemetry context.
pub fn inject_context(cx: &Context) -> Option<TraceHeaders> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = Outgoing::default();
    TraceContextPropagator::new().inject_context(cx, &mut carrier);
    Some(TraceHeaders {
        traceparent: carrier.traceparent?,
        tracestate: carrier.tracestate.filter(|s| !s.is_empty()),
    })
}

/// The propagator's carrier on the way out: just the two headers, where a
/// map would cost a hash table and key strings on every message sent.
#[derive(Default)]
struct Outgoing {
    traceparent: Option<String>,
    tracestate: Option<String>,
}

impl Injector for Outgoing {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE => self.tracestate = Some(value),
            _ => {}
        }
    }
}

/// The propagator's carrier on the way in, borrowing the header values.
struct Incoming<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for Incoming<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => Some(self.traceparent),
            TRACESTATE => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        let mut keys = vec![TRACEPARENT];
        keys.extend(self.tracestate.map(|_| TRACESTATE));
        keys
    }
}

/// The remote parent described by incoming headers. A missing or malformed
/// `traceparent` yields an empty context, so the span it parents starts a new
/// trace instead of failing the message.
pub fn extract(traceparent: Option<&str>, tracestate: Option<&str>) -> Context {
    let Some(traceparent) = traceparent else {
        return Context::new();
    };
    TraceContextPropagator::new().extract(&Incoming {
        traceparent,
        tracestate,
    })
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    fn with_otel<T>(f: impl FnOnce() -> T) -> T {
        let provider = SdkTracerProvider::builder().build();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, f)
    }

    #[test]
    fn a_span_injects_a_w3c_traceparent_that_extracts_to_the_same_trace() {
        with_otel(|| {
            let span = tracing::info_span!("send orders");
            let headers = inject(&span).expect("span has a context");
            let parts: Vec<&str> = headers.traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "{}", headers.traceparent);
            assert_eq!(parts[0], "00");
            assert_eq!(parts[1].len(), 32);

            let remote = extract(Some(&headers.traceparent), headers.tracestate.as_deref());
            assert!(remote.span().span_context().is_remote());
            let child = tracing::info_span!("process orders");
            child.set_parent(remote).expect("parent set");
            let child_headers = inject(&child).expect("child has a context");
            assert_eq!(child_headers.traceparent.split('-').nth(1), Some(parts[1]));
            assert_ne!(child_headers.traceparent, headers.traceparent);
        });
    }

    #[test]
    fn without_an_otel_layer_nothing_is_injected() {
        let span = tracing::info_span!("send orders");
        assert_eq!(inject(&span), None);
    }

    #[test]
    fn garbage_or_missing_traceparent_extracts_to_an_empty_context() {
        for input in [None, Some("not-a-traceparent"), Some("")] {
            let cx = extract(input, None);
            assert!(!cx.span().span_context().is_valid(), "{input:?}");
        }
    }

    #[test]
    fn incoming_headers_go_out_again_unchanged_tracestate_included() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        for tracestate in [Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"), None] {
            let headers = inject_context(&extract(Some(traceparent), tracestate))
                .expect("a valid remote context injects");
            assert_eq!(headers.traceparent, traceparent);
            assert_eq!(headers.tracestate.as_deref(), tracestate);
        }
    }
}
