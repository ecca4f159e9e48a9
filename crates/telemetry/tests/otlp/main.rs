//! OTLP/HTTP trace export against a collector started by each test on
//! 127.0.0.1: what arrives, decoded, and that a collector that is down or
//! hangs never holds up shutdown beyond its deadline.
//!
//! Most tests build the provider with `TracingGuard::new` under a scoped
//! subscriber; the environment-driven path through `init_tracing`, which
//! installs globals, runs in a child process of this test binary (`env`).

mod collector;
mod env;
mod export;
mod shutdown;

use std::{
    hash::{BuildHasher as _, RandomState},
    time::{Duration, Instant},
};

use tracing_subscriber::layer::SubscriberExt as _;
use tributary_telemetry::{OpenTelemetrySpanExt as _, TracingGuard, extract};

/// A trace and span id from "another service".
pub const REMOTE_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const REMOTE_SPAN_ID: &str = "00f067aa0ba902b7";

pub fn random_name(prefix: &str) -> String {
    format!("{prefix}-{:016x}", RandomState::new().hash_one(prefix))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A parent with a child, then a span continued from a remote
/// `traceparent`, all ended before this returns.
pub fn record_spans(guard: &TracingGuard) {
    let subscriber = tracing_subscriber::registry().with(guard.layer());
    tracing::subscriber::with_default(subscriber, || {
        {
            let parent = tracing::info_span!(
                "send orders",
                messaging.system = "kafka",
                messaging.destination.name = "orders"
            );
            let _entered = parent.enter();
            tracing::info_span!("encode order").in_scope(|| {});
        }
        let remote = extract(
            Some(&format!("00-{REMOTE_TRACE_ID}-{REMOTE_SPAN_ID}-01")),
            None,
        );
        let process = tracing::info_span!("process orders");
        process.set_parent(remote).expect("parent set");
        process.in_scope(|| {});
    });
}

/// Drops the guard off the async runtime: the drop blocks until the flush
/// is done or its deadline passed. Returns how long it took.
pub async fn shut_down(guard: TracingGuard) -> Duration {
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        drop(guard);
        start.elapsed()
    })
    .await
    .expect("drop")
}
