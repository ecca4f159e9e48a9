//! [`ApiError`]: every error answer of every service, as an RFC 9457
//! `application/problem+json` document.
//!
//! Client faults (4xx) say exactly what is wrong; unexpected faults (5xx)
//! are logged with the request id and answered without internals, so a
//! stack trace, a SQL statement or a broker address never reaches a caller.

use std::{borrow::Cow, fmt::Display};

use axum::{
    http::{HeaderName, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use tributary_views::ViewError;

use super::request_id::current_request_id;
use crate::CommitError;

/// The media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One offending input field of a 4xx answer (RFC 9457 extension member
/// `errors`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `lines[0].quantity`;
    /// `$` for the body as a whole.
    pub field: String,
    /// What is wrong with it.
    pub detail: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            detail: detail.into(),
        }
    }
}

/// A problem+json error answer.
///
/// ```ignore
/// return Err(ApiError::unprocessable("quantity must be positive")
///     .with_field("lines[0].quantity", "must be at least 1"));
/// ```
///
/// Boxed inside so `Result<T, ApiError>` stays one pointer wide on the
/// happy path (handlers return it everywhere).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    inner: Box<Inner>,
}

#[derive(Debug, Clone, PartialEq)]
struct Inner {
    status: StatusCode,
    type_uri: Cow<'static, str>,
    title: Cow<'static, str>,
    detail: String,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// The serialized body.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_uri: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl ApiError {
    /// An error with `status`, the status's reason phrase as title and
    /// `about:blank` as type (RFC 9457 section 4.2.1).
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        ApiError {
            inner: Box::new(Inner {
                status,
                type_uri: Cow::Borrowed("about:blank"),
                title: Cow::Borrowed(status.canonical_reason().unwrap_or("Error")),
                detail: detail.into(),
                errors: Vec::new(),
                headers: Vec::new(),
            }),
        }
    }

    /// 400: the request cannot be read (malformed JSON, bad query string).
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: no or invalid credentials.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, detail)
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// 403: valid credentials without the right to do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, detail)
    }

    /// 404: the resource does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 405: the path exists but not with this method.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, detail)
    }

    /// 409: the request conflicts with the current state.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, detail)
    }

    /// 413: the body exceeds the configured limit.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, detail)
    }

    /// 415: the body is not in a media type we accept.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }

    /// 422: the body is well-formed but its content is invalid.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 429: the caller exceeded its rate; retry after `retry_after_secs`.
    pub fn too_many_requests(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, detail).with_retry_after(retry_after_secs)
    }

    /// 503: a dependency is down or overloaded; worth retrying shortly.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail).with_retry_after(1)
    }

    /// 500 for an unexpected fault: logs `error` (with its source chain and
    /// the request id, via the request span) and answers without it.
    pub fn internal(error: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(
            request_id = current_request_id().as_deref(),
            error = %ErrorChain(error),
            "request failed with an internal error"
        );
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An unexpected error occurred; quote the request id when reporting it.",
        )
    }

    /// Replaces the `type` URI (identifies the problem kind for clients).
    pub fn with_type(mut self, type_uri: impl Into<Cow<'static, str>>) -> Self {
        self.inner.type_uri = type_uri.into();
        self
    }

    /// Replaces the title (keep it the same for every occurrence of a type).
    pub fn with_title(mut self, title: impl Into<Cow<'static, str>>) -> Self {
        self.inner.title = title.into();
        self
    }

    /// Adds one field error.
    pub fn with_field(mut self, field: impl Into<String>, detail: impl Into<String>) -> Self {
        self.inner.errors.push(FieldError::new(field, detail));
        self
    }

    /// Adds field errors.
    pub fn with_errors(mut self, errors: impl IntoIterator<Item = FieldError>) -> Self {
        self.inner.errors.extend(errors);
        self
    }

    /// Adds a response header (`Retry-After`, `Allow`, ...).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.inner.headers.push((name, value));
        self
    }

    /// Sets `Retry-After` in seconds.
    pub fn with_retry_after(self, seconds: u64) -> Self {
        self.with_header(header::RETRY_AFTER, HeaderValue::from(seconds))
    }

    pub fn status(&self) -> StatusCode {
        self.inner.status
    }

    pub fn title(&self) -> &str {
        &self.inner.title
    }

    pub fn detail(&self) -> &str {
        &self.inner.detail
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.inner.errors
    }
}

impl Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        write!(
            f,
            "{} {}: {}",
            inner.status.as_u16(),
            inner.title,
            inner.detail
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let inner = *self.inner;
        let body = Problem {
            type_uri: &inner.type_uri,
            title: &inner.title,
            status: inner.status.as_u16(),
            detail: &inner.detail,
            errors: &inner.errors,
            request_id: current_request_id(),
        };
        let bytes = match serde_json::to_vec(&body) {
            Ok(bytes) => bytes,
            // Serializing strings and numbers cannot fail; answer anyway.
            Err(_) => {
                br#"{"type":"about:blank","title":"Internal Server Error","status":500}"#.to_vec()
            }
        };
        let mut response = (
            inner.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON))],
            bytes,
        )
            .into_response();
        for (name, value) in inner.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// A store that is busy or unreachable is worth retrying (503); anything
/// else is a bug or corruption (500, logged).
impl From<ViewError> for ApiError {
    fn from(error: ViewError) -> Self {
        if error.is_transient() {
            tracing::warn!(
                request_id = current_request_id().as_deref(),
                error = %ErrorChain(&error),
                "view store temporarily unavailable"
            );
            ApiError::unavailable(
                "The service's storage is temporarily unavailable; retry shortly.",
            )
        } else {
            ApiError::internal(&error)
        }
    }
}

impl From<CommitError> for ApiError {
    fn from(error: CommitError) -> Self {
        match error {
            CommitError::View(e) => e.into(),
            e if e.is_transient() => {
                tracing::warn!(
                    request_id = current_request_id().as_deref(),
                    error = %ErrorChain(&e),
                    "commit failed on an unavailable dependency"
                );
                ApiError::unavailable("A dependency is temporarily unavailable; retry shortly.")
            }
            e => ApiError::internal(&e),
        }
    }
}

/// Displays an error with its sources: `a: b: c`.
pub(crate) struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}
