//! What the standard OpenTelemetry environment variables ask for, checked at
//! start-up so a typo is an error that names the variable instead of traces
//! that silently go nowhere.

use std::time::Duration;

use opentelemetry_sdk::trace::Sampler;
use reqwest::Url;

use crate::TelemetryError;

const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
const TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
const TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
const TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
const HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
const TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
const COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
const SAMPLER: &str = "OTEL_TRACES_SAMPLER";
const SAMPLER_ARG: &str = "OTEL_TRACES_SAMPLER_ARG";
const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";
const BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
const BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";
const BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";

/// The OTLP specification's defaults.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_SCHEDULE_DELAY: Duration = Duration::from_secs(5);
const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
const DEFAULT_MAX_EXPORT_BATCH_SIZE: usize = 512;
/// How long dropping the guard may wait for the last spans to leave. Short
/// enough to fit in a Kubernetes grace period after the service drained,
/// long enough for a reachable collector to take a few batches.
const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// How spans are encoded on the wire (`OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`, the default: binary protobuf over HTTP.
    HttpProtobuf,
    /// `http/json`: the same messages as JSON, for collectors or proxies that
    /// only speak JSON.
    HttpJson,
}

/// Which traces are recorded and exported (`OTEL_TRACES_SAMPLER` and
/// `OTEL_TRACES_SAMPLER_ARG`). The `ParentBased` variants follow the sampled
/// flag of an incoming `traceparent`, so one saga is kept or dropped whole
/// across services.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceSampler {
    /// `always_on`.
    AlwaysOn,
    /// `always_off`.
    AlwaysOff,
    /// `traceidratio`: this fraction of trace ids, whatever the parent says.
    TraceIdRatio(f64),
    /// `parentbased_always_on`, the default.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: roots sampled at this fraction, children
    /// follow their parent.
    ParentBasedTraceIdRatio(f64),
}

impl TraceSampler {
    pub(crate) fn to_sdk(self) -> Sampler {
        let parent_based = |root: Sampler| Sampler::ParentBased(Box::new(root));
        match self {
            TraceSampler::AlwaysOn => Sampler::AlwaysOn,
            TraceSampler::AlwaysOff => Sampler::AlwaysOff,
            TraceSampler::TraceIdRatio(ratio) => Sampler::TraceIdRatioBased(ratio),
            TraceSampler::ParentBasedAlwaysOn => parent_based(Sampler::AlwaysOn),
            TraceSampler::ParentBasedAlwaysOff => parent_based(Sampler::AlwaysOff),
            TraceSampler::ParentBasedTraceIdRatio(ratio) => {
                parent_based(Sampler::TraceIdRatioBased(ratio))
            }
        }
    }
}

/// Where and how a process ships its spans over OTLP/HTTP. Built from the
/// environment by [`OtlpConfig::from_env`] (what [`crate::init_tracing`]
/// does) or by hand for tests.
#[derive(Debug, Clone, PartialEq)]
pub struct OtlpConfig {
    endpoint: Url,
    protocol: OtlpProtocol,
    timeout: Duration,
    sampler: TraceSampler,
    service_name: Option<String>,
    schedule_delay: Duration,
    max_queue_size: usize,
    max_export_batch_size: usize,
    shutdown_timeout: Duration,
}

