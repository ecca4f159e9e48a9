//! The HTTP error boundary: every failure becomes Confluent's
//! `{"error_code": N, "message": "..."}` with Confluent's code and status.
//! Client faults say what is wrong; store failures are logged in full and
//! answered with a message that leaks no internals.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

use crate::{codes, schema::SchemaError, state::StateError, writer::WriteError};

use super::body::Vnd;

/// An error answer of the REST API.
#[derive(Debug)]
pub(crate) enum ApiError {
    SubjectNotFound(String),
    VersionNotFound(String),
    SchemaNotFound(String),
    SubjectLevelNotConfigured(String),
    InvalidSchema(String),
    InvalidVersion(String),
    InvalidCompatibilityLevel(String),
    Incompatible(String),
    /// The body is not JSON at all.
    MalformedBody(String),
    /// The body is JSON of the wrong shape.
    UnprocessableBody(String),
    UnsupportedMediaType(String),
    Unsupported(String),
    RouteNotFound,
    MethodNotAllowed,
    Store,
    Timeout,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error_code: u32,
    message: &'a str,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, u32, &str) {
        use ApiError::*;
        match self {
            SubjectNotFound(m) => (StatusCode::NOT_FOUND, codes::SUBJECT_NOT_FOUND, m),
            VersionNotFound(m) => (StatusCode::NOT_FOUND, codes::VERSION_NOT_FOUND, m),
            SchemaNotFound(m) => (StatusCode::NOT_FOUND, codes::SCHEMA_NOT_FOUND, m),
            SubjectLevelNotConfigured(m) => (
                StatusCode::NOT_FOUND,
                codes::SUBJECT_LEVEL_NOT_CONFIGURED,
                m,
            ),
            InvalidSchema(m) => (StatusCode::UNPROCESSABLE_ENTITY, codes::INVALID_SCHEMA, m),
            InvalidVersion(m) => (StatusCode::UNPROCESSABLE_ENTITY, codes::INVALID_VERSION, m),
            InvalidCompatibilityLevel(m) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                codes::INVALID_COMPATIBILITY_LEVEL,
                m,
            ),
            Incompatible(m) => (StatusCode::CONFLICT, codes::INCOMPATIBLE_SCHEMA, m),
            MalformedBody(m) => (StatusCode::BAD_REQUEST, 400, m),
            UnprocessableBody(m) | Unsupported(m) => (StatusCode::UNPROCESSABLE_ENTITY, 422, m),
            UnsupportedMediaType(m) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, 415, m),
            RouteNotFound => (StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                405,
                "HTTP 405 Method Not Allowed",
            ),
            Store => (
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::STORE_ERROR,
                "Error in the backend data store",
            ),
            Timeout => (
                StatusCode::INTERNAL_SERVER_ERROR,
                codes::OPERATION_TIMEOUT,
                "Operation timed out",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, error_code, message) = self.parts();
        (
            status,
            Vnd(ErrorBody {
                error_code,
                message,
            }),
        )
            .into_response()
    }
}

impl From<StateError> for ApiError {
    fn from(error: StateError) -> Self {
        let message = error.to_string();
        match error {
            StateError::SubjectNotFound(_) => ApiError::SubjectNotFound(message),
            StateError::VersionNotFound { .. } => ApiError::VersionNotFound(message),
            StateError::SchemaNotFound => ApiError::SchemaNotFound(message),
            StateError::Incompatible { .. } => ApiError::Incompatible(message),
            StateError::IdsExhausted => {
                tracing::error!("schema id space exhausted");
                ApiError::Store
            }
        }
    }
}

impl From<SchemaError> for ApiError {
    fn from(error: SchemaError) -> Self {
        ApiError::InvalidSchema(error.to_string())
    }
}

impl From<WriteError> for ApiError {
    fn from(error: WriteError) -> Self {
        match error {
            WriteError::State(e) => e.into(),
            WriteError::Store(e) if e.is_timeout() => {
                tracing::error!(error = %e, "schemas topic write timed out");
                ApiError::Timeout
            }
            WriteError::Store(e) => {
                tracing::error!(error = %e, "schemas topic write failed");
                ApiError::Store
            }
            WriteError::Contended => {
                tracing::error!("registration kept losing races with other instances");
                ApiError::Store
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;

    use super::*;

    #[tokio::test]
    async fn errors_use_confluent_shape_status_and_media_type() {
        let response = ApiError::from(StateError::SubjectNotFound("s".to_owned())).into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some(crate::CONTENT_TYPE)
        );
        let body = to_bytes(response.into_body(), 1024).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"error_code": 40401, "message": "Subject 's' not found."})
        );

        let incompatible = StateError::Incompatible {
            subject: "s".to_owned(),
            messages: vec!["x".to_owned()],
        };
        let (status, code, _) = ApiError::from(incompatible).parts();
        assert_eq!((status, code), (StatusCode::CONFLICT, 409));
    }
}
