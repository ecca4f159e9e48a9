//! Observability shared by every Tributary process.
//!
//! - [`init_tracing`] installs `tracing` with an `RUST_LOG` filter, text or
//!   JSON output, and an OpenTelemetry layer so every span carries a W3C trace
//!   id that [`inject`] and [`extract`] carry through message headers.
//! - When the standard OpenTelemetry variables name a collector
//!   (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`),
//!   those spans are exported over OTLP/HTTP by a batch span processor; see
//!   [`OtlpConfig::from_lookup`] for every variable. Unset, nothing is
//!   exported and nothing per span is added. [`TracingGuard::new`] builds the
//!   same provider without installing globals, for tests.
//! - [`Metrics`] owns the Prometheus registry and every metric family; metric
//!   names live in [`names`] and nowhere else, labels are typed structs in
//!   [`labels`]. [`metrics_router`] serves them on `GET /metrics`.
//! - [`InternalEvent`] is the shape of "telemetry as types": one struct per
//!   notable event whose `emit()` both logs and counts.

mod error;
mod internal_event;
mod metrics;
mod otlp;
mod printed_spans;
mod propagation;
mod setup;

pub use error::TelemetryError;
pub use internal_event::InternalEvent;
pub use metrics::{
    HANDLER_DURATION_BUCKETS, HTTP_DURATION_BUCKETS, Metrics, OPENMETRICS_CONTENT_TYPE,
    PRODUCE_DURATION_BUCKETS, SAGA_DURATION_BUCKETS, labels, metrics_router, names,
};
pub use otlp::{OtlpConfig, OtlpProtocol, TraceSampler};
pub use propagation::{TraceHeaders, extract, inject, inject_context};
pub use setup::{TracingGuard, init_test_tracing, init_tracing};

/// The OpenTelemetry context type returned by [`extract`].
pub use opentelemetry::Context as TraceContext;
/// Re-exported so callers can parent spans (`span.set_parent(cx)`) without
/// depending on `tracing-opentelemetry` themselves.
pub use tracing_opentelemetry::OpenTelemetrySpanExt;
