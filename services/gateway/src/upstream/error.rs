//! How an upstream call can fail, and what the gateway's client sees of it.

use std::fmt;

use tributary_service::ApiError;

/// A service behind the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Users,
    Orders,
    Inventory,
    Analytics,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Orders => "orders",
            Service::Inventory => "inventory",
            Service::Analytics => "analytics",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why no usable answer came back. The details are for logs; clients get
/// a problem that names the service but no addresses or upstream bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    #[error("no instances of the {0} service are configured")]
    NoInstances(Service),
    #[error("every instance of the {service} service is unavailable: {detail}")]
    Unavailable { service: Service, detail: String },
    #[error("the {0} service did not answer in time")]
    Timeout(Service),
    #[error("the {service} service failed: {detail}")]
    BadGateway { service: Service, detail: String },
    #[error("the {service} service answered {status}")]
    ServerError { service: Service, status: u16 },
}

impl UpstreamError {
    /// The service that failed.
    pub fn service(&self) -> Service {
        match self {
            UpstreamError::NoInstances(service) | UpstreamError::Timeout(service) => *service,
            UpstreamError::Unavailable { service, .. }
            | UpstreamError::BadGateway { service, .. }
            | UpstreamError::ServerError { service, .. } => *service,
        }
    }
}

impl From<UpstreamError> for ApiError {
    fn from(error: UpstreamError) -> Self {
        tracing::warn!(%error, service = %error.service(), "upstream call failed");
        let service = error.service();
        match error {
            UpstreamError::NoInstances(_) | UpstreamError::Unavailable { .. } => {
                ApiError::unavailable(format!(
                    "The {service} service is unavailable; retry shortly."
                ))
            }
            UpstreamError::ServerError { status: 503, .. } => ApiError::unavailable(format!(
                "The {service} service is temporarily unavailable; retry shortly."
            )),
            UpstreamError::Timeout(_) => ApiError::new(
                axum::http::StatusCode::GATEWAY_TIMEOUT,
                format!("The {service} service did not answer in time; retry shortly."),
            ),
            UpstreamError::BadGateway { .. } | UpstreamError::ServerError { .. } => ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                format!("The {service} service failed to answer; retry shortly."),
            ),
        }
    }
}
