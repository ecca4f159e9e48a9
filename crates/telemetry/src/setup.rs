//! Process-wide `tracing` installation.

use std::{sync::OnceLock, time::Duration};

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

use crate::{
    TelemetryError,
    otlp::{self, OtlpConfig},
    printed_spans::PrintedSpansOnly,
};

/// Owns the OpenTelemetry tracer provider; dropping it flushes the spans
/// still queued for export and shuts the provider down. Hold it in `main`
/// until the process exits.
///
/// The flush is bounded: when exporting, the drop waits at most
/// [`OtlpConfig::shutdown_timeout`] (5 s unless set by hand), so a collector
/// that is down or hangs delays the exit by that much at worst and the
/// spans it did not take are lost (and logged as lost).
#[derive(Debug)]
pub struct TracingGuard {
    provider: SdkTracerProvider,
    /// Set when spans are exported.
    export: Option<ExportShutdown>,
}

/// What the drop of an exporting guard needs.
#[derive(Debug)]
struct ExportShutdown {
    deadline: Duration,
    endpoint: String,
}

impl TracingGuard {
    /// Builds the tracer provider of a process named `service`, exporting
    /// over OTLP/HTTP when `export` is given, and installs nothing global.
    /// [`init_tracing`] is this plus the global subscriber and propagator;
    /// tests use it directly, with [`TracingGuard::layer`] under a scoped
    /// subscriber.
    ///
    /// Without `export` the provider is a bare one: spans get ids and
    /// parents (which propagation needs) and nothing else happens to them,
    /// so not configuring export costs nothing per span. With it, the
    /// configured sampler decides which traces are recorded, and the
    /// service name is `OTEL_SERVICE_NAME` when that was set.
    pub fn new(service: &str, export: Option<&OtlpConfig>) -> Result<Self, TelemetryError> {
        let name = export.and_then(OtlpConfig::service_name).unwrap_or(service);
        let mut builder = SdkTracerProvider::builder().with_resource(
            Resource::builder()
                .with_service_name(name.to_owned())
                .build(),
        );
        if let Some(config) = export {
            builder = builder
                .with_sampler(config.sampler().to_sdk())
                .with_span_processor(otlp::batch_processor(config)?);
        }
        Ok(TracingGuard {
            provider: builder.build(),
            export: export.map(|config| ExportShutdown {
                deadline: config.shutdown_timeout(),
                endpoint: config.endpoint_for_logs(),
            }),
        })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans of this
    /// provider, configured exactly as [`init_tracing`] installs it.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    {
        otel_layer(self.provider.tracer("tributary"))
    }
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        let Some(export) = &self.export else {
            // Nothing is exported, so nothing can be lost: ignore the result
            // rather than print during teardown.
            let _ = self.provider.shutdown();
            return;
        };
        if let Err(error) = self.provider.shutdown_with_timeout(export.deadline) {
            tracing::warn!(
                endpoint = export.endpoint.as_str(),
                %error,
                "OTLP trace export did not finish flushing at shutdown; spans still queued are lost"
            );
        }
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
/// - When `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
///   is set, those spans are also exported over OTLP/HTTP (see
///   [`OtlpConfig::from_lookup`] for every variable read). Otherwise nothing
///   leaves the process and the provider is exactly the bare one it always
///   was.
///
/// Fails, before installing anything, if `RUST_LOG` or an OpenTelemetry
/// variable is malformed (the error names the variable); fails if a global
/// subscriber is already installed (tests that call it more than once may
/// ignore that error).
pub fn init_tracing(service: &str, json: bool) -> Result<TracingGuard, TelemetryError> {
    let targets = log_targets("info")?;
    let export = OtlpConfig::from_env()?;
    let guard = TracingGuard::new(service, export.as_ref())?;
    let otel = guard.layer();
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
    opentelemetry::global::set_tracer_provider(guard.provider.clone());
    match &export {
        Some(config) => tracing::info!(
            service,
            json,
            otlp_endpoint = config.endpoint_for_logs(),
            otlp_protocol = ?config.protocol(),
            otlp_service_name = config.service_name().unwrap_or(service),
            "tracing initialised, exporting spans over OTLP"
        ),
        None => tracing::info!(service, json, "tracing initialised"),
    }
    Ok(guard)
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
