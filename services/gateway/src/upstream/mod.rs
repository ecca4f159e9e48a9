//! Calls to the services behind the gateway.
//!
//! Each service has a list of instances. A call goes to the next instance
//! (round-robin) whose [`Breaker`] admits it; every call has a deadline. A
//! GET that fails (connection error, timeout, 5xx) is retried on another
//! instance, up to `max_attempts`; any other method is only re-sent when the
//! connection was refused, which proves no instance saw it. Answers below
//! 500 are returned as they are (a 4xx problem body goes to the client
//! unchanged); 5xx, timeouts and broken connections become an
//! [`UpstreamError`] that reveals no internals.

mod breaker;
mod error;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use tributary_service::http::{REQUEST_ID_HEADER, current_request_id};
use url::Url;

pub use breaker::{Breaker, BreakerState};
pub use error::{Service, UpstreamError};

use crate::config::UpstreamConfig;

/// One request to a service; cheap to re-send (the body is shared bytes).
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    /// Path and query below the instance's base URL, starting with `/`.
    /// Callers build it from validated parts only (uuids, checked SKUs).
    pub path_and_query: String,
    /// A JSON body.
    pub body: Option<Bytes>,
}

impl UpstreamRequest {
    pub fn get(path_and_query: impl Into<String>) -> Self {
        UpstreamRequest {
            method: Method::GET,
            path_and_query: path_and_query.into(),
            body: None,
        }
    }

    pub fn json(method: Method, path_and_query: impl Into<String>, body: Bytes) -> Self {
        UpstreamRequest {
            method,
            path_and_query: path_and_query.into(),
            body: Some(body),
        }
    }

    fn is_idempotent(&self) -> bool {
        matches!(self.method, Method::GET | Method::HEAD)
    }
}

/// An upstream answer below 500.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub content_type: Option<HeaderValue>,
    pub body: Bytes,
}

impl UpstreamResponse {
    /// The body as JSON of type `T`; a body that does not parse means the
    /// upstream broke its contract (502).
    pub fn json<T: DeserializeOwned>(&self, service: Service) -> Result<T, UpstreamError> {
        serde_json::from_slice(&self.body).map_err(|e| UpstreamError::BadGateway {
            service,
            detail: format!("unexpected answer body: {e}"),
        })
    }
}

/// Passes the answer through unchanged (status, content type, body).
impl IntoResponse for UpstreamResponse {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body).into_response();
        if let Some(content_type) = self.content_type {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
        }
        response
    }
}

#[derive(Debug)]
struct Instance {
    /// Base URL without a trailing slash.
    base: String,
    breaker: Breaker,
}

#[derive(Debug)]
struct Pool {
    service: Service,
    instances: Vec<Instance>,
    next: AtomicUsize,
}

/// The HTTP client and the instance pools of every service.
#[derive(Debug)]
pub struct Upstreams {
    client: reqwest::Client,
    pools: [Pool; 4],
    timeout: Duration,
    max_attempts: usize,
    max_response_bytes: usize,
}

/// Why one send to one instance failed.
#[derive(Debug)]
enum SendFailure {
    /// The connection could not be established: the instance never saw
    /// the request, so any method may be re-sent elsewhere.
    Refused(String),
    Timeout,
    /// The request may have reached the instance, the answer did not.
    Broken(String),
    TooLarge,
}