impl OtlpConfig {
    /// Export to `endpoint`, the full URL that receives the POSTs (e.g.
    /// `http://collector:4318/v1/traces`), with the specification's defaults
    /// for everything else.
    pub fn new(endpoint: Url) -> Self {
        OtlpConfig {
            endpoint,
            protocol: OtlpProtocol::HttpProtobuf,
            timeout: DEFAULT_TIMEOUT,
            sampler: TraceSampler::ParentBasedAlwaysOn,
            service_name: None,
            schedule_delay: DEFAULT_SCHEDULE_DELAY,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
            max_export_batch_size: DEFAULT_MAX_EXPORT_BATCH_SIZE,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }

    /// Reads the process environment; see [`OtlpConfig::from_lookup`].
    pub fn from_env() -> Result<Option<Self>, TelemetryError> {
        // A value that is not UTF-8 turns into replacement characters, which
        // every check below then rejects or passes through unchanged, as a
        // string from a file would be.
        Self::from_lookup(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
    }

    /// `None` unless `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as is) or
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (with `/v1/traces` appended) is set and
    /// `OTEL_SDK_DISABLED` is not `true`. An empty variable counts as unset,
    /// as the specification says. Every other variable is read only when
    /// exporting, and a malformed one is an error that names it:
    ///
    /// - `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`: `http/protobuf` (default)
    ///   or `http/json`;
    /// - `OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT`: one request, in ms (10000);
    /// - `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`: `name=value,…`;
    /// - `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`: `gzip` or unset;
    /// - `OTEL_SERVICE_NAME`: replaces the role as `service.name`;
    /// - `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`
    ///   (`parentbased_always_on` by default);
    /// - `OTEL_BSP_SCHEDULE_DELAY` (ms, 5000), `OTEL_BSP_MAX_QUEUE_SIZE`
    ///   (2048) and `OTEL_BSP_MAX_EXPORT_BATCH_SIZE` (512).
    ///
    /// The signal-specific `TRACES_` form wins over the general one.
    /// `OTEL_RESOURCE_ATTRIBUTES` is read by the SDK itself.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, TelemetryError> {
        let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let Some(disabled) = var(SDK_DISABLED) {
            match disabled.to_ascii_lowercase().as_str() {
                "true" => return Ok(None),
                "false" => {}
                _ => {
                    return Err(invalid(
                        SDK_DISABLED,
                        &disabled,
                        "expected `true` or `false`",
                    ));
                }
            }
        }
        let endpoint = if let Some(url) = var(TRACES_ENDPOINT) {
            parse_endpoint(TRACES_ENDPOINT, &url)?
        } else if let Some(base) = var(ENDPOINT) {
            let mut url = parse_endpoint(ENDPOINT, &base)?;
            let path = format!("{}/v1/traces", url.path().trim_end_matches('/'));
            url.set_path(&path);
            url
        } else {
            return Ok(None);
        };

        let mut config = OtlpConfig::new(endpoint);
        if let Some((name, value)) = first(&var, TRACES_PROTOCOL, PROTOCOL) {
            config.protocol = parse_protocol(name, &value)?;
        }
        if let Some((name, value)) = first(&var, TRACES_TIMEOUT, TIMEOUT) {
            config.timeout = Duration::from_millis(parse_positive(name, &value)?);
        }
        if let Some((name, value)) = first(&var, TRACES_HEADERS, HEADERS) {
            check_headers(name, &value)?;
        }
        // Read raw: the exporter reads this one itself and takes an empty
        // value for an unknown algorithm, not for "unset".
        if let Some((name, value)) = first(&lookup, TRACES_COMPRESSION, COMPRESSION) {
            check_compression(name, &value)?;
        }
        if let Some(sampler) = var(SAMPLER) {
            config.sampler = parse_sampler(&sampler, var(SAMPLER_ARG).as_deref())?;
        }
        config.service_name = var(SERVICE_NAME);
        if let Some(delay) = var(BSP_SCHEDULE_DELAY) {
            config.schedule_delay =
                Duration::from_millis(parse_positive(BSP_SCHEDULE_DELAY, &delay)?);
        }
        if let Some(size) = var(BSP_MAX_QUEUE_SIZE) {
            config.max_queue_size = parse_size(BSP_MAX_QUEUE_SIZE, &size)?;
        }
        if let Some(size) = var(BSP_MAX_EXPORT_BATCH_SIZE) {
            config.max_export_batch_size = parse_size(BSP_MAX_EXPORT_BATCH_SIZE, &size)?;
        }
        Ok(Some(config))
    }

    /// Encode as `protocol` instead of protobuf.
    pub fn with_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Give up on one export request after `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Report the process as `name` instead of its role.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// Sample with `sampler` instead of `parentbased_always_on`.
    pub fn with_sampler(mut self, sampler: TraceSampler) -> Self {
        self.sampler = sampler;
        self
    }

    /// Let dropping the guard wait at most `timeout` for queued spans.
    pub fn with_shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// The URL the spans are POSTed to.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The wire encoding.
    pub fn protocol(&self) -> OtlpProtocol {
        self.protocol
    }

    /// The limit on one export request.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The sampler.
    pub fn sampler(&self) -> TraceSampler {
        self.sampler
    }

    /// `OTEL_SERVICE_NAME`, which wins over the role name when set.
    pub fn service_name(&self) -> Option<&str> {
        self.service_name.as_deref()
    }

    /// How long the batch processor waits before sending a partial batch.
    pub fn schedule_delay(&self) -> Duration {
        self.schedule_delay
    }

    /// Spans that may wait in memory; further spans are dropped, never
    /// waited for, so a slow collector cannot slow the process down.
    pub fn max_queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// Spans in one export request at most.
    pub fn max_export_batch_size(&self) -> usize {
        self.max_export_batch_size
    }

    /// The bound on flushing when the guard is dropped.
    pub fn shutdown_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    /// The endpoint without user name or password, for log lines.
    pub(crate) fn endpoint_for_logs(&self) -> String {
        let mut url = self.endpoint.clone();
        // Only fails for URLs that cannot carry credentials at all.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.to_string()
    }
}

fn invalid(var: &'static str, value: &str, reason: &str) -> TelemetryError {
    TelemetryError::InvalidVariable {
        var,
        reason: format!("`{value}`: {reason}"),
    }
}

/// The signal-specific variable if set, else the general one.
fn first(
    var: &impl Fn(&str) -> Option<String>,
    specific: &'static str,
    general: &'static str,
) -> Option<(&'static str, String)> {
    var(specific)
        .map(|v| (specific, v))
        .or_else(|| var(general).map(|v| (general, v)))
}

fn parse_endpoint(var: &'static str, value: &str) -> Result<Url, TelemetryError> {
    let url = Url::parse(value).map_err(|e| invalid(var, value, &e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(var, value, "the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid(var, value, "no host"));
    }
    Ok(url)
}

fn parse_protocol(var: &'static str, value: &str) -> Result<OtlpProtocol, TelemetryError> {
    match value.to_ascii_lowercase().as_str() {
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        "http/json" => Ok(OtlpProtocol::HttpJson),
        "grpc" => Err(invalid(
            var,
            value,
            "gRPC export is not built in; use `http/protobuf` (collectors listen on port 4318 for it)",
        )),
        _ => Err(invalid(
            var,
            value,
            "expected `http/protobuf` or `http/json`",
        )),
    }
}

fn parse_positive(var: &'static str, value: &str) -> Result<u64, TelemetryError> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(
            var,
            value,
            "expected a whole number of milliseconds above 0",
        )),
    }
}

fn parse_size(var: &'static str, value: &str) -> Result<usize, TelemetryError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(invalid(var, value, "expected a whole number above 0")),
    }
}

/// The exporter reads the headers variable itself and silently skips pairs
/// it cannot use; checking the shape here turns that into an error. Values
/// are never echoed: they usually hold credentials.
fn check_headers(var: &'static str, value: &str) -> Result<(), TelemetryError> {
    for (index, pair) in value.split(',').enumerate() {
        if pair.trim().is_empty() {
            continue;
        }
        let name = pair.split_once('=').map(|(name, _)| name.trim());
        let valid = name.is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        });
        if !valid {
            return Err(TelemetryError::InvalidVariable {
                var,
                reason: format!(
                    "entry {} is not `name=value` with a valid header name \
                     (expected `name1=value1,name2=value2`)",
                    index + 1
                ),
            });
        }
    }
    Ok(())
}

/// The exporter reads the compression variable itself; only `gzip` is built
/// in, and "none" is spelled by leaving the variable unset.
fn check_compression(var: &'static str, value: &str) -> Result<(), TelemetryError> {
    match value {
        "gzip" => Ok(()),
        "none" | "" => Err(invalid(var, value, "unset the variable for no compression")),
        _ => Err(invalid(var, value, "only `gzip` is supported")),
    }
}

fn parse_sampler(name: &str, arg: Option<&str>) -> Result<TraceSampler, TelemetryError> {
    let ratio = || -> Result<f64, TelemetryError> {
        let Some(arg) = arg else {
            return Ok(1.0);
        };
        match arg.trim().parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err(invalid(SAMPLER_ARG, arg, "expected a ratio from 0 to 1")),
        }
    };
    match name.to_ascii_lowercase().as_str() {
        "always_on" => Ok(TraceSampler::AlwaysOn),
        "always_off" => Ok(TraceSampler::AlwaysOff),
        "traceidratio" => Ok(TraceSampler::TraceIdRatio(ratio()?)),
        "parentbased_always_on" => Ok(TraceSampler::ParentBasedAlwaysOn),
        "parentbased_always_off" => Ok(TraceSampler::ParentBasedAlwaysOff),
        "parentbased_traceidratio" => Ok(TraceSampler::ParentBasedTraceIdRatio(ratio()?)),
        _ => Err(invalid(
            SAMPLER,
            name,
            "expected always_on, always_off, traceidratio, parentbased_always_on, \
             parentbased_always_off or parentbased_traceidratio",
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn parse(vars: &[(&str, &str)]) -> Result<Option<OtlpConfig>, TelemetryError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        OtlpConfig::from_lookup(|name| vars.get(name).cloned())
    }

    fn parsed(vars: &[(&str, &str)]) -> OtlpConfig {
        parse(vars).expect("valid").expect("configured")
    }

    fn error(vars: &[(&str, &str)]) -> String {
        parse(vars).expect_err("invalid").to_string()
    }

    #[test]
    fn nothing_is_exported_without_an_endpoint_whatever_else_is_set() {
        assert_eq!(parse(&[]).expect("valid"), None);
        // Not read at all when not exporting: today's behaviour, no new errors.
        let unrelated = [(PROTOCOL, "grpc"), (SAMPLER, "bogus"), (ENDPOINT, "")];
        assert_eq!(parse(&unrelated).expect("valid"), None);
        let disabled = [(ENDPOINT, "http://collector:4318"), (SDK_DISABLED, "TRUE")];
        assert_eq!(parse(&disabled).expect("valid"), None);
    }

    #[test]
    fn the_general_endpoint_gets_the_traces_path_and_the_specific_one_is_used_as_is() {
        let cases = [
            (
                ENDPOINT,
                "http://collector:4318",
                "http://collector:4318/v1/traces",
            ),
            (
                ENDPOINT,
                "http://collector:4318/",
                "http://collector:4318/v1/traces",
            ),
            (
                ENDPOINT,
                "https://gw.example/otlp/",
                "https://gw.example/otlp/v1/traces",
            ),
            (
                TRACES_ENDPOINT,
                "http://collector:4318/custom",
                "http://collector:4318/custom",
            ),
        ];
        for (var, value, expected) in cases {
            assert_eq!(
                parsed(&[(var, value)]).endpoint().as_str(),
                expected,
                "{var}={value}"
            );
        }
        let both = parsed(&[(ENDPOINT, "http://a:1"), (TRACES_ENDPOINT, "http://b:2/t")]);
        assert_eq!(both.endpoint().as_str(), "http://b:2/t");
    }

    #[test]
    fn defaults_follow_the_specification() {
        let config = parsed(&[(ENDPOINT, "http://collector:4318")]);
        assert_eq!(config.protocol(), OtlpProtocol::HttpProtobuf);
        assert_eq!(config.timeout(), Duration::from_secs(10));
        assert_eq!(config.sampler(), TraceSampler::ParentBasedAlwaysOn);
        assert_eq!(config.service_name(), None);
        assert_eq!(config.max_queue_size(), 2048);
        assert_eq!(config.max_export_batch_size(), 512);
        assert_eq!(config.schedule_delay(), Duration::from_secs(5));
    }

    #[test]
    fn every_honoured_variable_is_read() {
        let config = parsed(&[
            (ENDPOINT, "http://collector:4318"),
            (PROTOCOL, "HTTP/JSON"),
            (TIMEOUT, "2500"),
            (SAMPLER, "parentbased_traceidratio"),
            (SAMPLER_ARG, "0.25"),
            (SERVICE_NAME, "checkout"),
            (BSP_SCHEDULE_DELAY, "200"),
            (BSP_MAX_QUEUE_SIZE, "100"),
            (BSP_MAX_EXPORT_BATCH_SIZE, "10"),
            (HEADERS, "authorization=Bearer%20x, x-tenant = shop"),
            (COMPRESSION, "gzip"),
        ]);
        assert_eq!(config.protocol(), OtlpProtocol::HttpJson);
        assert_eq!(config.timeout(), Duration::from_millis(2500));
        assert_eq!(
            config.sampler(),
            TraceSampler::ParentBasedTraceIdRatio(0.25)
        );
        assert_eq!(config.service_name(), Some("checkout"));
        assert_eq!(config.schedule_delay(), Duration::from_millis(200));
        assert_eq!(config.max_queue_size(), 100);
        assert_eq!(config.max_export_batch_size(), 10);
    }

    #[test]
    fn signal_specific_variables_win_over_general_ones() {
        let config = parsed(&[
            (ENDPOINT, "http://collector:4318"),
            (PROTOCOL, "grpc"),
            (TRACES_PROTOCOL, "http/protobuf"),
            (TIMEOUT, "nonsense"),
            (TRACES_TIMEOUT, "700"),
        ]);
        assert_eq!(config.protocol(), OtlpProtocol::HttpProtobuf);
        assert_eq!(config.timeout(), Duration::from_millis(700));
    }

    #[test]
    fn a_ratio_sampler_without_an_argument_keeps_everything() {
        let config = parsed(&[(ENDPOINT, "http://c:4318"), (SAMPLER, "traceidratio")]);
        assert_eq!(config.sampler(), TraceSampler::TraceIdRatio(1.0));
    }

    #[test]
    fn a_malformed_value_is_an_error_naming_its_variable() {
        let base = (ENDPOINT, "http://collector:4318");
        let cases: [(&[(&str, &str)], &str); 14] = [
            (&[(ENDPOINT, "collector:4318")], ENDPOINT),
            (&[(ENDPOINT, "not a url")], ENDPOINT),
            (&[(TRACES_ENDPOINT, "ftp://collector/")], TRACES_ENDPOINT),
            (&[base, (PROTOCOL, "grpc")], PROTOCOL),
            (&[base, (TRACES_PROTOCOL, "thrift")], TRACES_PROTOCOL),
            (&[base, (TIMEOUT, "10s")], TIMEOUT),
            (&[base, (SAMPLER, "sometimes")], SAMPLER),
            (
                &[base, (SAMPLER, "traceidratio"), (SAMPLER_ARG, "1.5")],
                SAMPLER_ARG,
            ),
            (&[base, (BSP_MAX_QUEUE_SIZE, "0")], BSP_MAX_QUEUE_SIZE),
            (&[base, (HEADERS, "api-key")], HEADERS),
            (&[base, (TRACES_HEADERS, "bad name=1")], TRACES_HEADERS),
            (&[base, (COMPRESSION, "zstd")], COMPRESSION),
            (
                &[base, (TRACES_COMPRESSION, ""), (COMPRESSION, "gzip")],
                TRACES_COMPRESSION,
            ),
            (&[base, (SDK_DISABLED, "yes")], SDK_DISABLED),
        ];
        for (vars, var) in cases {
            let message = error(vars);
            assert!(message.contains(var), "{vars:?}: {message}");
        }
    }

    #[test]
    fn header_errors_do_not_echo_values() {
        let message = error(&[
            (ENDPOINT, "http://c:4318"),
            (HEADERS, "a=1,secret-token-only"),
        ]);
        assert!(message.contains("entry 2"), "{message}");
        assert!(!message.contains("secret"), "{message}");
    }

    #[test]
    fn log_lines_show_the_endpoint_without_credentials() {
        let config = parsed(&[(ENDPOINT, "https://user:hunter2@collector:4318")]);
        assert_eq!(
            config.endpoint_for_logs(),
            "https://collector:4318/v1/traces"
        );
    }
}
