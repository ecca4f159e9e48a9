//! OTLP/HTTP trace export, configured by the standard OpenTelemetry
//! environment variables and absent unless an endpoint is set.
//!
//! Spans that end are handed to a batch span processor: a bounded in-memory
//! queue (`OTEL_BSP_MAX_QUEUE_SIZE`, default 2048) that a thread of its own
//! drains every `OTEL_BSP_SCHEDULE_DELAY` (default 5 s) or whenever a batch
//! (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512) is full. Ending a span
//! never waits: a full queue drops the span. Each batch is one POST to the
//! collector through [`client::ExportClient`], bounded by the export timeout;
//! a failed batch is dropped, not retried, and logged through
//! [`report::ReportingExporter`] at most once a minute.

mod client;
mod config;
mod report;

use opentelemetry_otlp::{Protocol, WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor};

pub use config::{OtlpConfig, OtlpProtocol, TraceSampler};

use crate::TelemetryError;

/// The batch span processor that ships spans as `config` says.
pub(crate) fn batch_processor(config: &OtlpConfig) -> Result<BatchSpanProcessor, TelemetryError> {
    let protocol = match config.protocol() {
        OtlpProtocol::HttpProtobuf => Protocol::HttpBinary,
        OtlpProtocol::HttpJson => Protocol::HttpJson,
    };
    // The builder still reads OTEL_EXPORTER_OTLP_(TRACES_)HEADERS and
    // _COMPRESSION from the environment; `OtlpConfig::from_env` has checked
    // them. Endpoint, protocol and timeout are set here and win over it.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client::ExportClient::new(config.timeout())?)
        .with_endpoint(config.endpoint().as_str())
        .with_protocol(protocol)
        .with_timeout(config.timeout())
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let exporter = report::ReportingExporter::new(exporter, config.endpoint_for_logs());
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(config.max_queue_size())
        .with_max_export_batch_size(config.max_export_batch_size())
        .with_scheduled_delay(config.schedule_delay())
        .build();
    Ok(BatchSpanProcessor::builder(exporter)
        .with_batch_config(batch)
        .build())
}