impl Upstreams {
    /// Pools for every service in `config`.
    pub fn new(config: &UpstreamConfig) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent("tributary-gateway")
            .build()?;
        let pool = |service, urls: &[Url]| Pool {
            service,
            instances: urls
                .iter()
                .map(|url| Instance {
                    base: url.as_str().trim_end_matches('/').to_owned(),
                    breaker: Breaker::new(&config.breaker),
                })
                .collect(),
            next: AtomicUsize::new(0),
        };
        Ok(Upstreams {
            client,
            pools: [
                pool(Service::Users, &config.users),
                pool(Service::Orders, &config.orders),
                pool(Service::Inventory, &config.inventory),
                pool(Service::Analytics, &config.analytics),
            ],
            timeout: config.timeout,
            max_attempts: usize::try_from(config.max_attempts.max(1)).unwrap_or(usize::MAX),
            max_response_bytes: config.max_response_bytes,
        })
    }

    /// The breaker states of `service`'s instances, in configuration order.
    pub fn breaker_states(&self, service: Service) -> Vec<BreakerState> {
        self.pool(service)
            .instances
            .iter()
            .map(|i| i.breaker.state())
            .collect()
    }

    /// Sends `request` to an instance of `service`; see the module docs.
    pub async fn call(
        &self,
        service: Service,
        request: UpstreamRequest,
    ) -> Result<UpstreamResponse, UpstreamError> {
        let pool = self.pool(service);
        let count = pool.instances.len();
        if count == 0 {
            return Err(UpstreamError::NoInstances(service));
        }
        let max_sends = if request.is_idempotent() {
            self.max_attempts
        } else {
            1
        };
        let start = pool.next.fetch_add(1, Ordering::Relaxed);
        let mut sends = 0;
        let mut last = None;
        for offset in 0..count {
            let instance = &pool.instances[(start + offset) % count];
            if !instance.breaker.try_acquire() {
                continue;
            }
            let failure = match self.send(instance, &request).await {
                Ok(response) if response.status.is_server_error() => {
                    tracing::warn!(
                        service = %service,
                        instance = %instance.base,
                        status = response.status.as_u16(),
                        "upstream answered with a server error"
                    );
                    instance.breaker.on_failure();
                    UpstreamError::ServerError {
                        service,
                        status: response.status.as_u16(),
                    }
                }
                Ok(response) => {
                    instance.breaker.on_success();
                    return Ok(response);
                }
                Err(SendFailure::TooLarge) => {
                    // The instance works; its answer is just unusable.
                    instance.breaker.on_success();
                    return Err(UpstreamError::BadGateway {
                        service,
                        detail: format!("answer larger than {} bytes", self.max_response_bytes),
                    });
                }
                Err(SendFailure::Refused(detail)) => {
                    instance.breaker.on_failure();
                    tracing::debug!(service = %service, instance = %instance.base, %detail, "upstream refused the connection");
                    last = Some(UpstreamError::Unavailable { service, detail });
                    continue;
                }
                Err(SendFailure::Timeout) => {
                    instance.breaker.on_failure();
                    UpstreamError::Timeout(service)
                }
                Err(SendFailure::Broken(detail)) => {
                    instance.breaker.on_failure();
                    UpstreamError::BadGateway { service, detail }
                }
            };
            last = Some(failure);
            sends += 1;
            if sends >= max_sends {
                break;
            }
        }
        Err(last.unwrap_or_else(|| UpstreamError::Unavailable {
            service,
            detail: "every instance's circuit breaker is open".to_owned(),
        }))
    }

    async fn send(
        &self,
        instance: &Instance,
        request: &UpstreamRequest,
    ) -> Result<UpstreamResponse, SendFailure> {
        let url = format!("{}{}", instance.base, request.path_and_query);
        let mut builder = self
            .client
            .request(request.method.clone(), url)
            .header(header::ACCEPT, "application/json");
        if let Some(id) = current_request_id() {
            builder = builder.header(REQUEST_ID_HEADER, id);
        }
        if let Some(trace) = tributary_telemetry::inject(&tracing::Span::current()) {
            builder = builder.header("traceparent", trace.traceparent);
            if let Some(state) = trace.tracestate {
                builder = builder.header("tracestate", state);
            }
        }
        if let Some(body) = &request.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        let exchange = async {
            let mut response = builder.send().await.map_err(classify)?;
            let status = response.status();
            let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(classify)? {
                if body.len() + chunk.len() > self.max_response_bytes {
                    return Err(SendFailure::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(UpstreamResponse {
                status,
                content_type,
                body: Bytes::from(body),
            })
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(SendFailure::Timeout))
    }

    fn pool(&self, service: Service) -> &Pool {
        let index = match service {
            Service::Users => 0,
            Service::Orders => 1,
            Service::Inventory => 2,
            Service::Analytics => 3,
        };
        let pool = &self.pools[index];
        debug_assert_eq!(pool.service, service);
        pool
    }
}

fn classify(error: reqwest::Error) -> SendFailure {
    if error.is_timeout() {
        SendFailure::Timeout
    } else if error.is_connect() {
        SendFailure::Refused(error.to_string())
    } else {
        SendFailure::Broken(error.to_string())
    }
}

#[cfg(test)]
mod tests;
