//! [`ApiJson`]: the JSON body extractor whose every rejection is a
//! problem+json [`ApiError`] that names what is wrong, so bad input gets a
//! precise 4xx and never axum's plain-text rejections.

use axum::{
    Json,
    body::Bytes,
    extract::{FromRequest, Request, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::error::Category;

use super::problem::{ApiError, FieldError};

/// A JSON request body (or response) of type `T`.
///
/// Rejections:
/// - 415 when `Content-Type` is missing or not `application/json` (or
///   `application/*+json`);
/// - 413 when the body exceeds the service's body limit;
/// - 400 when the body is not JSON (syntax error, truncated, trailing data);
/// - 422 when it is JSON of the wrong shape: a missing field, a wrong type,
///   an out-of-range number, an unknown field — naming the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::unsupported_media_type(
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(body_rejection)?;
        decode(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Parses `bytes` as `T`, classifying failures as 400 (not JSON) or 422
/// (JSON of the wrong shape, with the offending field).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => shape_error(&path, &inner),
            Category::Syntax | Category::Eof | Category::Io => syntax_error(&inner),
        }
    })?;
    deserializer.end().map_err(|e| syntax_error(&e))?;
    Ok(value)
}

/// Whether the content type is JSON: `application/json` or any
/// `application/<x>+json`, parameters (charset) ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large("The request body exceeds the size limit of this service.")
    } else {
        ApiError::bad_request("The request body could not be read.")
    }
}

fn syntax_error(error: &serde_json::Error) -> ApiError {
    let detail = if error.is_eof() && error.line() == 1 && error.column() == 0 {
        "The request body is empty; send a JSON document.".to_owned()
    } else {
        format!("The request body is not valid JSON: {error}.")
    };
    ApiError::bad_request(detail)
}

/// A 422 naming the field. serde reports a missing field at the path of the
/// object that lacks it, with the name only in the message, so that name is
/// appended to the path (an unknown field's path already ends with it).
fn shape_error(path: &str, error: &serde_json::Error) -> ApiError {
    let message = without_position(&error.to_string());
    let field = match named_field(&message) {
        Some(name) => join(path, name),
        None if path == "." || path.is_empty() => "$".to_owned(),
        None => path.to_owned(),
    };
    ApiError::unprocessable(format!("Invalid request body at `{field}`: {message}."))
        .with_errors([FieldError::new(field, message)])
}

/// `missing field `x`` → `x`.
fn named_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

fn join(path: &str, name: &str) -> String {
    if path == "." || path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// serde_json appends ` at line L column C`; useful for syntax errors, noise
/// for a message that already names the field.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Order {
        lines: Vec<Line>,
        note: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Line {
        sku: String,
        quantity: u32,
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        let e =
            decode::<Order>(br#"{"lines":[{"sku":"a","quantity":-1}]}"#).expect_err("must fail");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.errors()[0].field, "lines[0].quantity");

        let e = decode::<Order>(br#"{"lines":[{"sku":"a"}]}"#).expect_err("must fail");
        assert_eq!(e.errors()[0].field, "lines[0].quantity");
        assert_eq!(e.errors()[0].detail, "missing field `quantity`");

        let e = decode::<Order>(br#"{}"#).expect_err("must fail");
        assert_eq!(e.errors()[0].field, "lines");

        let e = decode::<Order>(br#"{"lines":[],"extra":1}"#).expect_err("must fail");
        assert_eq!(e.errors()[0].field, "extra");

        let e = decode::<Order>(br#""text""#).expect_err("must fail");
        assert_eq!(e.errors()[0].field, "$");
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        for body in [&b""[..], b"{", b"{\"lines\":[]} x", b"nope"] {
            let e = decode::<Order>(body).expect_err("must fail");
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{body:?}");
        }
        assert!(
            decode::<Order>(b"")
                .expect_err("must fail")
                .detail()
                .contains("empty")
        );
    }

    #[test]
    fn json_content_types() {
        let mut h = HeaderMap::new();
        assert!(!is_json(&h));
        for (value, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
        ] {
            h.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&h), ok, "{value}");
        }
    }
}
