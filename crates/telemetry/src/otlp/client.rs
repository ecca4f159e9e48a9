//! The HTTP client the OTLP exporter sends through: the workspace's own
//! reqwest, so exporting adds no second reqwest or hyper to the build (the
//! clients bundled with `opentelemetry-otlp` are reqwest 0.12).

use std::time::Duration;

use async_trait::async_trait;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use tokio::runtime::Runtime;

use crate::TelemetryError;

/// Sends each request on a one-worker Tokio runtime owned by the client.
///
/// The batch span processor runs exports on its own thread under a plain
/// `block_on`, with no Tokio reactor, while reqwest needs one. A private
/// runtime gives it one without depending on the application's runtime
/// still running when the guard flushes at exit, and awaiting the spawned
/// task's handle works from any executor, so nothing here can panic with
/// "cannot start a runtime from within a runtime".
#[derive(Debug)]
pub(crate) struct ExportClient {
    client: reqwest::Client,
    /// `Some` until drop; see the `Drop` impl.
    runtime: Option<Runtime>,
}

impl ExportClient {
    /// A client whose every request, connecting included, gives up after
    /// `timeout`.
    pub(crate) fn new(timeout: Duration) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()
            .map_err(|e| TelemetryError::Exporter(format!("starting its runtime: {e}")))?;
        // Built inside the private runtime so anything reqwest ties to "the
        // current runtime" is that one.
        let client = {
            let _inside = runtime.enter();
            reqwest::Client::builder()
                .timeout(timeout)
                // HTTP/1.1 only: every collector speaks it, and it keeps h2's
                // own tracing spans (which would be exported in turn when
                // RUST_LOG enables them) out of the export path.
                .http1_only()
                .build()
                .map_err(|e| TelemetryError::Exporter(format!("building its HTTP client: {e}")))?
        };
        Ok(ExportClient {
            client,
            runtime: Some(runtime),
        })
    }
}

#[async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let runtime = self
            .runtime
            .as_ref()
            .ok_or("the export client is shut down")?;
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let task = runtime.spawn(async move {
            let response = client.execute(request).await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            let mut out = Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok::<_, reqwest::Error>(out)
        });
        // The exporter turns a non-2xx status into an error with the body.
        match task.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => Err(SendError::from_chain(&error).into()),
            Err(error) => Err(SendError::from_chain(&error).into()),
        }
    }
}

/// A transport error as its readable cause chain ("error sending request
/// for url (…): client error (Connect): tcp connect error: Connection
/// refused"). The exporter formats errors with `{:?}` into the line that
/// is logged, and reqwest's `Debug` is a nested struct dump.
struct SendError(String);

impl SendError {
    fn from_chain(error: &dyn std::error::Error) -> Self {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        SendError(text)
    }
}

impl std::fmt::Debug for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SendError {}

impl Drop for ExportClient {
    /// Dropping a Tokio runtime blocks, which panics inside an async context
    /// (the client can be dropped there if building the exporter fails
    /// half-way); shutting it down in the background never blocks.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Also shows the client can be built and dropped inside an async
    /// context, where dropping a plain Tokio runtime would panic.
    #[tokio::test]
    async fn a_refused_connection_reads_as_a_cause_chain() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let client = ExportClient::new(Duration::from_secs(5)).expect("client");
        let request = Request::post(format!("http://127.0.0.1:{port}/v1/traces"))
            .body(Bytes::new())
            .expect("request");

        let error = client.send_bytes(request).await.expect_err("refused");

        let text = format!("{error:?}");
        assert!(text.contains("error sending request for url"), "{text}");
        assert!(text.contains("onnect"), "names the connect failure: {text}");
        assert!(!text.contains("reqwest::Error {"), "{text}");
    }
}
