//! Process-wide `tracing` installation.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{SdkTracer, SdkTracerProvider},
};
use tracing::{Level, Metadata};
use tracing_subscriber::{
    Layer,
    filter::Targets,
    fmt::format::{DefaultFields, JsonFields},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::{TelemetryError, printed_spans::PrintedSpansOnly};

/// Keeps the OpenTelemetry tracer provider alive; dropping it flushes and
/// shuts the provider down. Hold it in `main` until the process exits.
#[derive(Debug)]
pub struct TracingGuard {
    provider: SdkTracerProvider,
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        // Nothing is exported yet, so a failed shutdown loses nothing worth
        // reporting; ignore it rather than print during teardown.
        let _ = self.provider.shutdown();
    }
}

/// Installs the global `tracing` subscriber for a process named `service`.
///
/// - Log output goes to stderr, so a command's own output on stdout (tables,
///   `--json` documents) stays clean; as JSON lines when `json` is set (for
///   collectors) or as human-readable text otherwise, filtered by `RUST_LOG`
///   (default `info`; `target=level` directives separated by commas, e.g.
///   `info,librdkafka=warn`).
/// - Every span at INFO or above is enabled whatever `RUST_LOG` says and
///   becomes an OpenTelemetry span with a W3C trace id and span id, so a quiet
///   log level never breaks trace propagation through message headers.
///
/// OTLP export is absent until a configured exporter is added: spans get ids
/// and parents (which is what propagation needs) but are not shipped anywhere
/// yet. Adding an exporter means adding a span processor to the provider built
/// here; nothing else changes.
///
/// Fails if `RUST_LOG` is invalid or a global subscriber is already installed
/// (tests that call it more than once may ignore that error).
pub fn init_tracing(service: &str, json: bool) -> Result<TracingGuard, TelemetryError> {
    let targets = log_targets("info")?;
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build();
    let otel = otel_layer(provider.tracer("tributary"));
    let fmt = if json {
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(std::io::stderr);
        PrintedSpansOnly::<_, JsonFields>::new(layer, targets.clone(), "{}").boxed()
    } else {
        let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
        PrintedSpansOnly::<_, DefaultFields>::new(layer, targets.clone(), "").boxed()
    };
    tracing_subscriber::registry()
        .with(global_filter(targets))
        .with(otel)
        .with(fmt)
        .try_init()
        .map_err(|e| TelemetryError::AlreadyInitialized(e.to_string()))?;

    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    opentelemetry::global::set_tracer_provider(provider.clone());
    tracing::info!(service, json, "tracing initialised");
    Ok(TracingGuard { provider })
}

/// For tests: installs (once per process) the same stack with test-captured
/// output, silent unless `RUST_LOG` says otherwise, so spans carry trace ids
/// and propagation can be asserted. Later calls, and calls after another
/// global subscriber was installed, do nothing.
pub fn init_test_tracing() {
    static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let provider = SdkTracerProvider::builder().build();
        let targets = log_targets("off").unwrap_or_else(|_| Targets::new());
        let otel = otel_layer(provider.tracer("tributary-test"));
        let fmt = PrintedSpansOnly::<_, DefaultFields>::new(
            tracing_subscriber::fmt::layer().with_test_writer(),
            targets.clone(),
            "",
        );
        let _ = tracing_subscriber::registry()
            .with(global_filter(targets))
            .with(otel)
            .with(fmt)
            .try_init();
        provider
    });
}

/// The OpenTelemetry layer, without the per-span extras that cost time on
/// every message and that no dashboard here reads: busy/idle timings (two
/// clock reads per poll of an instrumented future), thread ids and source
/// locations. Span names, attributes, ids and parents stay.
fn otel_layer<S>(tracer: SdkTracer) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_tracked_inactivity(false)
        .with_threads(false)
        .with_location(false)
}

/// `RUST_LOG` parsed as `target=level` directives, or `default` when unset.
fn log_targets(default: &str) -> Result<Targets, TelemetryError> {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_owned());
    directives
        .parse::<Targets>()
        .map_err(|e| TelemetryError::InvalidFilter(format!("`{directives}`: {e}")))
}

/// One global filter instead of per-layer filters: `tracing-subscriber`'s
/// per-layer filtering drops events nondeterministically in multi-threaded
/// programs (observed with librdkafka callback threads), while a global,
/// metadata-only filter is cached per callsite and exact.
///
/// Events follow `RUST_LOG`; spans at INFO and above are always enabled (they
/// carry the trace context), finer spans follow `RUST_LOG`.
fn global_filter<S>(targets: Targets) -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    tracing_subscriber::filter::filter_fn(move |metadata: &Metadata<'_>| {
        (metadata.is_span() && *metadata.level() <= Level::INFO)
            || targets.would_enable(metadata.target(), metadata.level())
    })
}
